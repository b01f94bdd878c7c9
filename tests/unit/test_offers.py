"""Offers: pools parsed strictly, ranked per person (interest, weight, order), valid at the send instant, limited per
person, tracked with their topic, recorded once when the gate marks the mail sent; and every mail CSS-inlined."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from closedloop import sending
from closedloop.adapters.templates import JinjaRenderer, environment
from closedloop.config import load_config, parse_config
from closedloop.content import check_content
from closedloop.errors import ConfigError, TemplateError
from closedloop.offers import Offer, OfferPools, load_pools, parse_pool, rank, read_pools
from closedloop.profiles import Profile
from closedloop.sending import Outcome, SendRequest
from tests.fakes import FakeLedger, FakeLinkSets, FakeMailer, FakeProfiles, FakeSendQueue, FakeSuppressions
from tests.unit.conftest import CONTENT

BASE = "https://links.example.test"
NOW = datetime(2026, 11, 22, 10, tzinfo=UTC)
TOPICS = frozenset({"travel", "cars", "tips"})


def offer(offer_id: str, topic: str = "travel", weight: float = 1, **extra) -> Offer:
    return Offer(
        offer_id, topic, offer_id.title(), "text", f"https://shop.example.com/{offer_id}", weight=weight, **extra
    )


def profile(interests=None, sent=None, **attributes) -> Profile:
    ada = Profile("p-ada", "ada@example.net", "subscribed", attributes, dict(interests or {}))
    ada.offers_sent = dict(sent or {})
    return ada


@pytest.fixture
def renderer(signer):
    return JinjaRenderer(CONTENT / "templates", signer, BASE, "news@example.com")


def digest(renderer, person, now=NOW):
    return renderer.render(SendRequest("k", person.profile_id, "offers-digest", "m1", {}), person, now)


# Ranking


def test_offers_rank_by_the_persons_interest_in_their_topic_first():
    pool = [offer("reef", "travel", weight=5), offer("tyres", "cars", weight=1)]
    assert [o.id for o in rank(pool, {"cars": 2, "travel": 1}, {}, NOW, 3)] == ["tyres", "reef"]


def test_equal_interest_ranks_by_weight_then_by_the_order_of_the_pool():
    pool = [offer("a", weight=1), offer("b", weight=2), offer("c", weight=1), offer("d", "cars", weight=2)]
    # No interests at all: weight decides, and the pool's order breaks ties.
    assert [o.id for o in rank(pool, {}, {}, NOW, 3)] == ["b", "d", "a", "c"]


def test_a_missing_interest_counts_as_zero():
    pool = [offer("tips-1", "tips", weight=9), offer("reef", "travel")]
    assert [o.id for o in rank(pool, {"travel": 1}, {}, NOW, 3)] == ["reef", "tips-1"]


def test_offers_outside_their_validity_at_the_send_instant_are_skipped():
    pool = [
        offer("ended", valid_until=datetime(2026, 11, 22, 10, tzinfo=UTC)),  # exclusive end: over at 10:00
        offer("later", valid_from=datetime(2026, 11, 22, 10, 0, 1, tzinfo=UTC)),
        offer("now", valid_from=datetime(2026, 11, 22, 10, tzinfo=UTC)),
    ]
    assert [o.id for o in rank(pool, {}, {}, NOW, 3)] == ["now"]


def test_an_offer_sent_max_per_person_times_is_not_shown_to_that_person_again():
    pool = [offer("reef"), offer("rail")]
    assert [o.id for o in rank(pool, {}, {"reef": 3, "rail": 2}, NOW, 3)] == ["rail"]


def test_choose_takes_the_first_n_and_refuses_an_unknown_pool_or_a_bad_count():
    pools = OfferPools({"deals": (offer("a"), offer("b"), offer("c"))})
    assert [o.id for o in pools.choose("deals", 2, interests={}, sent={}, now=NOW)] == ["a", "b"]
    with pytest.raises(TemplateError, match="no offer pool named 'nope'.*known: deals"):
        pools.choose("nope", 3, interests={}, sent={}, now=NOW)
    for count in (0, 21, "3", True):
        with pytest.raises(TemplateError, match="whole number from 1 to 20"):
            pools.choose("deals", count, interests={}, sent={}, now=NOW)


# In a template


def test_the_digest_lists_the_offers_of_the_topic_the_person_clicks_most_first(renderer):
    mail, links = digest(renderer, profile({"cars": 5, "travel": 1}, first_name="Ada"))
    assert links.offers == ("c-ev-weekend", "c-tyres", "c-lease")
    html = mail.html
    assert html.index("electric estate") < html.index("Winter tyres") < html.index("Lease return")
    assert "Reef" not in html and "Hi Ada," in html and "Hi Ada," in mail.text


def test_the_expired_offer_is_skipped_and_the_validity_follows_the_instant_given_not_the_wall_clock(renderer):
    # t-islands-2025 weighs most, but ended on 2025-09-30 (a date: through that day, UTC).
    _, links = digest(renderer, profile({"travel": 1}), now=datetime(2025, 9, 30, 23, 59, tzinfo=UTC))
    assert links.offers[0] == "t-islands-2025"
    _, links = digest(renderer, profile({"travel": 1}), now=datetime(2025, 10, 1, tzinfo=UTC))
    assert "t-islands-2025" not in links.offers


def test_without_an_instant_the_renderer_asks_its_injected_clock(signer):
    clocked = JinjaRenderer(
        CONTENT / "templates", signer, BASE, "n@example.com", clock=lambda: datetime(2025, 9, 1, tzinfo=UTC)
    )
    _, links = clocked.render(SendRequest("k", "p-ada", "offers-digest", "m1", {}), profile({"travel": 1}))
    assert links.offers[0] == "t-islands-2025"


def test_an_offers_url_is_tracked_with_its_topic_as_the_interest_action(renderer):
    mail, links = digest(renderer, profile({"cars": 5}))
    actions = {link.url: link.actions for link in links.links}
    assert actions["https://cars.example.com/offers/ev-weekend"] == {"interest": "cars"}
    assert "https://cars.example.com/offers/ev-weekend" not in mail.html  # only the tracked URL is in the mail
    assert mail.text.count(f"{BASE}/r/") == 3 and mail.html.count(f"{BASE}/r/") == 4  # + the honeypot


def test_a_person_without_interests_is_invited_to_choose_and_greeted_without_a_name(renderer):
    mail, _ = digest(renderer, profile())
    assert "We do not know yet what you like" in mail.html and "Hello," in mail.text
    assert f"{BASE}/p/" in mail.html.split("We do not know yet")[1]


def test_an_offer_already_sent_three_times_makes_room_for_the_next(renderer):
    _, links = digest(renderer, profile({"cars": 5}, sent={"c-ev-weekend": 3}))
    assert links.offers == ("c-tyres", "c-lease", "t-reef")


def test_an_unknown_pool_in_a_template_is_a_template_error(scratch):
    with pytest.raises(TemplateError, match="no offer pool named 'nope'"):
        scratch('{% for o in offers("nope", 3) %}{{ o.title }}{% endfor %}').render(
            SendRequest("k", "p-ada", "t", "m1", {}), profile(), NOW
        )


def test_the_gate_records_an_unknown_pool_as_failed_render_and_sends_nothing(signer, scratch):
    profiles, ledger, mailer = FakeProfiles(), FakeLedger(), FakeMailer()
    profiles.add("p-ada")
    result = sending.send(
        SendRequest("api#x#p-ada", "p-ada", "t", "m1", {}),
        profiles=profiles,
        suppressions=FakeSuppressions(),
        ledger=ledger,
        link_sets=FakeLinkSets(),
        renderer=scratch('{{ offers("nope", 3) }}'),
        mailer=mailer,
        queue=FakeSendQueue(),
        now=NOW,
    )
    assert result.outcome is Outcome.FAILED_RENDER and "no offer pool named 'nope'" in result.reason
    assert mailer.sent == [] and ledger.send_state("api#x#p-ada") is None


# Recorded when sent


@pytest.fixture
def gate(signer):
    profiles, mailer = FakeProfiles(), FakeMailer()
    ledger = FakeLedger(profiles)
    profiles.add("p-ada", first_name="Ada")
    profiles.items["p-ada"]["interests"] = {"cars": 5}
    renderer = JinjaRenderer(CONTENT / "templates", signer, BASE, "news@example.com")

    def send(key: str, message_id: str = "m1"):
        return sending.send(
            SendRequest(key, "p-ada", "offers-digest", message_id, {}),
            profiles=profiles,
            suppressions=FakeSuppressions(),
            ledger=ledger,
            link_sets=FakeLinkSets(),
            renderer=renderer,
            mailer=mailer,
            queue=FakeSendQueue(),
            now=NOW,
        )

    return send, profiles, mailer


def test_a_sent_mail_adds_its_offers_to_the_profile_once_even_when_the_request_comes_again(gate):
    send, profiles, mailer = gate
    assert send("api#digest-1#p-ada").outcome is Outcome.SENT
    assert send("api#digest-1#p-ada").outcome is Outcome.DUPLICATE
    assert len(mailer.sent) == 1
    assert profiles.get("p-ada").offers_sent == {"c-ev-weekend": 1, "c-tyres": 1, "c-lease": 1}


def test_after_three_digests_the_same_offers_give_way_to_others(gate):
    send, profiles, mailer = gate
    for n in range(4):
        assert send(f"api#digest-{n}#p-ada", f"m{n}").outcome is Outcome.SENT
    assert profiles.get("p-ada").offers_sent["c-ev-weekend"] == 3
    assert "electric estate" not in mailer.sent[3].html and "Reef" in mailer.sent[3].html


def test_a_mail_that_failed_leaves_offers_sent_alone(gate):
    send, profiles, mailer = gate
    mailer.fail_with = ConnectionResetError("dropped")
    assert send("api#digest-1#p-ada").outcome is Outcome.POSSIBLY_SENT
    assert profiles.get("p-ada").offers_sent == {}


# CSS inlining


@pytest.fixture
def scratch(tmp_path: Path, signer):
    """A content folder of one template `t` (with the fixture config and pools), whose body.html is given."""
    shutil.copytree(CONTENT / "config", tmp_path / "config")
    shutil.copytree(CONTENT / "offers", tmp_path / "offers")
    folder = tmp_path / "templates" / "t"

    def make(body_html: str) -> JinjaRenderer:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "subject.txt").write_text("Hi")
        (folder / "body.txt").write_text("text {{ track('https://shop.example.com/t') }}")
        (folder / "body.html").write_text(body_html)
        environment.cache_clear()
        load_pools.cache_clear()
        return JinjaRenderer(tmp_path / "templates", signer, BASE, "news@example.com")

    yield make
    environment.cache_clear()
    load_pools.cache_clear()


STYLED = """<!doctype html><html><head><style>
.cta { color: #ffffff; background: #1d4ed8 }
@media (max-width: 600px) { .cta { display: block !important } }
</style></head><body>
<p class="cta" style="padding: 4px">Go</p>
<a class="cta" href="{{ track('https://shop.example.com/x', interest='cars') }}">x</a>
<a href="{{ honeypot_url() }}" aria-hidden="true" tabindex="-1" style="display:none"></a>
<table role="presentation" width="1" height="1" background="{{ open_pixel_url() }}"><tr><td></td></tr></table>
</body></html>"""


def test_a_style_rule_is_inlined_into_the_elements_it_applies_to_and_their_own_style_wins(scratch):
    mail, _ = scratch(STYLED).render(SendRequest("k", "p-ada", "t", "m1", {}), profile(), NOW)
    assert '<p class="cta" style="color: #ffffff;background: #1d4ed8;padding: 4px">' in mail.html


def test_media_queries_stay_in_a_style_element_for_the_clients_that_use_them(scratch):
    mail, _ = scratch(STYLED).render(SendRequest("k", "p-ada", "t", "m1", {}), profile(), NOW)
    assert "@media (max-width: 600px)" in mail.html.split("</style>")[0]
    assert ".cta { color" not in mail.html  # the inlined rules are not kept twice


def test_tracked_links_the_honeypot_and_the_open_pixel_survive_inlining(scratch):
    mail, links = scratch(STYLED).render(SendRequest("k", "p-ada", "t", "m1", {}), profile(), NOW)
    assert "\x00" not in mail.html
    tracked = [part.split('"')[0] for part in mail.html.split('href="')[1:]]
    assert len(tracked) == 2 and all(url.startswith(f"{BASE}/r/k1.m1.p-ada.{links.link_set}.") for url in tracked)
    assert 'aria-hidden="true"' in mail.html and 'style="display:none"' in mail.html
    assert f'background="{BASE}/o/k1.m1.p-ada.' in mail.html
    assert mail.text.startswith(f"text {BASE}/r/")  # the text part is never parsed as HTML


def test_every_shipped_fixture_mail_is_inlined_without_losing_its_links(renderer):
    mail, links = digest(renderer, profile({"travel": 2}))
    assert mail.html.startswith("<!DOCTYPE html>") and 'style="' in mail.html.split('class="offer-title"')[1][:20]
    assert mail.html.count(f"{BASE}/r/") == len(links.links)


# Parsing


def pool(**fields) -> dict:
    return {
        "offers": [
            {"id": "reef", "topic": "travel", "title": "Reef", "text": "t", "url": "https://a.example/x"} | fields
        ]
    }


@pytest.mark.parametrize(
    "fields, sentence",
    [
        ({"price": 5}, 'unknown key "price"'),
        ({"weight": "high"}, "offer 1 'reef': \"weight\" must be a number >= 0"),
        ({"weight": True}, '"weight" must be a number'),
        ({"topic": "boats"}, "offer 1 'reef': \"topic\" must be a configured [[topics]] id or interest counter name"),
        ({"url": "javascript:alert(1)"}, '"url" must be an absolute http(s) URL'),
        ({"image": "/img.png"}, '"image" must be an absolute http(s) URL'),
        ({"title": "two\nlines"}, '"title" must be one line'),
        ({"title": 5}, '"title" must be text'),
        ({"valid_until": "next week"}, '"valid_until" must be a date'),
        ({"valid_from": datetime(2026, 1, 1)}, '"valid_from" needs a time zone'),
        ({"valid_from": "2026-02-01", "valid_until": "2026-01-01"}, '"valid_until" must be later than "valid_from"'),
        ({"id": "Reef Deal"}, '"id" must look like'),
    ],
)
def test_a_bad_offer_is_refused_with_a_sentence_naming_the_file_and_the_offer(fields, sentence):
    with pytest.raises(ConfigError) as refused:
        parse_pool("deals", pool(**fields), TOPICS)
    assert refused.value.message.startswith("offers/deals.toml: offer 1")
    assert sentence in refused.value.message


def test_a_pool_refuses_a_missing_field_duplicate_ids_and_unknown_sections():
    with pytest.raises(ConfigError, match='offers/deals.toml: offer 1 needs "url"'):
        parse_pool("deals", {"offers": [{"id": "a", "topic": "travel", "title": "A", "text": "t"}]}, TOPICS)
    twice = {"offers": pool()["offers"] * 2}
    with pytest.raises(ConfigError, match="offers/deals.toml: offer id 'reef' is used twice"):
        parse_pool("deals", twice, TOPICS)
    with pytest.raises(ConfigError, match='unknown section "offer"'):
        parse_pool("deals", {"offer": []}, TOPICS)
    with pytest.raises(ConfigError, match="at least one"):
        parse_pool("deals", {"offers": []}, TOPICS)


def test_dates_and_instants_are_read_as_utc_and_a_closing_date_includes_its_day():
    (parsed,) = parse_pool("deals", pool(valid_from="2026-03-01T09:00:00+01:00", valid_until="2026-03-31"), TOPICS)
    assert parsed.valid_from == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert parsed.valid_until == datetime(2026, 4, 1, tzinfo=UTC)
    assert parsed.weight == 1 and parsed.image is None


def test_an_offer_id_is_unique_across_pools(tmp_path):
    for name in ("deals", "extras"):
        (tmp_path / f"{name}.toml").write_text(
            '[[offers]]\nid = "reef"\ntopic = "travel"\ntitle = "R"\ntext = "t"\nurl = "https://a.example/"\n'
        )
    with pytest.raises(ConfigError, match="offers/extras.toml: offer id 'reef' is already used in offers/deals.toml"):
        read_pools(tmp_path, TOPICS)


def test_a_pool_that_is_not_toml_names_its_file(tmp_path):
    (tmp_path / "deals.toml").write_text("[[offers]\n")
    with pytest.raises(ConfigError, match="offers/deals.toml is not valid TOML"):
        read_pools(tmp_path, TOPICS)


def test_the_topics_a_pool_may_name_are_the_configured_topics_and_threshold_counters(tmp_path):
    shutil.copytree(CONTENT / "config", tmp_path / "config")
    (tmp_path / "offers").mkdir()
    (tmp_path / "offers" / "deals.toml").write_text(
        '[[offers]]\nid = "a"\ntopic = "news"\ntitle = "A"\ntext = "t"\nurl = "https://a.example/"\n'
    )
    load_pools.cache_clear()
    assert load_pools(tmp_path).pools["deals"][0].topic == "news"
    assert load_pools(tmp_path).max_per_person == load_config(CONTENT).offers.max_per_person == 3
    load_pools.cache_clear()


def test_the_per_person_limit_is_configured_in_an_offers_section():
    assert parse_config({"offers": {"max_per_person": 5}}).offers.max_per_person == 5
    assert parse_config({}).offers.max_per_person == 3
    with pytest.raises(ConfigError, match="max_per_person must be >= 1"):
        parse_config({"offers": {"max_per_person": 0}})
    with pytest.raises(ConfigError, match='unknown key "limit" in \\[offers\\]'):
        parse_config({"offers": {"limit": 2}})


# The content check


@pytest.fixture
def content(tmp_path):
    for part in ("config", "templates", "offers"):
        shutil.copytree(CONTENT / part, tmp_path / part)
    yield tmp_path
    environment.cache_clear()
    load_pools.cache_clear()


def test_the_content_check_finds_a_template_naming_a_pool_that_does_not_exist(content):
    body = content / "templates" / "offers-digest" / "body.txt"
    body.write_text(body.read_text() + '\n{% for o in offers("dael", 2) %}{{ o.title }}{% endfor %}')
    environment.cache_clear()
    with pytest.raises(ConfigError, match=r"templates/offers-digest/body.txt, line \d+: offers\('dael', …\)"):
        check_content(content)


def test_the_content_check_refuses_a_template_without_its_text_part(content):
    (content / "templates" / "offers-digest" / "body.txt").unlink()
    with pytest.raises(ConfigError, match="templates/offers-digest/ has no body.txt"):
        check_content(content)


def test_the_content_check_refuses_a_broken_pool(content):
    (content / "offers" / "deals.toml").write_text('[[offers]]\nid = "a"\n')
    with pytest.raises(ConfigError, match='offers/deals.toml: offer 1 needs "topic"'):
        check_content(content)
