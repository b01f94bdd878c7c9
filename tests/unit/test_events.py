"""Events at the door: one or a batch, every event checked first, aggregates decided per type, each published."""

import pytest

from closedloop import events
from closedloop.errors import InvalidInput, ProfileNotFound
from tests.fakes import FakeProfiles, FakePublisher

PURCHASE = {"type": "purchase", "properties": {"order_id": "o-1", "total": 42.5, "currency": "EUR"}}


def record(body, store, config, now, publisher=None):
    publisher = publisher or FakePublisher()
    return events.record_events(body, log=store, profiles=store, publisher=publisher, config=config, now=now)


@pytest.fixture
def store():
    profiles = FakeProfiles()
    profiles.add("p-ada")
    profiles.claims["ada@example.net"] = "p-ada"
    return profiles


def test_a_batch_is_recorded_event_by_event_and_each_is_published(store, config, now):
    publisher = FakePublisher()
    body = {
        "events": [
            {"profile_id": "p-ada", "type": "visit", "event_id": "e1"},
            {"email": "Ada@Example.net", **PURCHASE, "event_id": "e2"},
        ]
    }
    answer = record(body, store, config, now, publisher)
    assert answer == {"results": [{"event_id": "e1", "recorded": True}, {"event_id": "e2", "recorded": True}]}
    assert [(kind, d["event_id"], d["type"], d["profile_id"]) for kind, d in publisher.events] == [
        ("event.recorded", "e1", "visit", "p-ada"),
        ("event.recorded", "e2", "purchase", "p-ada"),
    ]
    profile = store.get("p-ada")
    assert (profile.event_counts, profile.purchase_count, profile.revenue) == (
        {"visit": 1, "purchase": 1},
        1,
        {"EUR": 42.5},
    )


def test_one_bad_event_refuses_the_batch_naming_its_index_and_records_nothing(store, config, now):
    body = {"events": [{"profile_id": "p-ada", "type": "visit"}, {"profile_id": "p-ada", "type": "Visit!"}]}
    with pytest.raises(InvalidInput, match=r"events\[1\]: type"):
        record(body, store, config, now)
    assert store.get("p-ada").event_counts == {}


def test_an_address_nobody_holds_refuses_the_batch_naming_its_index(store, config, now):
    body = {"events": [{"profile_id": "p-ada", "type": "visit"}, {"email": "nobody@example.net", "type": "visit"}]}
    with pytest.raises(ProfileNotFound, match=r"events\[1\]"):
        record(body, store, config, now)
    assert store.get("p-ada").event_counts == {}


@pytest.mark.parametrize(
    "body, words",
    [
        ({"events": []}, "1 to 100"),
        ({"events": [{"profile_id": "p-ada", "type": "visit"}] * 101}, "1 to 100"),
        ({"events": [{"type": "visit"}]}, "either profile_id or email"),
        ({"events": [{"type": "visit", "profile_id": "p-ada", "email": "ada@example.net"}]}, "either"),
        ({"events": [{"profile_id": "p-ada", "type": "a", "event_id": "x"}] * 2}, "once in a batch"),
        ({"profile_id": "p-ada", "type": "purchase", "properties": {"total": 10}}, "currency"),
        ({"profile_id": "p-ada", "type": "purchase", "properties": {"total": -1, "currency": "EUR"}}, "at least 0"),
        ({"profile_id": "p-ada", "type": "purchase", "properties": {"total": 1, "currency": "eur"}}, "currency"),
        ({"profile_id": "p-ada", "type": "cart_updated", "properties": {"items": "two shirts"}}, "items"),
        ({"profile_id": "p-ada", "type": "purchase", "properties": {"order_id": 17}}, "order_id"),
    ],
)
def test_bad_events_are_refused_with_a_sentence(body, words, store, config, now):
    with pytest.raises(InvalidInput, match=words):
        record(body, store, config, now)


def test_a_repeated_event_changes_nothing_but_is_published_again(store, config, now):
    publisher = FakePublisher()
    body = {"profile_id": "p-ada", **PURCHASE, "event_id": "order-1"}
    assert record(body, store, config, now, publisher) == {"event_id": "order-1", "recorded": True}
    assert record(body, store, config, now, publisher) == {"event_id": "order-1", "recorded": False}
    assert (store.get("p-ada").purchase_count, len(publisher.events)) == (1, 2)


def test_a_cart_opens_and_a_later_purchase_closes_it_but_an_older_cart_does_not_reopen_it(store, config, now):
    cart = {"profile_id": "p-ada", "type": "cart_updated", "occurred_at": "2026-11-22T08:00:00Z"}
    cart["properties"] = {"cart_id": "c-1", "total": 30, "currency": "EUR", "items": [{"sku": "shirt", "qty": 2}]}
    record({**cart, "event_id": "cart-1"}, store, config, now)
    assert store.get("p-ada").cart == {
        "id": "c-1",
        "total": 30,
        "currency": "EUR",
        "items": [{"sku": "shirt", "qty": 2}],
        "updated_at": "2026-11-22T08:00:00Z",
    }
    record({"profile_id": "p-ada", **PURCHASE, "occurred_at": "2026-11-22T09:00:00Z"}, store, config, now)
    record({**cart, "event_id": "cart-0", "occurred_at": "2026-11-22T07:00:00Z"}, store, config, now)
    profile = store.get("p-ada")
    assert (profile.cart, profile.last_purchase_at, profile.event_counts["cart_updated"]) == (
        None,
        "2026-11-22T09:00:00Z",
        2,
    )
