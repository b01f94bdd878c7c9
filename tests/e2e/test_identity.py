"""One profile per address under real concurrency: concurrent PUTs run in separate execution environments."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from closedloop_local.client import LocalClient

pytestmark = pytest.mark.e2e


def test_concurrent_puts_of_one_address_under_two_ids_let_exactly_one_win(client: LocalClient):
    address = f"race-{uuid.uuid4().hex[:8]}@example.net"
    ids = [f"p-race-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    body = {"email": address, "status": "subscribed"}
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda pid: client.request("PUT", f"/v1/profiles/{pid}", body), ids))
    assert sorted(answer.status for answer in answers) == [201, 409]
    (loser,) = [answer for answer in answers if answer.status == 409]
    assert loser.json()["code"] == "email_taken"
    (winner,) = [pid for pid, answer in zip(ids, answers, strict=True) if answer.status == 201]
    assert client.ok("GET", f"/v1/profiles?email={address}")["profile_id"] == winner
