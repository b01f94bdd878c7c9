"""POST /v1/events with a batch: aggregates on the profile, the whole batch refused for one bad event."""

from closedloop.adapters.aws import EventBridgePublisher
from tests.integration.conftest import admin, put_profile


def test_a_batch_by_address_and_id_adds_to_the_aggregates_the_profile_shows(resources, profile_id, monkeypatch):
    published = []
    monkeypatch.setattr(EventBridgePublisher, "publish_many", lambda self, kind, details: published.extend(details))
    put_profile(profile_id)
    batch = {
        "events": [
            {"profile_id": profile_id, "type": "cart_updated", "event_id": "c1", "occurred_at": "2026-03-01T10:00:00Z",
             "properties": {"cart_id": "cart-9", "total": 19.9, "currency": "EUR", "items": [{"sku": "mug"}]}},
            {"email": f"{profile_id.upper()}@example.net", "type": "purchase", "event_id": "o1",
             "occurred_at": "2026-03-01T11:00:00Z",
             "properties": {"order_id": "order-1", "total": 19.9, "currency": "EUR"}},
        ]
    }  # fmt: skip
    status, answer = admin("POST", "/v1/events", batch)
    assert (status, answer) == (
        202,
        {"results": [{"event_id": "c1", "recorded": True}, {"event_id": "o1", "recorded": True}]},
    )
    profile = admin("GET", f"/v1/profiles/{profile_id}")[1]
    assert profile["event_counts"] == {"cart_updated": 1, "purchase": 1}
    assert (profile["purchase_count"], profile["revenue"], profile["last_purchase_at"], profile["cart"]) == (
        1,
        {"EUR": 19.9},
        "2026-03-01T11:00:00Z",
        None,
    )
    assert [(e["event_id"], e["type"], e["profile_id"]) for e in published] == [
        ("c1", "cart_updated", profile_id),
        ("o1", "purchase", profile_id),
    ]
    again = admin("POST", "/v1/events", batch)[1]
    assert [r["recorded"] for r in again["results"]] == [False, False]
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["purchase_count"] == 1


def test_a_batch_with_one_bad_event_is_refused_whole_naming_the_event(resources, profile_id):
    put_profile(profile_id)
    batch = {"events": [{"profile_id": profile_id, "type": "visit"}, {"profile_id": profile_id, "type": 7}]}
    status, answer = admin("POST", "/v1/events", batch)
    assert (status, answer["code"]) == (400, "invalid_input") and answer["message"].startswith("events[1]:")
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["event_counts"] == {}
