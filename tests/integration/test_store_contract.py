"""One set of behaviours, two implementations: the unit tests' fakes and the DynamoDB adapters must agree.

Each test runs against tests.fakes and against closedloop.adapters.dynamo on moto. A rule that one of them breaks
fails here, so the fakes the unit tests trust cannot drift from what runs in the cloud.
"""

from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pytest

from closedloop import events, services
from closedloop.clock import isoformat
from closedloop.errors import ConcurrentUpdate, EmailTaken, ProfileNotFound
from closedloop.ports import Activity, Link, MessageStatus
from closedloop.profiles import ProfileChange
from closedloop.schedules import now_key
from tests.fakes import FakeLedger, FakeLinkSets, FakeProfiles

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
LEFT = {"source": "unsubscribe_link", "at": "2026-03-01T12:00:00Z"}
LATER = "9999-12-31T00:00:00Z"


class Stores(NamedTuple):
    profiles: object
    ledger: object
    activity: object
    link_sets: object


@pytest.fixture(params=["fake", "dynamodb"])
def stores(request, resources):
    if request.param == "fake":
        profiles = FakeProfiles()
        return Stores(profiles, FakeLedger(), profiles, FakeLinkSets())
    return Stores(services.profiles(), services.ledger(), services.activity_log(), services.link_sets())


def change(
    profile_id, status="subscribed", birthday="2026-06-15T07:00:00Z#06-15#Europe/Berlin", email=None, **attributes
):
    return ProfileChange(
        profile_id=profile_id,
        email=email or f"{profile_id}@example.net",
        status=status,
        attributes={"first_name": "Ada", **attributes},
        birthday_due=birthday if status == "subscribed" else None,
        idle_due="2026-04-30T12:00:00Z" if status == "subscribed" else None,
        consent={"source": "api", "at": "2026-03-01T12:00:00Z"},
    )


def due_ids(store, index):
    return [entry.profile_id for entry in store.due(index, LATER)]


def click(profile_id, activity_id="c1", at=NOW, kind="click", message_id="m1", link=0, bot_reason=None):
    moves = kind != "open"
    details = {"message_id": message_id, "link_set": "s", "link": link}
    increments = {"travel": 1} if kind == "click" else {}
    return Activity(kind, activity_id, profile_id, at, increments, details, moves, bot_reason=bot_reason)


def test_a_created_profile_reads_back_with_version_one(stores, profile_id):
    profiles, _, activity, _ = stores
    profile, created = profiles.save(change(profile_id, city="Leeds"), NOW, None)
    stored = profiles.get(profile_id, consistent=True)
    assert (created, stored.version, stored.attributes["city"], stored.status) == (True, 1, "Leeds", "subscribed")
    assert profile == stored


def test_an_address_belongs_to_one_profile_and_follows_it_when_it_changes(stores, profile_id):
    profiles, *_ = stores
    other = f"{profile_id}-2"
    profiles.save(change(profile_id), NOW, None)
    with pytest.raises(EmailTaken):
        profiles.save(change(other, email=f"{profile_id}@example.net"), NOW, None)
    assert profiles.get(other) is None
    moved = change(profile_id, email=f"{profile_id}.new@example.net")._replace(
        previous_email=f"{profile_id}@example.net"
    )
    profiles.save(moved, NOW, profiles.get(profile_id, consistent=True))
    assert profiles.find_by_email(f"{profile_id}.new@example.net").profile_id == profile_id
    assert profiles.find_by_email(f"{profile_id}@example.net") is None
    profiles.save(change(other, email=f"{profile_id}@example.net"), NOW, None)  # the released address is free
    assert profiles.find_by_email(f"{profile_id}@example.net").profile_id == other


def test_the_consent_record_is_kept_with_the_status(stores, profile_id):
    profiles, *_ = stores
    saved, _ = profiles.save(change(profile_id), NOW, None)
    assert saved.consent == {"source": "api", "at": "2026-03-01T12:00:00Z"} == profiles.get(profile_id).consent
    profiles.set_status(profile_id, "unsubscribed", NOW, LEFT)
    assert (profiles.get(profile_id, consistent=True).status, profiles.get(profile_id).consent) == (
        "unsubscribed",
        LEFT,
    )


def test_a_save_against_a_stale_version_is_refused(stores, profile_id):
    profiles, _, activity, _ = stores
    profiles.save(change(profile_id), NOW, None)
    with pytest.raises(ConcurrentUpdate):
        profiles.save(change(profile_id), NOW, None)
    first = profiles.get(profile_id, consistent=True)
    profiles.set_status(profile_id, "unsubscribed", NOW, LEFT)  # a consent change is a new version
    with pytest.raises(ConcurrentUpdate):
        profiles.save(change(profile_id), NOW, first)
    assert profiles.get(profile_id, consistent=True).status == "unsubscribed"


def test_a_running_silence_clock_survives_a_profile_sync(stores, profile_id):
    profiles, _, activity, _ = stores
    profiles.save(change(profile_id), NOW, None)
    later = change(profile_id)._replace(idle_due="2026-12-31T00:00:00Z")
    profiles.save(later, NOW + timedelta(days=1), profiles.get(profile_id, consistent=True))
    assert [
        e.due_key for e in profiles.due("idle", now_key(datetime(2026, 5, 1, tzinfo=UTC))) if e.profile_id == profile_id
    ] == ["2026-04-30T12:00:00Z"]


def test_leaving_takes_the_profile_out_of_both_due_indexes(stores, profile_id):
    profiles, _, activity, _ = stores
    profiles.save(change(profile_id), NOW, None)
    assert profile_id in due_ids(profiles, "birthday") and profile_id in due_ids(profiles, "idle")
    assert profiles.set_status(profile_id, "unsubscribed", NOW, LEFT) is True
    assert profile_id not in due_ids(profiles, "birthday") + due_ids(profiles, "idle")
    assert profiles.set_status("p-nobody-at-all", "unsubscribed", NOW, LEFT) is False


def test_an_activity_is_recorded_once_by_kind_and_id(stores, profile_id):
    profiles, _, activity, _ = stores
    profiles.save(change(profile_id), NOW, None)
    assert activity.record_activity(click(profile_id), "2026-05-01T12:00:00Z", 0) is True
    assert activity.record_activity(click(profile_id, at=NOW + timedelta(hours=1)), "2026-05-01T13:00:00Z", 0) is False
    assert activity.record_activity(click(profile_id, kind="open"), None, 0) is True  # same id, another kind
    assert profiles.get(profile_id, consistent=True).interests == {"travel": 1}


def test_an_older_activity_counts_but_does_not_rewind_last_activity(stores, profile_id):
    profiles, _, activity, _ = stores
    profiles.save(change(profile_id), NOW, None)
    activity.record_activity(click(profile_id, "c1"), "2026-05-01T12:00:00Z", 0)
    activity.record_activity(click(profile_id, "c0", at=NOW - timedelta(days=2)), "2026-04-29T12:00:00Z", 0)
    stored = profiles.get(profile_id, consistent=True)
    assert (stored.interests, stored.last_activity_at) == ({"travel": 2}, "2026-03-01T12:00:00Z")


def test_activity_of_an_unsubscribed_profile_does_not_put_it_back_into_the_inactivity_index(stores, profile_id):
    profiles, _, activity, _ = stores
    profiles.save(change(profile_id), NOW, None)
    profiles.set_status(profile_id, "unsubscribed", NOW, LEFT)
    activity.record_activity(click(profile_id), "2026-05-01T12:00:00Z", 0)
    stored = profiles.get(profile_id, consistent=True)
    assert (stored.interests, stored.last_activity_at) == ({"travel": 1}, "2026-03-01T12:00:00Z")
    assert profile_id not in due_ids(profiles, "idle")


def test_activity_for_a_missing_profile_is_refused(stores):
    profiles, _, activity, _ = stores
    with pytest.raises(ProfileNotFound):
        activity.record_activity(click("p-nobody-at-all"), "2026-05-01T12:00:00Z", 0)


def test_a_stored_click_moves_nothing_and_settles_once(stores, profile_id):
    profiles, _, activity, _ = stores
    profiles.save(change(profile_id), NOW, None)
    pending = click(profile_id, "c1")
    assert activity.put_click(pending, 0) is True
    assert activity.put_click(pending, 0) is False
    assert profiles.get(profile_id, consistent=True).interests == {}
    assert activity.settle_click(pending, None, "2026-05-01T12:00:00Z") is True
    assert activity.settle_click(pending, None, "2026-05-01T12:00:00Z") is False
    stored = profiles.get(profile_id, consistent=True)
    assert (stored.interests, stored.last_activity_at) == ({"travel": 1}, "2026-03-01T12:00:00Z")


def test_a_bots_click_settles_without_moving_anything_and_a_door_verdict_never_settles(stores, profile_id):
    profiles, _, activity, _ = stores
    profiles.save(change(profile_id), NOW, None)
    swept, scanner = click(profile_id, "c1"), click(profile_id, "c2", bot_reason="head")
    activity.put_click(swept, 0)
    activity.put_click(scanner, 0)
    assert activity.settle_click(swept, "sweep", None) is True
    assert activity.settle_click(swept, None, None) is False
    assert activity.settle_click(scanner, None, None) is False  # stored as a bot's: nothing to settle
    assert profiles.get(profile_id, consistent=True).interests == {}


def test_the_clicks_of_a_message_are_read_with_their_links_instants_and_door_verdicts(stores, profile_id):
    profiles, _, activity, _ = stores
    profiles.save(change(profile_id), NOW, None)
    activity.put_click(click(profile_id, "c1", link=2), 0)
    activity.put_click(click(profile_id, "c2", at=NOW + timedelta(seconds=3), link=0, bot_reason="honeypot"), 0)
    activity.put_click(click(profile_id, "c3", message_id="m2"), 0)
    found = sorted(activity.clicks_of(profile_id, "m1"))
    assert [(c.activity_id, c.occurred_at, c.link_no, c.bot_reason) for c in found] == [
        ("c1", NOW, 2, None),
        ("c2", NOW + timedelta(seconds=3), 0, "honeypot"),
    ]
    assert activity.clicks_of(profile_id, "m-none") == []


def test_a_persons_click_for_a_missing_profile_is_refused_when_it_settles(stores):
    _, _, activity, _ = stores
    orphan = click("p-nobody-at-all")
    activity.put_click(orphan, 0)
    with pytest.raises(ProfileNotFound):
        activity.settle_click(orphan, None, None)


def test_a_due_entry_moves_only_if_it_is_still_the_one_seen(stores, profile_id):
    profiles, _, activity, _ = stores
    profiles.save(change(profile_id), NOW, None)
    assert profiles.move_due("idle", profile_id, "2000-01-01T00:00:00Z", None) is False
    assert profiles.move_due("idle", profile_id, "2026-04-30T12:00:00Z", None) is True
    assert profile_id not in due_ids(profiles, "idle")


def test_a_send_key_is_reserved_once_freed_on_release_and_its_status_kept(stores, profile_id):
    _, ledger, _, _ = stores
    key = f"contract#{profile_id}"
    assert ledger.reserve_send(key, "m1", NOW) is True
    assert ledger.reserve_send(key, "m2", NOW) is False
    ledger.release_send(key)
    assert ledger.reserve_send(key, "m3", NOW) is True
    sent = MessageStatus(f"m-{profile_id}", profile_id, "birthday", "sent", "2026-03-01T12:00:00Z", None, "ses-1")
    ledger.mark_sent(key, sent)
    ledger.release_send(key)  # only a reservation is ever released, never a sent key
    assert ledger.reserve_send(key, "m4", NOW) is False
    queued = sent._replace(state="queued", provider_message_id=None)
    assert ledger.put_message_status(queued, only_if_new=True) is False
    assert ledger.get_message_status(sent.message_id) == sent
    assert ledger.get_message_status("no-such-message") is None


def test_a_threshold_is_claimed_once_and_published_once(stores, profile_id):
    _, ledger, _, _ = stores
    assert ledger.claim_threshold("travel-offers", profile_id, NOW) == "claimed"
    assert ledger.claim_threshold("travel-offers", profile_id, NOW) == "pending:2026-03-01T12:00:00Z"
    ledger.mark_threshold_published("travel-offers", profile_id)
    assert ledger.claim_threshold("travel-offers", profile_id, NOW) == "published"


def test_a_link_set_is_stored_once_and_read_back_as_written(stores, profile_id):
    *_, link_sets = stores
    links = [Link("https://a.example/x", {}), Link("https://b.example/y", {"interest": ["travel", "cars"]})]
    link_set = f"contract{profile_id[2:]}"
    assert link_sets.get(link_set) is None
    link_sets.put(link_set, links)
    link_sets.put(link_set, [Link("https://other.example", {})])  # an id is its content: the first one stays
    assert link_sets.get(link_set) == links


def an_event(profile_id, event_id, kind, at, **properties):
    return Activity(
        "event",
        event_id,
        profile_id,
        at,
        details={"type": kind, "properties": properties},
        aggregates=events.aggregates(kind, properties, isoformat(at)),
    )


def test_events_add_to_the_aggregates_once_and_the_latest_cart_and_purchase_win(stores, profile_id):
    profiles, _, activity, _ = stores
    profiles.save(change(profile_id), NOW, None)
    h = timedelta(hours=1)
    cart = {"cart_id": "c-1", "total": 30, "currency": "EUR", "items": [{"sku": "shirt"}]}

    def record(event):
        return activity.record_activity(event, "2026-05-01T12:00:00Z", 0)

    assert record(an_event(profile_id, "e1", "cart_updated", NOW, **cart)) is True
    assert record(an_event(profile_id, "e2", "purchase", NOW + h, order_id="o", total=42.5, currency="EUR")) is True
    assert record(an_event(profile_id, "e2", "purchase", NOW + h, order_id="o", total=42.5, currency="EUR")) is False
    record(an_event(profile_id, "e3", "purchase", NOW + 2 * h, total=5, currency="USD"))
    record(an_event(profile_id, "e4", "cart_updated", NOW - h, **cart))  # older than both purchases: stays closed
    stored = profiles.get(profile_id, consistent=True)
    assert (stored.event_counts, stored.purchase_count) == ({"cart_updated": 2, "purchase": 2}, 2)
    assert (stored.revenue, stored.last_purchase_at, stored.cart) == (
        {"EUR": 42.5, "USD": 5},
        "2026-03-01T14:00:00Z",
        None,
    )
    record(an_event(profile_id, "e5", "cart_updated", NOW + 3 * h, **cart))
    assert profiles.get(profile_id, consistent=True).cart == {
        "id": "c-1",
        "total": 30,
        "currency": "EUR",
        "items": [{"sku": "shirt"}],
        "updated_at": "2026-03-01T15:00:00Z",
    }


@pytest.fixture(params=["fake", "dynamodb"])
def suppressions(request, resources):
    from tests.fakes import FakeSuppressions

    return FakeSuppressions() if request.param == "fake" else services.suppressions()


def test_a_suppression_is_read_back_kept_or_replaced_and_lifted_once(suppressions, profile_id):
    from closedloop.suppression import Suppression

    address = f"{profile_id}@example.net"
    first = Suppression(address, "bounce", "2026-03-01T12:00:00Z")
    assert suppressions.get(address) is None
    assert suppressions.put(first, only_if_new=True) is True
    assert suppressions.put(first._replace(reason="complaint"), only_if_new=True) is False
    assert suppressions.get(address) == first
    assert suppressions.put(first._replace(reason="manual")) is True
    assert suppressions.get(address).reason == "manual"
    assert (suppressions.delete(address), suppressions.delete(address)) == (True, False)
    assert suppressions.get(address) is None


def test_transient_bounces_are_remembered_once_per_mail_at_their_first_instant(suppressions, profile_id):
    address = f"{profile_id}@example.net"
    later = NOW + timedelta(days=3)
    keep = int((later + timedelta(days=30)).timestamp())
    suppressions.note_transient_bounce(address, "ses-1", NOW, keep)
    suppressions.note_transient_bounce(address, "ses-1", later, keep)
    seen = suppressions.note_transient_bounce(address, "ses-2", later, keep)
    assert seen == {"ses-1": "2026-03-01T12:00:00Z", "ses-2": "2026-03-04T12:00:00Z"}
    assert suppressions.note_transient_bounce(f"x{address}", "ses-1", NOW, keep) == {"ses-1": "2026-03-01T12:00:00Z"}


# --- the sending pause, held messages and a person's records -----------------------------------------------------


class Pausing(NamedTuple):
    profiles: object
    ledger: object
    suppressions: object
    control: object
    records: object


@pytest.fixture(params=["fake", "dynamodb"])
def pausing(request, resources):
    from tests.fakes import FakePersonalRecords, FakeSendingControl, FakeSuppressions

    if request.param == "fake":
        profiles, ledger, suppressions = FakeProfiles(), FakeLedger(), FakeSuppressions()
        control = FakeSendingControl(suppressions, ledger)
        stores = Pausing(
            profiles, ledger, suppressions, control, FakePersonalRecords(profiles, ledger, suppressions, control)
        )
    else:
        stores = Pausing(
            services.profiles(),
            services.ledger(),
            services.suppressions(),
            services.sending_control(),
            services.personal_records(),
        )
    yield stores
    stores.control.resume()  # tests share one moto: leave sending running with nothing held
    page, _ = stores.control.held_page(None, 100)
    for held in page:
        stores.control.unhold(held)


def _pause(pause_id="pause-1"):
    from closedloop.pause import Pause

    return Pause(pause_id, "contract test", "2026-03-01T12:00:00Z")


def _request(profile_id, key="k1", message_id="m-1"):
    from closedloop.sending import SendRequest

    return SendRequest(f"{key}#{profile_id}", profile_id, "birthday", f"{message_id}-{profile_id}")


def _held_status(request):
    return MessageStatus(request.message_id, request.profile_id, request.template, "held", "2026-03-01T12:00:00Z")


def test_the_screen_reads_the_first_entry_of_the_keys_and_the_pause_together(pausing, profile_id):
    from closedloop.suppression import Suppression

    address, erased = f"{profile_id}@example.net", f"erased:e1:{profile_id}"
    assert pausing.suppressions.screen([address, erased]) == (None, None)
    pausing.suppressions.put(Suppression(erased, "erased", "2026-03-01T12:00:00Z"))
    assert pausing.suppressions.screen([address, erased]).entry.reason == "erased"
    pausing.suppressions.put(Suppression(address, "bounce", "2026-03-01T12:00:00Z"))
    assert pausing.suppressions.screen([address, erased]).entry.reason == "bounce"
    assert pausing.control.pause(_pause()) == _pause()
    assert pausing.control.pause(_pause("pause-2")) == _pause()  # the first pause stands
    assert pausing.suppressions.screen([address]).pause == _pause() == pausing.control.pause_state()
    assert pausing.control.resume() == _pause() and pausing.control.resume() is None
    assert pausing.suppressions.screen([address]).pause is None


def test_a_message_is_held_once_per_pause_with_its_status_and_never_after_its_key_was_reserved(pausing, profile_id):
    request = _request(profile_id)
    assert pausing.control.hold(request, _pause(), _held_status(request)) == "resumed"  # not paused
    pausing.control.pause(_pause())
    assert pausing.control.hold(request, _pause(), _held_status(request)) == "held"
    assert pausing.control.hold(request, _pause(), _held_status(request)) == "already_held"
    assert pausing.ledger.get_message_status(request.message_id).state == "held"
    other = _request(profile_id, key="k2", message_id="m-2")
    pausing.ledger.reserve_send(other.send_key, other.message_id, NOW, profile_id=profile_id)
    assert pausing.control.hold(other, _pause(), _held_status(other)) == "duplicate"
    assert pausing.ledger.get_message_status(other.message_id) is None


def test_held_messages_are_paged_and_forgotten_only_under_the_pause_they_were_read_with(pausing, profile_id):
    pausing.control.pause(_pause())
    requests = [_request(profile_id, key=f"k{n}", message_id=f"m{n}") for n in range(3)]
    for request in requests:
        pausing.control.hold(request, _pause(), _held_status(request))
    first, after = pausing.control.held_page(None, 2)
    rest, end = pausing.control.held_page(after, 2)
    assert end is None and len(first) == 2
    assert sorted(h.request.send_key for h in first + rest) == sorted(r.send_key for r in requests)
    assert pausing.control.held_count() == 3
    pausing.control.resume()
    pausing.control.pause(_pause("pause-2"))
    again = first[0].request
    assert pausing.control.hold(again, _pause("pause-2"), _held_status(again)) == "held"  # taken over
    assert pausing.control.unhold(first[0]) is False  # read under pause-1: it stays
    assert pausing.control.unhold(first[1]) is True and pausing.control.unhold(first[1]) is False
    assert pausing.control.held_count() == 2


def test_a_persons_records_are_found_and_forgotten(pausing, profile_id):
    from closedloop.privacy import Record
    from closedloop.suppression import Suppression

    address = f"{profile_id}@example.net"
    pausing.profiles.save(change(profile_id), NOW, None)
    if hasattr(pausing.profiles, "record_activity"):
        pausing.profiles.record_activity(click(profile_id), None, 0)
    else:
        services.activity_log().record_activity(click(profile_id), None, 0)
    request = _request(profile_id)
    pausing.ledger.reserve_send(request.send_key, request.message_id, NOW, profile_id=profile_id)
    pausing.ledger.put_message_status(_held_status(request)._replace(state="queued"))
    pausing.ledger.claim_threshold("travel-offers", profile_id, NOW)
    pausing.suppressions.put(Suppression(address, "manual", "2026-03-01T12:00:00Z"))
    pausing.suppressions.note_transient_bounce(address, "ses-1", NOW, 0)
    pausing.control.pause(_pause())
    held = _request(profile_id, key="k9", message_id="m9")
    pausing.control.hold(held, _pause(), _held_status(held))

    found = list(pausing.records.records(profile_id, address))
    assert all(isinstance(r, Record) for r in found)
    assert sorted(r.kind for r in found) == sorted(
        ["email_claim", "suppression", "bounces", "send", "message", "message", "threshold", "click", "held"]
    )
    assert {r.data["email"] for r in found if r.kind == "email_claim"} == {address}
    assert pausing.records.forget(found) == len(found)
    assert list(pausing.records.records(profile_id, address)) == []
    assert pausing.records.forget_profile(profile_id) is True and pausing.records.forget_profile(profile_id) is False
    assert pausing.profiles.get(profile_id, consistent=True) is None


def test_topics_are_kept_by_a_save_that_does_not_name_them_and_replaced_by_one_that_does(stores, profile_id):
    profiles, *_ = stores
    profile, _ = profiles.save(change(profile_id), NOW, None)
    assert profile.topics is None and profiles.get(profile_id).topics is None  # never chose: every topic
    profile, _ = profiles.save(change(profile_id)._replace(topics=("news", "cars")), NOW, profile)
    assert profile.topics == profiles.get(profile_id).topics == ["news", "cars"]
    profile, _ = profiles.save(change(profile_id, city="Leeds"), NOW, profile)
    assert profile.topics == profiles.get(profile_id).topics == ["news", "cars"]


def test_set_topics_replaces_them_even_with_none_chosen_and_counts_as_a_write(stores, profile_id):
    profiles, *_ = stores
    profiles.save(change(profile_id), NOW, None)
    assert profiles.set_topics(profile_id, (), NOW) is True
    stored = profiles.get(profile_id, consistent=True)
    assert (stored.topics, stored.version) == ([], 2)
    assert profiles.set_topics(f"{profile_id}-missing", ("news",), NOW) is False


@pytest.fixture(params=["fake", "dynamodb"])
def signups(request, resources):
    from tests.fakes import FakeSignups

    return FakeSignups() if request.param == "fake" else services.signups()


def test_confirmation_slots_allow_three_mails_in_any_24_hours(signups, profile_id):
    address, day = f"{profile_id}@example.net", 86400
    taken = [signups.take_confirmation_slot(address, NOW + timedelta(hours=n), 3, day) for n in range(4)]
    assert taken == [True, True, True, False]
    assert signups.take_confirmation_slot(f"x{address}", NOW, 3, day) is True
    assert signups.take_confirmation_slot(address, NOW + timedelta(hours=23, minutes=59), 3, day) is False
    assert signups.take_confirmation_slot(address, NOW + timedelta(hours=24), 3, day) is True
    assert signups.take_confirmation_slot(address, NOW + timedelta(hours=24), 3, day) is False


def test_a_confirmation_is_claimed_once_and_published_once(signups, profile_id):
    assert signups.claim_confirmation(f"{profile_id}#t1", NOW) == "claimed"
    assert signups.claim_confirmation(f"{profile_id}#t1", NOW) == "pending"
    signups.mark_confirmation_published(f"{profile_id}#t1")
    assert signups.claim_confirmation(f"{profile_id}#t1", NOW) == "published"
    assert signups.claim_confirmation(f"{profile_id}#t2", NOW) == "claimed"


# --- CSV imports: the bulk reads and writes, and the import's records ---------------------------------------------


class ImportStores(NamedTuple):
    profiles: object
    imports: object
    suppressions: object


@pytest.fixture(params=["fake", "dynamodb"])
def import_stores(request, resources):
    from tests.fakes import FakeImportStore, FakeSuppressions

    if request.param == "fake":
        profiles, suppressions = FakeProfiles(), FakeSuppressions()
        return ImportStores(profiles, FakeImportStore(profiles, suppressions), suppressions)
    return ImportStores(services.profiles(), services.import_store(), services.suppressions())


def _op(existing, new, claimed=False):
    from closedloop.imports import ProfileWriteOp

    return ProfileWriteOp(existing, new._replace(previous_email=existing.email if existing else None), claimed)


def test_profiles_written_in_bulk_read_back_as_a_save_leaves_them(import_stores, profile_id):
    profiles, imports_, _ = import_stores
    other = f"{profile_id}-2"

    conflicted = imports_.write_profiles([_op(None, change(profile_id)), _op(None, change(other, city="Ely"))], NOW)

    assert conflicted == set()
    stored = profiles.get(profile_id, consistent=True)
    assert (stored.version, stored.status, stored.attributes, stored.consent) == (
        1,
        "subscribed",
        {"first_name": "Ada"},
        {"source": "api", "at": "2026-03-01T12:00:00Z"},
    )
    assert profiles.find_by_email(f"{other}@example.net").attributes["city"] == "Ely"
    assert profile_id in due_ids(profiles, "idle") and profile_id in due_ids(profiles, "birthday")
    profiles.save(change(profile_id, city="Leeds"), NOW, stored)  # a PUT afterwards finds the version it expects
    assert profiles.get(profile_id, consistent=True).version == 2


def test_a_bulk_write_leaves_out_only_the_profiles_that_changed_meanwhile(import_stores, profile_id):
    profiles, imports_, _ = import_stores
    other, third = f"{profile_id}-2", f"{profile_id}-3"
    profiles.save(change(profile_id), NOW, None)
    stale = profiles.get(profile_id, consistent=True)
    profiles.set_status(profile_id, "unsubscribed", NOW, LEFT)
    profiles.save(change(third), NOW, None)

    conflicted = imports_.write_profiles(
        [
            _op(stale, change(profile_id, city="Ely"), claimed=True),
            _op(None, change(other)),
            _op(None, change(f"{profile_id}-4", email=f"{third}@example.net")),  # another profile's address
        ],
        NOW,
    )

    assert conflicted == {profile_id, f"{profile_id}-4"}
    assert profiles.get(profile_id, consistent=True).status == "unsubscribed"
    assert profiles.get(other, consistent=True) is not None
    assert profiles.get(f"{profile_id}-4", consistent=True) is None


def test_a_bulk_write_moves_the_address_claim(import_stores, profile_id):
    profiles, imports_, _ = import_stores
    profiles.save(change(profile_id), NOW, None)
    stored = profiles.get(profile_id, consistent=True)

    imports_.write_profiles([_op(stored, change(profile_id, email=f"{profile_id}.new@example.net"))], NOW)

    assert profiles.find_by_email(f"{profile_id}.new@example.net").profile_id == profile_id
    assert profiles.find_by_email(f"{profile_id}@example.net") is None


def test_a_snapshot_holds_claims_profiles_and_suppression_entries(import_stores, profile_id):
    from closedloop.suppression import Suppression

    profiles, imports_, suppressions = import_stores
    profiles.save(change(profile_id), NOW, None)
    profiles.save(change(f"{profile_id}-2"), NOW, None)
    entry = Suppression(f"{profile_id}.x@example.net", "bounce", "2026-03-01T12:00:00Z")
    suppressions.put(entry)
    addresses = {f"{profile_id}@example.net", entry.address, f"{profile_id}.none@example.net"}

    snapshot = imports_.snapshot(addresses, {f"{profile_id}-2", f"{profile_id}-missing"})

    assert snapshot.claims == {f"{profile_id}@example.net": profile_id}
    assert set(snapshot.profiles) == {profile_id, f"{profile_id}-2"}
    assert snapshot.profiles[profile_id] == profiles.get(profile_id, consistent=True)
    assert snapshot.suppressions[entry.address] == entry
    assert snapshot.suppressions[f"{profile_id}@example.net"] is None


def test_an_import_counts_each_chunk_once_and_keeps_its_errors(import_stores):
    from closedloop.imports import ImportOptions, ImportRecord, new_import_id

    _, imports_, _ = import_stores
    record = ImportRecord(new_import_id(), ImportOptions("subscribed", "fair"), "2026-03-01T12:00:00Z")
    imports_.create(record, NOW)
    imports_.mark_planned(record.import_id, 3, 2)
    imports_.mark_planned(record.import_id, 99, 99)  # the first plan stands
    counters = {"created": 1, "updated": 0, "unchanged": 0, "suppressed": 0, "failed": 1}
    errors = [{"line": 3, "reason": "email is empty"}]

    first = imports_.count_chunk(record.import_id, 0, counters, errors, NOW)
    again = imports_.count_chunk(record.import_id, 0, counters, errors, NOW)
    imports_.count_chunk(record.import_id, 1, {**counters, "failed": 0}, [], NOW)

    stored = imports_.get(record.import_id)
    assert (first, again) == (True, False)
    assert imports_.chunk_counted(record.import_id, 0) and not imports_.chunk_counted(record.import_id, 2)
    assert (stored.rows, stored.chunks, stored.done_chunks, stored.status) == (3, 2, 2, "done")
    assert stored.counters == {"created": 2, "updated": 0, "unchanged": 0, "suppressed": 0, "failed": 1}
    assert stored.error_chunks == [0]
    assert list(imports_.chunk_errors(record.import_id, [0])) == [errors]
    assert stored.options == ImportOptions("subscribed", "fair")


def test_a_refused_file_ends_the_import_with_its_error(import_stores):
    from closedloop.imports import ImportOptions, ImportRecord, new_import_id

    _, imports_, _ = import_stores
    record = ImportRecord(new_import_id(), ImportOptions(), "2026-03-01T12:00:00Z", upload=True)
    imports_.create(record, NOW)
    assert imports_.get(record.import_id).status == "queued"

    imports_.refuse(record.import_id, 1, "no email column")

    stored = imports_.get(record.import_id)
    assert (stored.status, stored.rows, stored.file_errors) == ("done", 0, [{"line": 1, "reason": "no email column"}])
    assert imports_.get("imp-" + "f" * 32) is None


def test_suppressed_among_names_exactly_the_addresses_with_an_entry(suppressions, profile_id):
    from closedloop.suppression import Suppression

    listed = [f"{profile_id}-{n}@example.net" for n in range(150)]  # more than one BatchGetItem
    for address in listed[::50]:
        suppressions.put(Suppression(address, "bounce", "2026-03-01T12:00:00Z"))

    assert suppressions.suppressed_among(listed + listed[:3]) == set(listed[::50])
    assert suppressions.suppressed_among([]) == set()


@pytest.fixture(params=["fake", "dynamodb"])
def scan_and_store(request, resources):
    if request.param == "fake":
        profiles = FakeProfiles()
        return profiles, profiles
    return services.profile_scan(), services.profiles()


def test_a_parallel_scan_reads_every_profile_once_as_a_get_would(scan_and_store, profile_id):
    from closedloop import audience

    scan, profiles = scan_and_store
    ids = [f"{profile_id}-{n}" for n in range(7)]
    for pid in ids:
        profiles.save(change(pid), NOW, None)

    seen = [
        profile
        for segment in range(3)
        for page in audience.scan_segment(scan, segment, 3, limit=2)
        for profile in page
        if profile.profile_id.startswith(f"{profile_id}-")
    ]

    assert sorted(p.profile_id for p in seen) == ids
    assert all(p == profiles.get(p.profile_id, consistent=True) for p in seen)

    narrow = [
        profile
        for segment in range(3)
        for page in audience.scan_segment(scan, segment, 3, limit=5, fields=frozenset({"attributes.first_name"}))
        for profile in page
        if profile.profile_id.startswith(f"{profile_id}-")
    ]
    assert sorted(p.profile_id for p in narrow) == ids
    assert {(p.email, p.status, p.attributes["first_name"]) for p in narrow} == {
        (f"{pid}@example.net", "subscribed", "Ada") for pid in ids
    }


@pytest.fixture(params=["fake", "dynamodb"])
def segment_store(request, resources):
    from tests.fakes import FakeSegmentStore

    return FakeSegmentStore() if request.param == "fake" else services.segment_store()


def test_a_segment_is_stored_replaced_and_read_back_with_its_rules_exactly(segment_store, profile_id):
    rules = {"all": [{"field": "revenue.EUR", "op": ">=", "value": 99.5}, {"not": {"field": "topics", "op": "exists"}}]}
    segment_id = profile_id.lower()

    first, created = segment_store.put(segment_id, "Big spenders", rules, "2026-03-01T12:00:00Z")
    second, again = segment_store.put(segment_id, "Bigger", {"all": [rules]}, "2026-03-02T12:00:00Z")

    assert (created, again) == (True, False)
    assert (
        segment_store.get(segment_id)
        == second
        == {
            "id": segment_id,
            "name": "Bigger",
            "rules": {"all": [rules]},
            "created_at": "2026-03-01T12:00:00Z",
            "updated_at": "2026-03-02T12:00:00Z",
        }
    )
    assert first["rules"] == rules and segment_store.get(f"{segment_id}-none") is None
