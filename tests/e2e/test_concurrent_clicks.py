"""A burst of simultaneous clicks on one link: every click counts, the follow-up goes out once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from closedloop_local.client import LocalClient, link_containing

pytestmark = pytest.mark.e2e

CLICKS = 30


@pytest.fixture(scope="module")
def burst(client: LocalClient) -> dict:
    client.set_clock("2026-03-02T08:00:00Z")
    client.put_profile("p-burst", "p-burst@example.net", first_name="Bea", timezone="Europe/Berlin")
    client.send("p-burst", "newsletter-demo", "newsletter-burst")
    client.drain()
    (newsletter,) = client.outbox(to="p-burst@example.net")
    link = link_containing(newsletter["html"], "Australia", base_url=client.base_url)
    client.set_clock("2026-03-02T09:00:00Z")
    with ThreadPoolExecutor(max_workers=CLICKS) as pool:
        responses = list(pool.map(lambda _: client.click(link), range(CLICKS)))
    drained = client.settle()
    return {
        "responses": responses,
        "drain": drained,
        "profile": client.profile("p-burst"),
        "outbox": client.outbox(to="p-burst@example.net"),
    }


def test_every_concurrent_click_is_redirected(burst: dict):
    assert [r.status for r in burst["responses"]] == [302] * CLICKS


def test_every_concurrent_click_is_counted_exactly_once(burst: dict):
    assert burst["profile"]["interests"]["travel"] == CLICKS


def test_the_threshold_offer_is_sent_exactly_once(burst: dict):
    offers = [m for m in burst["outbox"] if m["template"] == "travel-offers"]

    assert len(offers) == 1


def test_no_work_ends_in_a_dead_letter_queue(burst: dict):
    assert burst["drain"]["dead_letters"] == {}
