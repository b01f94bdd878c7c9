"""Campaign definitions (checked whole at create), the lifecycle's transitions, and dispatch on fakes."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from closedloop import campaigns, dispatch
from closedloop.errors import InvalidInput, TemplateNotFound
from closedloop.sending import Outcome, SendRequest
from closedloop.values import CampaignRef
from tests.fakes import FakeLedger
from tests.unit.campaign_world import NOW, World, iso, profile

BASE = {"name": "Spring", "template": "newsletter", "rules": {"field": "status", "op": "==", "value": "subscribed"}}
AB = {"test_share": 0.2, "metric": "human_clicks", "wait": "4h"}
VARIANTS = [{"id": "a", "subject": "A"}, {"id": "b", "subject": "B"}]


def parse(**changes):
    body = {**BASE, **changes}
    body = {k: v for k, v in body.items() if v is not None}
    return campaigns.parse_definition(
        body,
        template_exists=lambda name: name in ("newsletter", "reminder"),
        segment_exists=lambda segment_id: segment_id == "vip",
        topics=("news", "travel"),
        now=NOW,
    )


# --- definitions ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"send_at": iso(NOW - timedelta(minutes=1))}, "send_at is in the past"),
        ({"send_at": "tomorrow"}, "send_at must be an ISO 8601"),
        ({"variants": VARIANTS, "ab": {**AB, "test_share": 1}}, "ab.test_share"),
        ({"variants": VARIANTS, "ab": {**AB, "test_share": 0}}, "ab.test_share"),
        ({"variants": VARIANTS, "ab": {**AB, "holdout_share": 0.8}}, "test_share + holdout_share"),
        ({"variants": VARIANTS[:1], "ab": AB}, "at least 2 variants"),
        ({"ab": AB}, "at least 2 variants"),
        ({"variants": [{"id": "a", "subject": "x"}, {"id": "a", "subject": "y"}]}, "variants[1].id"),
        ({"variants": [{"id": "A!", "subject": "x"}]}, "variants[0].id"),
        ({"variants": [{"id": "a"}]}, 'variants[0] needs a "subject" or a "template"'),
        ({"variants": VARIANTS, "ab": {**AB, "metric": "opens"}}, "ab.metric"),
        ({"variants": VARIANTS, "ab": {**AB, "wait": "soon"}}, "ab.wait"),
        ({"rules": {"field": "attributes.country", "op": "=~", "value": "DE"}}, "rules.op"),
        ({"segment": "vip"}, "exactly one of"),
        ({"topic": "cooking"}, "topic must be one of"),
        ({"stages": [{"id": "r", "after": "3d", "template": "reminder"}]}, 'needs a "goal"'),
        ({"goal": {"click": True}, "stages": [{"id": "main", "after": "3d", "template": "reminder"}]}, "stages[0].id"),
        ({"goal": {"click": True}, "stages": [{"id": "r", "template": "reminder"}]}, 'exactly one of "after"'),
        (
            {
                "goal": {"click": True},
                "stages": [{"id": "r", "at": iso(NOW - timedelta(hours=1)), "template": "reminder"}],
            },
            "stages[0].at must lie after",
        ),
        ({"goal": {"click": True}, "stages": [{"id": "winner", "after": "3d", "template": "reminder"}]}, "reserved"),
        ({"goal": {"click": True}, "stages": [{"id": "holdout", "after": "3d", "template": "reminder"}]}, "reserved"),
        ({"variants": [{"id": "-", "subject": "x"}, {"id": "b", "subject": "y"}]}, "variants[0].id"),
        ({"variants": VARIANTS, "ab": {**AB, "wait": "5w"}}, "ab.wait may be at most 30 days"),
        ({"goal": {"click": True}, "stages": [{"id": "r", "after": "31d", "template": "reminder"}]}, "at most 30"),
        (
            {
                "goal": {"click": True},
                "stages": [{"id": "r", "at": iso(NOW + timedelta(days=40)), "template": "reminder"}],
            },
            "stages[0].at may lie at most 30 days",
        ),
        ({"goal": {"event": "Purchase!"}}, "goal must be"),
        ({"name": ""}, "name must be text"),
        ({"colour": "red"}, "unknown field(s): colour"),
    ],
)
def test_a_bad_definition_is_refused_with_a_sentence_naming_the_field(changes, named):
    with pytest.raises(InvalidInput) as refused:
        parse(**changes)
    assert named in refused.value.message


def test_unknown_templates_and_segments_are_refused_as_not_found():
    with pytest.raises(TemplateNotFound):
        parse(template="nope")
    with pytest.raises(TemplateNotFound, match=r"stages\[0\].template"):
        parse(goal={"click": True}, stages=[{"id": "r", "after": "3d", "template": "nope"}])
    with pytest.raises(campaigns.SegmentNotFound):
        parse(rules=None, segment="nobody")


def test_a_full_definition_is_normalised():
    definition = parse(
        variants=VARIANTS,
        ab={**AB, "holdout_share": 0.05},
        goal={"event": "purchase"},
        stages=[{"id": "reminder", "after": "3d", "template": "reminder", "to": "not_converted"}],
        topic="news",
        send_at="2026-03-02T09:00:00+01:00",
    )
    assert definition["send_at"] == "2026-03-02T08:00:00Z"
    assert definition["ab"] == {"test_share": 0.2, "holdout_share": 0.05, "metric": "human_clicks", "wait": "4h"}
    assert definition["stages"][0]["to"] == "not_converted"


# --- transitions ------------------------------------------------------------------------------------------------


def test_sending_twice_or_after_cancel_is_refused_and_sends_nothing_more():
    world = World([profile(n) for n in range(5)])
    campaign_id = world.create()
    world.send(campaign_id)
    with pytest.raises(campaigns.WrongState) as again:
        world.send(campaign_id)
    assert again.value.code == "campaign_already_sending"

    cancelled_id = world.create()
    world.dispatch().cancel(world.store.get(cancelled_id))
    with pytest.raises(campaigns.WrongState) as refused:
        world.send(cancelled_id)
    assert refused.value.code == "campaign_cancelled" and refused.value.status == 409
    assert world.store.get(cancelled_id)["status"] == "cancelled"


def test_pause_and_resume_need_the_right_state():
    world = World([profile(1)])
    campaign_id = world.create()
    with pytest.raises(campaigns.WrongState, match="not sending"):
        world.dispatch().pause(world.store.get(campaign_id))
    with pytest.raises(campaigns.WrongState, match="not paused"):
        world.dispatch().resume(world.store.get(campaign_id))


def test_an_unknown_campaign_id_is_not_found():
    with pytest.raises(campaigns.CampaignNotFound):
        campaigns.get(World([]).store, "c_000000000000000000000000")


# --- dispatch ---------------------------------------------------------------------------------------------------


def test_every_subscribed_profile_gets_one_request_and_the_campaign_ends_sent():
    people = [profile(n) for n in range(57)] + [profile(100, status="unsubscribed")]
    world = World(people)
    campaign_id = world.create(topic="news", context={"season": "spring"})
    world.send(campaign_id)
    world.run()
    keys = world.keys()
    assert sorted(keys) == sorted(f"campaign#{campaign_id}#main#p{n:05d}" for n in range(57))
    request = world.send_queue.requests[0]
    assert request.campaign == CampaignRef(campaign_id, "main", None)
    assert (request.topic, request.context, request.template) == ("news", {"season": "spring"}, "newsletter")
    campaign = world.store.get(campaign_id)
    assert campaign["status"] == "sent" and campaign["audience_total"] == 57
    assert world.stats.targeted() == 57


def test_a_segment_that_matches_nobody_ends_sent_with_zero_targeted():
    world = World([profile(n, country="FR") for n in range(5)])
    campaign_id = world.create(rules={"field": "attributes.country", "op": "==", "value": "DE"})
    world.send(campaign_id)
    world.run()
    assert world.keys() == []
    assert world.store.get(campaign_id)["status"] == "sent"
    assert world.store.get(campaign_id)["audience_total"] == 0


def test_every_job_delivered_twice_queues_no_recipient_twice_beyond_what_the_gate_absorbs():
    world = World([profile(n) for n in range(40)])
    campaign_id = world.create()
    world.send(campaign_id)
    ran = 0
    while world.queue.items:
        job, _ = world.queue.items.pop(0)
        world.dispatch().handle(job)
        world.dispatch().handle(dict(job))  # the queue delivers it again
        ran += 1
    assert set(world.keys()) == {f"campaign#{campaign_id}#main#p{n:05d}" for n in range(40)}
    assert world.status(campaign_id) == "sent"


def test_ab_test_groups_have_exact_sizes_then_the_winner_goes_to_the_rest():
    world = World([profile(n) for n in range(200)])
    campaign_id = world.create(variants=VARIANTS, ab={**AB, "holdout_share": 0.05})
    world.send(campaign_id)
    world.run()
    main = world.send_queue.requests
    assert len(main) == 40
    assert Counter(r.campaign.variant for r in main) == {"a": 20, "b": 20}
    assert {r.subject for r in main} == {"A", "B"}
    holdouts = [k for k in world.store.ledger if k.startswith(f"holdout#{campaign_id}#")]
    assert len(holdouts) == 10
    assert f"{campaign_id}-winner" in world.schedules.items
    assert world.status(campaign_id) == "sending"

    world.stats.summaries[campaign_id] = {
        "stages": {
            "main": {
                "variants": {"a": {"sent": 20, "clicks_human_unique": 1}, "b": {"sent": 20, "clicks_human_unique": 5}}
            }
        }
    }
    world.fire_schedules()
    rest = world.send_queue.requests[40:]
    assert len(rest) == 150 and {r.campaign.variant for r in rest} == {"b"}
    everyone = {r.profile_id for r in world.send_queue.requests}
    assert len(everyone) == 190 and not everyone & {k.split("#")[-1] for k in holdouts}
    assert world.store.get(campaign_id)["winner"] == "b"
    assert world.status(campaign_id) == "sent"


def test_variants_without_a_test_split_the_whole_audience_evenly():
    world = World([profile(n) for n in range(31)])
    campaign_id = world.create(variants=VARIANTS)
    world.send(campaign_id)
    world.run()
    assert sorted(Counter(r.campaign.variant for r in world.send_queue.requests).values()) == [15, 16]


def test_a_reminder_stage_leaves_out_who_converted_and_the_holdout():
    world = World([profile(n) for n in range(100)])
    campaign_id = world.create(
        variants=VARIANTS,
        ab={**AB, "test_share": 0.5, "holdout_share": 0.1},
        goal={"click": True},
        stages=[{"id": "reminder", "after": "3d", "template": "reminder"}],
    )
    world.send(campaign_id)
    world.run()
    world.store.ledger[f"converted#{campaign_id}#p00003"] = {"profile_id": "p00003"}
    world.store.ledger[f"converted#{campaign_id}#p00004"] = {"profile_id": "p00004"}
    world.fire_schedules()
    reminders = [r for r in world.send_queue.requests if r.campaign.stage == "reminder"]
    held_out = {k.split("#")[-1] for k in world.store.ledger if k.startswith("holdout#")}
    assert len(held_out) == 10
    expected = {f"p{n:05d}" for n in range(100)} - held_out - {"p00003", "p00004"}
    assert {r.profile_id for r in reminders} == expected and len(reminders) == len(expected)
    assert {r.template for r in reminders} == {"reminder"}
    assert world.status(campaign_id) == "sent"


def test_pause_parks_page_jobs_and_resume_sends_each_recipient_once():
    world = World([profile(n) for n in range(60)])
    campaign_id = world.create()
    world.send(campaign_id)
    world.run(limit=6)  # the audience is partly scanned
    world.dispatch().pause(world.store.get(campaign_id))
    world.run()
    assert world.store.has_parked(campaign_id)
    before = len(world.keys())
    world.dispatch().resume(world.store.get(campaign_id))
    world.run()
    assert len(world.keys()) > before
    assert sorted(world.keys()) == sorted(f"campaign#{campaign_id}#main#p{n:05d}" for n in range(60))
    assert world.status(campaign_id) == "sent"


def test_cancel_stops_the_pages_and_deletes_pending_schedules():
    world = World([profile(n) for n in range(60)])
    campaign_id = world.create(send_at=iso(NOW + timedelta(days=1)))
    assert world.send(campaign_id)["status"] == "scheduled"
    assert f"{campaign_id}-start" in world.schedules.items
    world.dispatch().cancel(world.store.get(campaign_id))
    assert world.schedules.items == {}
    world.queue.enqueue([{"kind": "start", "campaign": campaign_id}])
    world.run()
    assert world.keys() == []


def test_a_scheduled_campaign_starts_when_its_schedule_fires():
    world = World([profile(n) for n in range(5)])
    campaign_id = world.create(send_at=iso(NOW + timedelta(hours=2)))
    world.send(campaign_id)
    world.fire_schedules()
    assert len(world.keys()) == 5 and world.status(campaign_id) == "sent"


def test_pages_are_paced_by_the_send_rate():
    world = World([profile(n) for n in range(100)], rate=2.0, segments=1, page=20)
    campaign_id = world.create()
    world.send(campaign_id)
    world.run()
    delays = [delay for _, delay in world.send_queue.items]
    assert len(world.keys()) == 100
    # 20 per page at 2 a second: batches 0, 5 s apart within a page, pages 10 s apart (the clock moved with them)
    assert max(delays) <= dispatch.MAX_DELAY and sorted(set(delays))[:2] == [0, 5]
    assert world.now >= NOW + timedelta(seconds=40)


def test_throttles_slow_the_rate_down():
    world = World([], rate=10.0)
    campaign_id = world.create()
    world.store.campaigns[campaign_id]["throttles"] = 3
    assert world.dispatch()._rate(world.store.get(campaign_id)) == pytest.approx(10 * 0.8**3)


def test_the_gate_skips_a_cancelled_campaigns_request_and_parks_a_paused_ones():
    world = World([])
    campaign_id = world.create()
    request = SendRequest("k", "p1", "newsletter", campaign=CampaignRef(campaign_id, "main"))
    ledger = FakeLedger()
    assert dispatch.gate(request, "sending", world.store, ledger, NOW) is None
    skipped = dispatch.gate(request, "cancelled", world.store, ledger, NOW)
    assert skipped.outcome is Outcome.CANCELLED
    assert ledger.get_message_status(request.message_id).reason == "campaign_cancelled"
    parked = dispatch.gate(request, "paused", world.store, ledger, NOW)
    assert parked.outcome is Outcome.HELD and world.store.has_parked(campaign_id)
    assert dispatch.gate(SendRequest("k2", "p1", "newsletter"), "cancelled", world.store, ledger, NOW) is None
