"""Campaign statistics: shard choice, the names of counts, and how shards merge into the summary."""

from decimal import Decimal

import pytest

from closedloop import campaign_stats
from closedloop.values import CampaignRef
from tests.fakes import FakeCampaignStats

MAIN_A = CampaignRef("c1", "main", "a")
MAIN_B = CampaignRef("c1", "main", "b")
REMINDER = CampaignRef("c1", "reminder")


def test_a_shard_is_the_crc32_of_its_key_modulo_the_shard_count():
    shards = {campaign_stats.shard(f"p-{n}") for n in range(200)}

    assert shards == set(range(campaign_stats.STATS_SHARDS))
    assert campaign_stats.shard("p-1") == campaign_stats.shard("p-1")


def test_a_shard_item_is_keyed_by_campaign_stage_variant_and_shard():
    assert campaign_stats.partition("c1") == "campaign#c1"
    assert campaign_stats.stats_sort_key(MAIN_A, 3) == "stats#main#a#03"
    assert campaign_stats.stats_sort_key(REMINDER, 0) == "stats#reminder#-#00"
    assert campaign_stats.parse_sort_key("stats#reminder#-#00") == ("reminder", "-")
    assert campaign_stats.parse_sort_key("fact#x") is None


def test_counts_must_name_a_metric_and_be_numbers():
    assert campaign_stats.check_counts({"sent": 1, "skipped.topic": 1, "revenue.EUR": Decimal("9.5")})
    for bad in ({"sends": 1}, {"skipped": 1}, {"sent.x": 1}, {"sent": 1.5}, {"sent": True}):
        with pytest.raises(ValueError):
            campaign_stats.check_counts(bad)


def test_a_per_link_counter_leaves_out_the_query_and_the_fragment():
    assert campaign_stats.link_counter("https://example.com/trip?u=p-1#top") == "links.https://example.com/trip"


def test_an_empty_summary_shows_every_metric_at_zero():
    summary = campaign_stats.merge([])

    assert summary == {"total": campaign_stats.empty(), "stages": {}}
    assert summary["total"]["skipped"] == {reason: 0 for reason in campaign_stats.SKIP_REASONS}
    assert {"targeted", "sent", "opens_unique", "conversions", "links", "revenue"} <= set(summary["total"])


def test_shards_merge_into_variant_stage_and_campaign_totals():
    summary = campaign_stats.merge(
        [
            ("main", "a", {"sent": 2, "links.https://e.com/x": 1}),
            ("main", "a", {"sent": 3, "skipped.topic": 1}),
            ("main", "b", {"sent": 4, "revenue.EUR": Decimal("10.25")}),
            ("reminder", "-", {"sent": 1, "revenue.EUR": Decimal("1.75"), "skipped.paused_forever": 1}),
        ]
    )

    assert summary["stages"]["main"]["variants"]["a"]["sent"] == 5
    assert summary["stages"]["main"]["variants"]["a"]["links"] == {"https://e.com/x": 1}
    assert summary["stages"]["main"]["total"]["sent"] == 9
    assert summary["stages"]["reminder"]["variants"] == {}
    assert summary["total"]["sent"] == 10
    assert summary["total"]["revenue"] == {"EUR": 12}
    assert summary["stages"]["main"]["total"]["revenue"] == {"EUR": 10.25}
    assert summary["total"]["skipped"]["topic"] == 1 and summary["total"]["skipped"]["paused_forever"] == 1


def test_a_fact_is_counted_once_and_different_facts_all_count():
    stats = FakeCampaignStats()

    first = stats.add(MAIN_A, {"targeted": 10}, fact="targeted#main#page-1", shard_of="page-1")
    again = stats.add(MAIN_A, {"targeted": 10}, fact="targeted#main#page-1", shard_of="page-1")
    stats.add(MAIN_A, {"targeted": 5}, fact="targeted#main#page-2", shard_of="page-2")

    assert (first, again) == (True, False)
    assert stats.summary("c1")["total"]["targeted"] == 15
