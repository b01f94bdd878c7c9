"""Campaigns end to end on the local runtime: create, send, drain, the outbox; send_at on the runtime clock; an A/B
test whose winner goes to the rest after its wait; SES throttling; a cancelled campaign sent again."""

from __future__ import annotations

import os
from collections import Counter

import pytest

from closedloop_local import outbox

RULES = {"field": "attributes.group", "op": "==", "value": None}

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("morning")]


def _people(client, group: str, n: int) -> list[str]:
    ids = []
    for i in range(n):
        profile_id = f"{group}-{i}"
        client.put_profile(profile_id, f"{group}.{i}@example.com", group=group)
        ids.append(profile_id)
    return ids


def _create(client, group: str, **body) -> str:
    rules = {"field": "attributes.group", "op": "==", "value": group}
    answer = client.ok("POST", "/v1/campaigns", {"name": group, "template": "newsletter-demo", "rules": rules, **body})
    assert answer["status"] == "draft"
    return answer["campaign_id"]


def _drain_until(client, campaign_id: str, status: str = "sent", rounds: int = 20, step_s: int = 900) -> dict:
    for _ in range(rounds):
        client.drain()
        campaign = client.ok("GET", f"/v1/campaigns/{campaign_id}")
        if campaign["status"] == status and not client.drain()["scheduled"]:
            return campaign
        client.advance(step_s)
    raise AssertionError(f"campaign {campaign_id} is {campaign['status']}, not {status}")


def test_a_small_campaign_reaches_every_recipient_once_with_its_tags(client):
    people = _people(client, "small", 7)
    client.put_profile("small-gone", "small.gone@example.com", status="unsubscribed", group="small")
    campaign_id = _create(client, "small", topic="news")
    sent = client.request("POST", f"/v1/campaigns/{campaign_id}/send")
    assert sent.status == 202 and sent.json()["status"] == "sending"
    campaign = _drain_until(client, campaign_id)
    assert campaign["targeted"] == 7 and campaign["progress"]["main"]["queued"] == 7
    mails = [m for m in client.outbox() if m["tags"].get("campaign") == campaign_id]
    assert Counter(m["to"][0] for m in mails) == {f"small.{i}@example.com": 1 for i in range(7)}
    assert {m["tags"]["stage"] for m in mails} == {"main"}
    assert len(people) == 7
    again = client.request("POST", f"/v1/campaigns/{campaign_id}/send")
    assert again.status == 409 and again.json()["code"] == "campaign_already_sent"
    listed = client.ok("GET", "/v1/campaigns?limit=50")["campaigns"]
    assert campaign_id in [c["campaign_id"] for c in listed]


def test_a_cancelled_campaign_sent_again_is_refused_and_sends_nothing(client):
    _people(client, "cancel", 3)
    campaign_id = _create(client, "cancel")
    assert client.ok("POST", f"/v1/campaigns/{campaign_id}/cancel")["status"] == "cancelled"
    refused = client.request("POST", f"/v1/campaigns/{campaign_id}/send")
    assert refused.status == 409 and refused.json()["code"] == "campaign_cancelled"
    client.drain()
    assert not [m for m in client.outbox() if m["tags"].get("campaign") == campaign_id]


def test_a_campaign_with_send_at_waits_for_the_runtime_clock(client):
    _people(client, "later", 2)
    client.drain()
    from datetime import timedelta

    from closedloop.clock import isoformat, parse_instant

    at = isoformat(parse_instant(client.now()) + timedelta(hours=3))
    campaign_id = _create(client, "later", send_at=at)
    assert client.ok("POST", f"/v1/campaigns/{campaign_id}/send")["status"] == "scheduled"
    client.drain()
    assert client.ok("GET", f"/v1/campaigns/{campaign_id}")["status"] == "scheduled"
    client.advance(3 * 3600 + 1)
    campaign = _drain_until(client, campaign_id)
    assert campaign["targeted"] == 2


def test_an_ab_winner_forced_by_clicks_goes_to_the_rest(client):
    _people(client, "ab", 20)
    body = {
        "variants": [{"id": "a", "subject": "Plain A"}, {"id": "b", "subject": "Bold B"}],
        "ab": {"test_share": 0.2, "metric": "human_clicks", "wait": "4h"},
    }
    campaign_id = _create(client, "ab", **body)
    client.ok("POST", f"/v1/campaigns/{campaign_id}/send")
    client.drain()
    first = [m for m in client.outbox() if m["tags"].get("campaign") == campaign_id]
    assert Counter(m["tags"]["variant"] for m in first) == {"a": 2, "b": 2}
    for mail in first:
        if mail["tags"]["variant"] == "b":
            link = next(url for url in _links(mail["html"]) if "/r/" in url)
            client.click(link)
    client.settle()
    client.advance(4 * 3600 + 60)
    campaign = _drain_until(client, campaign_id)
    everyone = [m for m in client.outbox() if m["tags"].get("campaign") == campaign_id]
    assert len(everyone) == 20 and len({m["to"][0] for m in everyone}) == 20
    rest = everyone[4:]
    assert campaign["winner"] == "b"  # two human clicks on B, none on A
    assert {(m["tags"]["stage"], m["tags"]["variant"], m["subject"]) for m in rest} == {("main", "b", "Bold B")}
    variants = campaign["stats"]["stages"]["main"]["variants"]
    # The rest is sent as stage `main`, variant `b`: b's counters add the test group (2) and the rest (16).
    assert (variants["a"]["sent"], variants["a"]["clicks_human_unique"]) == (2, 0)
    assert (variants["b"]["sent"], variants["b"]["clicks_human_unique"]) == (18, 2)
    assert (campaign["stats"]["total"]["targeted"], campaign["stats"]["total"]["sent"]) == (20, 20)


def test_ses_throttling_delays_but_sends_everyone_once(client, monkeypatch):
    _people(client, "slow", 12)
    monkeypatch.setenv(outbox.MAX_SEND_RATE_ENV, "2")
    campaign_id = _create(client, "slow")
    client.ok("POST", f"/v1/campaigns/{campaign_id}/send")
    _drain_until(client, campaign_id, rounds=40, step_s=60)  # throttled sends come back after 30 s, 60 s, …
    mails = [m for m in client.outbox() if m["tags"].get("campaign") == campaign_id]
    assert sorted(m["to"][0] for m in mails) == sorted(f"slow.{i}@example.com" for i in range(12))
    assert os.environ[outbox.MAX_SEND_RATE_ENV] == "2"


def _links(html: str) -> list[str]:
    import re

    return re.findall(r'href="([^"]+)"', html)


@pytest.fixture(autouse=True)
def _quiet_dead_letters(client):
    yield
    assert client.dead_letters() == []
