"""Frequency caps and quiet hours in the send gate: who waits, until when (in the recipient's zone), and where."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from closedloop import deferrals, sending
from closedloop.adapters.templates import JinjaRenderer
from closedloop.clock import isoformat
from closedloop.config import parse_config
from closedloop.errors import ConfigError, InvalidInput
from closedloop.messages import request_message
from closedloop.pacing import Pacing, quiet_until
from closedloop.schedules import run_we_miss_you_check
from closedloop.sending import Outcome, SendRequest
from closedloop.thresholds import fire
from tests.fakes import (
    FakeCapSlots,
    FakeDueItems,
    FakeLedger,
    FakeLinkSets,
    FakeMailer,
    FakeProfiles,
    FakePublisher,
    FakeSendQueue,
    FakeSuppressions,
)
from tests.unit.conftest import CONTENT

NIGHT = time(21), time(8)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- quiet hours: the window's end, in the recipient's zone ------------------------------------------------------


@pytest.mark.parametrize(
    "zone, now, until",
    [
        # 23:00 in Tokyo (UTC+9): the window ends at 08:00 tomorrow there.
        ("Asia/Tokyo", "2026-11-22T14:00:00Z", "2026-11-22T23:00:00Z"),
        # 22:30 in Berlin (CET, UTC+1).
        ("Europe/Berlin", "2026-11-22T21:30:00Z", "2026-11-23T07:00:00Z"),
        # 02:00 in Los Angeles (PST, UTC-8): the morning part of the window ends the same local day.
        ("America/Los_Angeles", "2026-11-22T10:00:00Z", "2026-11-22T16:00:00Z"),
        # Exactly 21:00 in Berlin is quiet.
        ("Europe/Berlin", "2026-11-22T20:00:00Z", "2026-11-23T07:00:00Z"),
    ],
)
def test_inside_the_quiet_window_a_message_waits_until_it_ends_in_the_recipients_zone(zone, now, until):
    assert quiet_until(at(now), ZoneInfo(zone), *NIGHT) == at(until)


@pytest.mark.parametrize(
    "zone, now, until",
    [
        # The night Berlin moves to summer time (29 March 2026): 22:00 CET to 08:00 CEST is nine hours, not ten.
        ("Europe/Berlin", "2026-03-28T21:00:00Z", "2026-03-29T06:00:00Z"),
        # The night it moves back (25 October 2026): 22:00 CEST to 08:00 CET is eleven hours.
        ("Europe/Berlin", "2026-10-24T20:00:00Z", "2026-10-25T07:00:00Z"),
        # Los Angeles moves to PDT on 8 March 2026: 22:00 PST on the 7th to 08:00 PDT on the 8th.
        ("America/Los_Angeles", "2026-03-08T06:00:00Z", "2026-03-08T15:00:00Z"),
    ],
)
def test_the_window_end_is_dst_correct(zone, now, until):
    assert quiet_until(at(now), ZoneInfo(zone), *NIGHT) == at(until)


@pytest.mark.parametrize(
    "now",
    [
        "2026-11-22T23:00:00Z",  # 08:00 in Tokyo: the window has just ended
        "2026-11-22T11:59:59Z",  # 20:59:59 in Tokyo
        "2026-11-22T03:00:00Z",  # noon in Tokyo
    ],
)
def test_outside_the_window_nothing_waits(now):
    assert quiet_until(at(now), ZoneInfo("Asia/Tokyo"), *NIGHT) is None


def test_a_window_within_one_day_and_an_empty_window():
    berlin = ZoneInfo("Europe/Berlin")
    lunch = time(12), time(14)
    assert quiet_until(at("2026-11-22T11:30:00Z"), berlin, *lunch) == at("2026-11-22T13:00:00Z")  # 12:30 CET
    assert quiet_until(at("2026-11-22T13:00:00Z"), berlin, *lunch) is None  # 14:00 CET
    assert quiet_until(at("2026-11-22T22:00:00Z"), berlin, time(8), time(8)) is None  # start = end: none


# --- configuration --------------------------------------------------------------------------------------------


def test_the_defaults_are_three_messages_a_week_and_quiet_from_nine_to_eight():
    config = parse_config({})
    assert (config.frequency_cap.messages, config.frequency_cap.days) == (3, 7)
    assert (config.quiet_hours.start, config.quiet_hours.end) == ("21:00", "08:00")
    assert (config.birthday.capped, config.we_miss_you.capped) == (False, False)


@pytest.mark.parametrize(
    "document, sentence",
    [
        ({"quiet_hours": {"start": "9pm"}}, 'quiet_hours start must be a time like "21:00"'),
        ({"quiet_hours": {"end": "24:00"}}, 'quiet_hours end must be a time like "21:00"'),
        ({"quiet_hours": {"end": 8}}, '"end" in [quiet_hours] must be text'),
        ({"frequency_cap": {"days": 0}}, "frequency_cap days must be 1..366"),
        ({"frequency_cap": {"messages": 0}}, "frequency_cap messages must be 1..20"),
        ({"frequency_cap": {"weeks": 1}}, 'unknown key "weeks" in [frequency_cap]'),
        ({"birthday": {"capped": "yes"}}, '"capped" in [birthday] must be true or false'),
        ({"thresholds": [{"id": "t", "counter": "c", "at": 1, "template": "x", "capped": 1}]}, "true or false"),
    ],
)
def test_a_bad_cap_or_window_is_refused_with_a_sentence(document, sentence):
    with pytest.raises(ConfigError) as raised:
        parse_config(document)
    assert sentence in raised.value.message


def test_automations_opt_in_per_rule():
    config = parse_config(
        {
            "thresholds": [{"id": "t", "counter": "c", "at": 1, "template": "x", "capped": True}],
            "we_miss_you": {"capped": True},
        }
    )
    assert (config.thresholds[0].capped, config.we_miss_you.capped, config.birthday.capped) == (True, True, False)


# --- the gate -------------------------------------------------------------------------------------------------


class Gate:
    def __init__(self, signer, config, when: datetime, deferred: FakeDueItems | None = None) -> None:
        self.profiles, self.ledger, self.mailer, self.queue = (
            FakeProfiles(),
            FakeLedger(),
            FakeMailer(),
            FakeSendQueue(),
        )
        self.slots = FakeCapSlots(self.ledger)
        self.deferred = deferred if deferred is not None else FakeDueItems()
        self.pacing = Pacing(config, self.slots, self.deferred)
        self.renderer = JinjaRenderer(CONTENT / "templates", signer, "https://links.example.test", "news@example.com")
        self.now = when

    def send(self, request: SendRequest) -> sending.SendResult:
        return sending.send(
            request,
            profiles=self.profiles,
            suppressions=FakeSuppressions(),
            ledger=self.ledger,
            link_sets=FakeLinkSets(),
            renderer=self.renderer,
            mailer=self.mailer,
            queue=self.queue,
            now=self.now,
            pacing=self.pacing,
        )

    def status(self, message_id: str) -> dict:
        return self.ledger.get_message_status(message_id).to_api()


def capped(key: str, profile_id: str = "p-1", message_id: str | None = None, **fields) -> SendRequest:
    return SendRequest(
        send_key=key,
        profile_id=profile_id,
        template="newsletter-demo",
        message_id=message_id or f"m-{key}",
        capped=True,
        **fields,
    )


@pytest.fixture
def gate(signer, config):
    return Gate(signer, config, at("2026-11-22T14:00:00Z"))  # 23:00 Tokyo, 15:00 Berlin, 06:00 Los Angeles


def test_a_capped_message_in_tokyos_night_waits_in_the_deferred_table_until_eight_there(gate):
    gate.profiles.add("p-1", timezone="Asia/Tokyo")
    result = gate.send(capped("c#1"))
    assert (result.outcome, result.reason) == (Outcome.DEFERRED_QUIET, "quiet_hours")
    assert gate.mailer.sent == [] and gate.ledger.send_state("c#1") is None
    assert gate.status("m-c#1") | {"updated_at": None} == {
        "message_id": "m-c#1",
        "profile_id": "p-1",
        "template": "newsletter-demo",
        "state": "deferred",
        "reason": "quiet_hours",
        "deferred_until": "2026-11-22T23:00:00Z",
        "updated_at": None,
    }
    [item] = gate.deferred.items.values()
    assert (item.key, isoformat(item.due), SendRequest.from_json(item.body)) == (
        "c#1",
        "2026-11-22T23:00:00Z",
        capped("c#1"),
    )
    assert not any(key.startswith("cap-slot#") for key in gate.ledger.items)  # a quiet message takes no slot


def test_a_wait_within_fifteen_minutes_goes_back_on_the_send_queue_with_a_delay(gate):
    gate.profiles.add("p-1", timezone="America/Los_Angeles")
    gate.now = at("2026-11-22T15:50:00Z")  # 07:50 in Los Angeles
    assert gate.send(capped("c#1")).outcome is Outcome.DEFERRED_QUIET
    assert gate.queue.items == [(capped("c#1"), 600)] and gate.deferred.items == {}


def test_a_profile_without_a_zone_keeps_the_default_zones_night(gate):
    gate.profiles.add("p-1")  # Europe/Berlin, the fixture's [birthday] default_timezone
    gate.now = at("2026-11-22T22:00:00Z")
    assert gate.send(capped("c#1")).outcome is Outcome.DEFERRED_QUIET
    assert gate.status("m-c#1")["deferred_until"] == "2026-11-23T07:00:00Z"


def test_the_deferred_message_goes_out_when_the_tick_hands_it_back_after_the_window(gate):
    gate.profiles.add("p-1", timezone="Asia/Tokyo")
    gate.send(capped("c#1"))
    gate.now = at("2026-11-22T23:00:00Z")
    report = deferrals.run_tick(gate.deferred, gate.queue, gate.now)
    assert (report["handed_on"], report["removed"], gate.deferred.items) == (1, 1, {})
    [(request, delay)] = gate.queue.items
    assert gate.send(request).outcome is Outcome.SENT and delay == 0
    assert gate.status("m-c#1")["state"] == "sent"


def test_transactional_mail_is_exempt_even_when_capped(gate):
    gate.profiles.add("p-1", timezone="Asia/Tokyo")
    request = capped("t#1", transactional=True)
    assert gate.send(request).outcome is Outcome.SENT
    assert not any(key.startswith("cap-slot#") for key in gate.ledger.items)


def test_a_message_that_is_not_capped_is_neither_quiet_nor_counted(gate):
    gate.profiles.add("p-1", timezone="Asia/Tokyo")
    for n in range(5):
        request = SendRequest(send_key=f"n#{n}", profile_id="p-1", template="newsletter-demo", message_id=f"n{n}")
        assert gate.send(request).outcome is Outcome.SENT
    assert gate.slots.writes == 0 and gate.deferred.items == {}


def test_the_fourth_capped_message_in_seven_days_waits_until_the_oldest_slot_frees(gate):
    gate.profiles.add("p-1", timezone="Europe/Berlin")
    first = at("2026-11-20T10:00:00Z")
    for day in range(3):
        gate.now = first + timedelta(days=day)
        assert gate.send(capped(f"c#{day}")).outcome is Outcome.SENT
    gate.now = first + timedelta(days=3)
    result = gate.send(capped("c#3"))
    assert (result.outcome, result.reason) == (Outcome.DEFERRED_CAPPED, "frequency_cap")
    assert gate.status("m-c#3")["deferred_until"] == "2026-11-27T10:00:00Z"  # 11:00 in Berlin: not quiet
    assert len(gate.mailer.sent) == 3
    gate.now = at("2026-11-27T10:00:00Z")
    deferrals.run_tick(gate.deferred, gate.queue, gate.now)
    assert gate.send(gate.queue.requests[-1]).outcome is Outcome.SENT
    # The cap still holds: slots taken on the 21st and 22nd, and now the 27th.
    assert gate.send(capped("c#4")).outcome is Outcome.DEFERRED_CAPPED
    assert gate.status("m-c#4")["deferred_until"] == "2026-11-28T10:00:00Z"


def test_a_redelivered_send_key_finds_its_own_slot_and_takes_no_second_one(gate):
    gate.profiles.add("p-1", timezone="Europe/Berlin")
    gate.now = at("2026-11-20T10:00:00Z")
    assert gate.send(capped("c#a")).outcome is Outcome.SENT
    assert gate.send(capped("c#a")).outcome is Outcome.DUPLICATE  # SQS delivered it again
    assert gate.send(capped("c#b")).outcome is Outcome.SENT
    assert gate.send(capped("c#c")).outcome is Outcome.SENT
    assert gate.send(capped("c#d")).outcome is Outcome.DEFERRED_CAPPED
    holders = sorted(item["send_key"] for key, item in gate.ledger.items.items() if key.startswith("cap-slot#p-1#"))
    assert holders == ["c#a", "c#b", "c#c"]


def test_a_cap_that_frees_in_quiet_hours_waits_until_they_end(gate):
    gate.profiles.add("p-1", timezone="Europe/Berlin")
    first = at("2026-03-25T19:30:00Z")  # 20:30 CET; a week later it is 21:30 CEST, inside the window
    for n in range(3):
        gate.now = first + timedelta(minutes=n)
        gate.send(capped(f"c#{n}"))
    gate.now = first + timedelta(days=1)
    assert gate.send(capped("c#3")).outcome is Outcome.DEFERRED_CAPPED
    assert gate.status("m-c#3")["deferred_until"] == "2026-04-02T06:00:00Z"  # 08:00 CEST


def test_the_cap_counts_per_person(gate):
    for person in ("p-1", "p-2"):
        gate.profiles.add(person, timezone="Europe/Berlin")
    gate.now = at("2026-11-20T10:00:00Z")
    for n in range(3):
        assert gate.send(capped(f"c#{n}#p-1", "p-1")).outcome is Outcome.SENT
    assert gate.send(capped("c#0#p-2", "p-2")).outcome is Outcome.SENT


def test_the_same_send_key_deferred_twice_is_one_stored_item(gate):
    gate.profiles.add("p-1", timezone="Asia/Tokyo")
    gate.send(capped("c#1"))
    gate.now += timedelta(minutes=30)  # the queue delivered it again later that night
    gate.send(capped("c#1"))
    assert len(gate.deferred.items) == 1


# --- the tick ---------------------------------------------------------------------------------------------------


def stored(deferred: FakeDueItems, key: str, due: str) -> SendRequest:
    request = capped(key)
    deferrals.defer(request, at(due), at(due) - timedelta(hours=10), queue=FakeSendQueue(), store=deferred)
    return request


def test_the_tick_hands_on_what_is_due_once_and_leaves_what_is_not():
    deferred, queue = FakeDueItems(), FakeSendQueue()
    due = [stored(deferred, f"c#{n}", "2026-11-22T23:00:00Z") for n in range(25)]
    stored(deferred, "c#later", "2026-11-22T23:01:00Z")
    first = deferrals.run_tick(deferred, queue, at("2026-11-22T23:00:30Z"))
    second = deferrals.run_tick(deferred, queue, at("2026-11-22T23:00:40Z"))
    assert sorted(r.send_key for r in queue.requests) == sorted(r.send_key for r in due)
    assert (first["handed_on"], first["complete"], second["handed_on"]) == (25, True, 0)
    assert [item.key for item in deferred.items.values()] == ["c#later"]


def test_a_tick_out_of_time_stops_and_leaves_the_rest_due():
    deferred, queue = FakeDueItems(), FakeSendQueue()
    for n in range(40):
        stored(deferred, f"c#{n}", "2026-11-22T23:00:00Z")
    report = deferrals.run_tick(deferred, queue, at("2026-11-22T23:05:00Z"), out_of_time=lambda: True)
    assert (report["complete"], report["handed_on"], len(deferred.items)) == (
        False,
        len(queue.requests),
        40 - len(queue.requests),
    )
    assert 0 < report["handed_on"] <= 10
    deferrals.run_tick(deferred, queue, at("2026-11-22T23:06:00Z"))
    assert (len(queue.requests), deferred.items) == (40, {})


# --- who is capped ----------------------------------------------------------------------------------------------


def test_an_api_message_may_ask_to_be_capped_and_the_flag_must_be_a_boolean(signer, now):
    profiles, ledger, queue = FakeProfiles(), FakeLedger(), FakeSendQueue()
    profiles.add("p-1")
    preview = JinjaRenderer(CONTENT / "templates", signer, "https://preview.invalid", "news@example.com")
    arguments = dict(profiles=profiles, ledger=ledger, queue=queue, preview=preview, now=now)
    request_message({"profile_id": "p-1", "template": "newsletter-demo", "capped": True}, **arguments)
    request_message({"profile_id": "p-1", "template": "newsletter-demo"}, **arguments)
    assert [r.capped for r in queue.requests] == [True, False]
    with pytest.raises(InvalidInput, match="capped must be true or false"):
        request_message({"profile_id": "p-1", "template": "newsletter-demo", "capped": "yes"}, **arguments)


def test_automations_pass_their_capped_setting_into_their_requests(config, now):
    profiles, queue = FakeProfiles(), FakeSendQueue()
    profiles.add("p-1")
    profiles.items["p-1"]["idle"] = "2026-01-01T00:00:00Z"
    opted_in = config._replace(we_miss_you=config.we_miss_you._replace(capped=True))
    run_we_miss_you_check(profiles, queue, opted_in, now)
    assert [r.capped for r in queue.requests] == [True]

    publisher, rule = FakePublisher(), config.thresholds[0]._replace(capped=True)
    fire(rule, "p-1", 3, FakeLedger(), publisher, now)
    assert publisher.events[0][1]["capped"] is True


class DiesBeforeRemoving(FakeDueItems):
    """A tick that dies after handing a batch on and before removing it (a timeout, a crash)."""

    def __init__(self) -> None:
        super().__init__()
        self.broken = True

    def remove(self, item) -> bool:
        if self.broken:
            raise ConnectionError("the tick died")
        return super().remove(item)


def test_a_tick_that_dies_between_enqueue_and_delete_repeats_only_what_the_send_key_absorbs(signer, config):
    gate = Gate(signer, config, at("2026-11-22T14:00:00Z"), deferred=DiesBeforeRemoving())
    gate.profiles.add("p-1", timezone="Asia/Tokyo")
    gate.send(capped("c#1"))
    gate.now = at("2026-11-22T23:00:00Z")
    with pytest.raises(ConnectionError):
        deferrals.run_tick(gate.deferred, gate.queue, gate.now)
    gate.deferred.broken = False
    deferrals.run_tick(gate.deferred, gate.queue, gate.now)
    outcomes = [gate.send(request).outcome for request in gate.queue.requests]
    assert outcomes == [Outcome.SENT, Outcome.DUPLICATE] and len(gate.mailer.sent) == 1
    assert gate.status("m-c#1")["state"] == "sent" and gate.deferred.items == {}
