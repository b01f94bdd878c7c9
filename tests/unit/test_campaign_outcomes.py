"""What the send gate did with a campaign's message is counted once: `sent` with the send key, the rest by fact."""

from dataclasses import replace

import pytest

from closedloop import campaign_stats, sending
from closedloop.adapters.templates import JinjaRenderer
from closedloop.sending import Outcome, SendRequest
from closedloop.values import CampaignRef
from tests.fakes import (
    FakeCampaignStats,
    FakeLedger,
    FakeLinkSets,
    FakeMailer,
    FakeProfiles,
    FakeSendQueue,
    FakeSuppressions,
)
from tests.unit.conftest import CONTENT

REF = CampaignRef("c1", "main", "a")


@pytest.fixture
def stats():
    return FakeCampaignStats()


@pytest.fixture
def gate(signer, now, stats):
    """The sender's work for one delivery: the gate, then the outcome counted (functions/sender)."""
    profiles, ledger, mailer = FakeProfiles(), FakeLedger(stats=stats), FakeMailer()
    profiles.add("p-ada", first_name="Ada")
    renderer = JinjaRenderer(CONTENT / "templates", signer, "https://links.example.test", "news@example.com")

    def deliver(request):
        result = sending.send(
            request,
            profiles=profiles,
            suppressions=FakeSuppressions(),
            ledger=ledger,
            link_sets=FakeLinkSets(),
            renderer=renderer,
            mailer=mailer,
            queue=FakeSendQueue(),
            now=now,
        )
        campaign_stats.count_outcome(request, result.outcome.value, stats)
        return result

    return deliver, profiles, ledger, mailer


def campaign_request(profile_id="p-ada", message_id="m1"):
    return SendRequest(
        send_key=f"campaign#c1#main#{profile_id}",
        profile_id=profile_id,
        template="newsletter-demo",
        message_id=message_id,
        campaign=REF,
    )


def variant_a(stats):
    return stats.summary("c1")["stages"]["main"]["variants"]["a"]


def test_a_sent_campaign_mail_counts_once_with_its_send_key_and_notes_the_variant(gate, stats, now):
    deliver, _, ledger, _ = gate
    assert deliver(campaign_request()).outcome is Outcome.SENT
    # a retried mark_sent (the transaction's answer was lost) finds the key sent and counts nothing more
    ledger.mark_sent("campaign#c1#main#p-ada", ledger.get_message_status("m1"), campaign=REF)
    assert variant_a(stats)["sent"] == 1
    assert ledger.items["send#campaign#c1#main#p-ada"]["variant"] == "a"


def test_a_skip_counts_once_per_send_key_however_often_the_queue_delivers_it(gate, stats):
    deliver, profiles, _, _ = gate
    profiles.items["p-ada"]["status"] = "unsubscribed"
    deliver(campaign_request())
    deliver(campaign_request())
    assert variant_a(stats)["skipped"]["no_consent"] == 1
    assert variant_a(stats)["sent"] == 0


def test_a_missing_profile_counts_as_skipped_no_profile(gate, stats):
    deliver, *_ = gate
    assert deliver(campaign_request("p-gone")).outcome is Outcome.NO_PROFILE
    assert stats.summary("c1")["total"]["skipped"]["no_profile"] == 1


def test_each_duplicate_request_stopped_counts_but_a_redelivery_of_one_does_not(gate, stats):
    deliver, *_ = gate
    deliver(campaign_request())
    deliver(campaign_request(message_id="m2"))  # the dispatcher queued the person twice
    deliver(campaign_request(message_id="m2"))  # ... and SQS delivered that twice
    deliver(campaign_request(message_id="m3"))
    assert variant_a(stats)["skipped"]["duplicate"] == 2
    assert variant_a(stats)["sent"] == 1


def test_a_template_that_fails_for_one_recipient_is_counted_as_failed(gate, stats):
    deliver, *_ = gate
    result = deliver(replace(campaign_request(), template="missing-template"))
    assert result.outcome is Outcome.FAILED_RENDER
    assert variant_a(stats)["failed"] == {"render": 1}


def test_a_deferral_counts_once_per_send_key_and_reason(stats):
    request = campaign_request()
    counted = [campaign_stats.count_outcome(request, outcome, stats) for outcome in ("deferred_quiet",) * 2]
    counted.append(campaign_stats.count_outcome(request, "deferred_capped", stats))
    assert counted == [True, False, False]  # one `deferred` per send key: a later cap deferral is the same delay
    assert variant_a(stats)["deferred"] == 1


def test_held_and_throttled_messages_are_not_counted_until_they_end(stats):
    for outcome in ("held", "deferred_throttled", "sent"):
        assert campaign_stats.count_outcome(campaign_request(), outcome, stats) is False
    assert stats.shards == {}


def test_a_message_without_a_campaign_counts_nowhere(stats):
    request = replace(campaign_request(), campaign=None)
    assert campaign_stats.count_outcome(request, "skipped_no_consent", stats) is False
