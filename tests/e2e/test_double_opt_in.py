"""Double opt-in over HTTP on the local runtime: the same bytes for every address, and a confirmation that holds."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from closedloop_local.client import LocalClient

pytestmark = pytest.mark.e2e
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def sign_up(client: LocalClient, address: str, **fields):
    body = urlencode({"email": address, **fields}).encode()
    return client.request("POST", "/subscribe", body, auth=False, headers=FORM)


def test_a_sign_up_answers_the_same_bytes_whoever_asks_and_a_confirmation_subscribes_once(client: LocalClient):
    client.put_profile("p-e2e-subscribed", "e2e-subscribed@example.net")
    answers = {
        sign_up(client, "e2e-new@example.net", first_name="Nia").body,
        sign_up(client, "e2e-subscribed@example.net").body,
        sign_up(client, "e2e-bot@example.net", website="https://spam.example").body,
    }
    assert len(answers) == 1
    client.drain()
    assert client.outbox(to="e2e-subscribed@example.net") == client.outbox(to="e2e-bot@example.net") == []
    (mail,) = client.outbox(to="e2e-new@example.net", template="confirm")
    assert "List-Unsubscribe" not in mail["headers"]
    link = re.search(r"https?://\S+/c/[A-Za-z0-9._~:-]+", mail["text"]).group(0)
    assert client.request("GET", link, auth=False).status == 200
    assert client.ok("GET", "/v1/profiles?email=e2e-new@example.net")["status"] == "pending"
    assert [client.request("POST", link, b"", auth=False, headers=FORM).status for _ in range(2)] == [200, 200]
    client.drain()
    assert client.ok("GET", "/v1/profiles?email=e2e-new@example.net")["consent"]["source"] == "double_opt_in"
    assert len(client.outbox(to="e2e-new@example.net", template="welcome")) == 1


def test_an_oversized_sign_up_is_refused_with_413(client: LocalClient):
    answer = client.request("POST", "/subscribe", {"email": "a@example.net", "first_name": "x" * 20_000}, auth=False)
    assert (answer.status, answer.json()["code"]) == (413, "payload_too_large")
