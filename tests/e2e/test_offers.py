"""Offers end to end on the local runtime: clicks make a person's interest in cars, the offers-digest then lists car
offers first, CSS-inlined, and a click on an offer feeds the same counter again."""

from __future__ import annotations

import pytest

from closedloop_local.client import LocalClient, link_containing, links

pytestmark = pytest.mark.e2e

START = "2026-11-23T08:00:00Z"
PERSON = "p-offers"
ADDRESS = "p-offers@example.net"


@pytest.fixture(scope="module")
def digest(client: LocalClient) -> dict:
    client.set_clock(START)
    client.put_profile(PERSON, ADDRESS, first_name="Carla")
    # Five human clicks on a car link make interests.cars = 5 (the loop, not a write of the counter).
    client.send(PERSON, "car-offers", "cars-1")
    client.drain()
    (cars,) = client.outbox(to=ADDRESS, template="car-offers")
    test_drive = link_containing(cars["html"], "test drive", base_url=client.base_url)
    for _ in range(5):
        assert client.click(test_drive).status == 302
    client.settle()
    before = client.profile(PERSON)
    client.send(PERSON, "offers-digest", "digest-1")
    client.drain()
    (mail,) = client.outbox(to=ADDRESS, template="offers-digest")
    return {"before": before, "mail": mail, "after_send": client.profile(PERSON)}


def test_the_digest_lists_car_offers_first_for_a_person_interested_in_cars(digest):
    assert digest["before"]["interests"] == {"cars": 5}
    offers = [text for text, _ in links(digest["mail"]["html"]) if text == "See the offer"]
    html = digest["mail"]["html"]
    assert len(offers) == 3
    assert html.index("A weekend with the electric estate") < html.index("Winter tyres fitted")
    assert html.index("Winter tyres fitted") < html.index("Lease return check")
    assert "Hi Carla," in html and "Hi Carla," in digest["mail"]["text"]


def test_the_digest_html_carries_its_styles_inline(digest):
    html = digest["mail"]["html"]
    assert '<h2 class="offer-title" style="font-size: 18px;' in html
    assert "@media (max-width: 620px)" in html  # kept in <style> for the clients that honour it


def test_the_offers_the_person_got_are_on_their_profile(digest):
    assert digest["after_send"]["offers_sent"] == {"c-ev-weekend": 1, "c-tyres": 1, "c-lease": 1}


def test_a_click_on_an_offer_adds_to_the_interest_in_its_topic(client: LocalClient, digest):
    first_offer = link_containing(digest["mail"]["html"], "See the offer", base_url=client.base_url)
    assert client.click(first_offer).status == 302
    client.settle()
    assert client.profile(PERSON)["interests"] == {"cars": 6}
