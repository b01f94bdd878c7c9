"""The sending pause: the gate holds marketing mail, resuming releases it through the gate again, exactly once."""

import pytest

from closedloop import pause, sending
from closedloop.adapters.templates import JinjaRenderer
from closedloop.errors import InvalidInput
from closedloop.sending import Outcome, SendRequest
from closedloop.suppression import ErasureKeys
from tests.fakes import (
    FakeLedger,
    FakeLinkSets,
    FakeMailer,
    FakeProfiles,
    FakeReleaseQueue,
    FakeSendingControl,
    FakeSendQueue,
    FakeSuppressions,
)
from tests.unit.conftest import CONTENT

ERASURE = ErasureKeys.from_secret({"current": "e1", "e1": "unit-erasure-key"})


class World:
    def __init__(self, signer, now) -> None:
        self.profiles, self.ledger, self.mailer = FakeProfiles(), FakeLedger(), FakeMailer()
        self.suppressions, self.queue, self.release_queue = FakeSuppressions(), FakeSendQueue(), FakeReleaseQueue()
        self.control = FakeSendingControl(self.suppressions, self.ledger)
        self.renderer = JinjaRenderer(CONTENT / "templates", signer, "https://links.example.test", "news@example.com")
        self.now = now
        for profile_id in ("p-ada", "p-bob"):
            self.profiles.add(profile_id, first_name="Ada")

    def send(self, request: SendRequest) -> sending.SendResult:
        return sending.send(
            request,
            profiles=self.profiles,
            suppressions=self.suppressions,
            ledger=self.ledger,
            link_sets=FakeLinkSets(),
            renderer=self.renderer,
            mailer=self.mailer,
            queue=self.queue,
            now=self.now,
            erasure=ERASURE,
            control=self.control,
        )

    def drain(self) -> list[Outcome]:
        """Deliver everything on the send queue to the gate, as the sender would."""
        outcomes = []
        while self.queue.items:
            request, _ = self.queue.items.pop(0)
            outcomes.append(self.send(request).outcome)
        return outcomes

    def release(self, out_of_time=lambda: False) -> dict:
        (job,) = self.release_queue.jobs
        self.release_queue.jobs.clear()
        return pause.release(
            job,
            control=self.control,
            send_queue=self.queue,
            release_queue=self.release_queue,
            out_of_time=out_of_time,
        )


@pytest.fixture
def world(signer, now):
    return World(signer, now)


def newsletter(profile_id="p-ada", message_id="m1"):
    return SendRequest(f"api#news#{profile_id}", profile_id, "newsletter-demo", message_id)


def test_while_paused_marketing_mail_is_held_not_sent_and_its_status_says_held(world):
    pause.pause(world.control, "list cleanup", world.now)
    result = world.send(newsletter())
    assert (result.outcome, result.reason) == (Outcome.HELD, "sending_paused")
    assert world.mailer.sent == [] and world.ledger.send_state("api#news#p-ada") is None
    assert world.ledger.get_message_status("m1").to_api()["state"] == "held"
    assert pause.state(world.control) == {
        "paused": True,
        "reason": "list cleanup",
        "since": "2026-11-22T10:00:00Z",
        "held": 1,
    }


def test_a_transactional_mail_still_goes_out_while_paused(world):
    pause.pause(world.control, "list cleanup", world.now)
    confirmation = SendRequest("confirm#p-ada", "p-ada", "newsletter-demo", "m2", transactional=True)
    assert world.send(confirmation).outcome is Outcome.SENT
    assert [m.to for m in world.mailer.sent] == ["p-ada@example.net"]


def test_a_redelivered_held_message_is_held_once(world):
    pause.pause(world.control, "list cleanup", world.now)
    assert [world.send(newsletter()).outcome for _ in range(3)] == [Outcome.HELD] * 3
    assert pause.state(world.control)["held"] == 1


def test_resume_releases_every_held_message_through_the_gate_and_each_is_sent_exactly_once(world):
    pause.pause(world.control, "list cleanup", world.now)
    world.send(newsletter("p-ada", "m1"))
    world.send(newsletter("p-bob", "m2"))
    assert pause.resume(world.control, world.release_queue) == {
        "paused": False,
        "reason": None,
        "since": None,
        "held": 2,
    }
    assert world.release() == {"released": 2, "finished": True}
    assert world.drain() == [Outcome.SENT, Outcome.SENT]
    assert sorted(m.to for m in world.mailer.sent) == ["p-ada@example.net", "p-bob@example.net"]
    assert (world.ledger.get_message_status("m1").state, pause.state(world.control)["held"]) == ("sent", 0)
    # A release job repeated after a crash (it enqueues before it forgets) sends nothing twice.
    world.queue.enqueue([newsletter("p-ada", "m1")])
    assert world.drain() == [Outcome.DUPLICATE] and len(world.mailer.sent) == 2


def test_a_message_that_went_out_before_the_pause_is_not_held_on_redelivery(world):
    assert world.send(newsletter()).outcome is Outcome.SENT
    pause.pause(world.control, "list cleanup", world.now)
    assert world.send(newsletter()).outcome is Outcome.DUPLICATE
    assert (world.control.held, world.ledger.get_message_status("m1").state) == ({}, "sent")


def test_a_pause_that_ends_between_the_read_and_the_hold_lets_the_message_go(world):
    pause.pause(world.control, "list cleanup", world.now)
    original = world.control.hold

    def resumed_meanwhile(*args):
        world.control.resume()
        return original(*args)

    world.control.hold = resumed_meanwhile
    assert world.send(newsletter()).outcome is Outcome.SENT


def test_an_unsubscribe_while_held_wins_over_the_release(world):
    pause.pause(world.control, "list cleanup", world.now)
    world.send(newsletter())
    world.profiles.set_status("p-ada", "unsubscribed", world.now, {"source": "unsubscribe_link"})
    pause.resume(world.control, world.release_queue)
    world.release()
    assert world.drain() == [Outcome.NO_CONSENT] and world.mailer.sent == []


def test_a_large_backlog_is_released_in_pages_and_continues_in_a_new_job_when_time_runs_out(world):
    pause.pause(world.control, "list cleanup", world.now)
    requests = [SendRequest(f"k{n:03}#p-ada", "p-ada", "newsletter-demo", f"m{n}") for n in range(250)]
    for request in requests:
        world.send(request)
    pause.resume(world.control, world.release_queue)
    first = world.release(out_of_time=lambda: True)
    assert first == {"released": 100, "finished": False, "reason": "continued in a new job"}
    assert world.release_queue.jobs[0]["after"] is not None
    assert world.release() == {"released": 150, "finished": True}
    assert sorted(r.send_key for r in world.queue.requests) == sorted(r.send_key for r in requests)


def test_a_new_pause_stops_the_release_and_the_next_resume_finishes_it(world):
    pause.pause(world.control, "first", world.now)
    world.send(newsletter())
    pause.resume(world.control, world.release_queue)
    pause.pause(world.control, "second", world.now)
    assert world.release() == {"released": 0, "finished": False, "reason": "paused again"}
    pause.resume(world.control, world.release_queue)
    assert world.release()["released"] == 1


def test_a_released_message_held_again_by_a_new_pause_is_not_forgotten_by_the_old_release(world):
    pause.pause(world.control, "first", world.now)
    world.send(newsletter())
    pause.resume(world.control, world.release_queue)
    page, _ = world.control.held_page(None, 10)
    # The release job has put the message back on the queue; a new pause holds it before the job forgets it.
    pause.pause(world.control, "second", world.now)
    assert world.send(page[0].request).outcome is Outcome.HELD
    assert world.control.unhold(page[0]) is False  # the old job's forget leaves the new hold alone
    assert pause.state(world.control)["held"] == 1


def test_pausing_twice_keeps_the_first_reason(world):
    pause.pause(world.control, "first", world.now)
    assert pause.pause(world.control, "second", world.now)["reason"] == "first"


def test_resume_always_queues_a_release_job_so_a_failed_resume_can_be_repeated(world):
    assert pause.resume(world.control, world.release_queue)["paused"] is False
    assert world.release_queue.jobs == [{"after": None}]


@pytest.mark.parametrize(
    "body, reason",
    [(None, "paused by hand"), ({}, "paused by hand"), ({"reason": "  cleanup  "}, "cleanup")],
)
def test_a_pause_body_may_name_a_reason(body, reason):
    assert pause.parse_pause(body) == reason


@pytest.mark.parametrize(
    "body",
    [[], {"reason": 5}, {"reason": ""}, {"reason": "x" * 501}, {"why": "x"}, "pause"],
)
def test_a_bad_pause_body_is_refused(body):
    with pytest.raises(InvalidInput):
        pause.parse_pause(body)


def alarm(metric="Reputation.BounceRate", namespace="AWS/SES", state="ALARM"):
    """The detail of a CloudWatch "Alarm State Change" event (AWS docs, single metric alarm)."""
    return {
        "alarmName": "closedloop-ses-bounce-rate",
        "state": {"value": state, "reason": "Threshold Crossed", "timestamp": "2026-11-22T10:00:00.000+0000"},
        "previousState": {"value": "OK"},
        "configuration": {
            "metrics": [
                {
                    "id": "m1",
                    "metricStat": {
                        "metric": {"namespace": namespace, "name": metric, "dimensions": {}},
                        "period": 300,
                        "stat": "Maximum",
                    },
                    "returnData": True,
                }
            ]
        },
    }


@pytest.mark.parametrize(
    "detail, reason",
    [
        (alarm(), "bounce rate alarm"),
        (alarm("Reputation.ComplaintRate"), "complaint rate alarm"),
        (alarm(state="OK"), None),
        (alarm("Errors", "AWS/Lambda"), None),
        (alarm(namespace="closedloop"), None),
        ({}, None),
    ],
)
def test_only_an_ses_reputation_alarm_in_alarm_pauses_sending(world, detail, reason):
    assert pause.on_alarm(detail, world.control, world.now) == reason
    assert pause.state(world.control)["paused"] is (reason is not None)
    if reason:
        assert pause.state(world.control)["reason"] == reason
