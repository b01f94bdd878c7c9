"""Bot-proof clicks over HTTP on the local runtime: a mail-security scanner that opens every link of a mail moves
nothing and triggers nothing, while the person's own clicks count, before and after the sweep. The settle window
follows the runtime clock: nothing counts until the clock has moved past it and /_local/drain has run."""

from __future__ import annotations

import re

import pytest

from closedloop_local.client import LocalClient, link_containing

pytestmark = pytest.mark.e2e

SCANNER_BROWSER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131"


def newsletter(client: LocalClient, profile_id: str, key: str) -> dict:
    address = f"{profile_id}@example.net"
    client.put_profile(profile_id, address, first_name="Ada", timezone="Europe/Berlin")
    client.send(profile_id, "newsletter-demo", key)
    client.drain()
    (mail,) = client.outbox(to=address, template="newsletter-demo")
    return mail


def every_link(client: LocalClient, mail: dict) -> list[str]:
    """Every tracked link of the HTML part, the hidden honeypot included: what a scanner follows."""
    return sorted(set(re.findall(rf'href="({re.escape(client.base_url)}/r/[^"]+)"', mail["html"])))


def honeypot(client: LocalClient, mail: dict) -> str:
    (anchor,) = [a for a in re.findall(r"<a [^>]*>", mail["html"]) if 'aria-hidden="true"' in a]
    assert 'tabindex="-1"' in anchor
    return re.search(r'href="([^"]+)"', anchor).group(1)


def test_nothing_counts_until_the_clock_passes_the_settle_window(client: LocalClient):
    client.set_clock("2026-03-10T09:00:00Z")
    mail = newsletter(client, "p-settle", "settle-1")
    assert client.click(link_containing(mail["html"], "Australia", base_url=client.base_url)).status == 302
    drained = client.drain()
    assert drained["scheduled"] == {"reactions": 1}  # the settle step waits for the runtime clock
    assert client.profile("p-settle")["interests"] == {}
    client.advance(31)
    assert client.drain()["scheduled"] == {}
    assert client.profile("p-settle")["interests"] == {"travel": 1}


def test_a_scanner_sweeping_every_link_moves_nothing_and_triggers_nothing_then_the_person_counts(
    client: LocalClient,
):
    client.set_clock("2026-03-11T09:00:00Z")
    mail = newsletter(client, "p-swept", "swept-1")
    travel = link_containing(mail["html"], "Australia", base_url=client.base_url)
    for _ in range(2):  # Ada is interested already: one more travel click would send the travel offer
        client.click(travel)
    client.settle()
    assert client.profile("p-swept")["interests"] == {"travel": 2}
    before = client.profile("p-swept")["last_activity_at"]

    client.advance(3600)  # the next newsletter lands; the gateway's scanner opens every link, honeypot included
    links = every_link(client, mail)
    assert len(links) == 3 and honeypot(client, mail) in links
    answers = [client.click(link, user_agent=SCANNER_BROWSER_UA) for link in links]
    assert [a.status for a in answers] == [302, 302, 302]  # bots still get their redirect
    client.settle()
    swept = client.profile("p-swept")
    assert (swept["interests"], swept["last_activity_at"]) == ({"travel": 2}, before)
    assert client.outbox(to="p-swept@example.net", template="travel-offers") == []

    client.advance(20 * 60)  # Ada reads the mail later and clicks: she counts, and the loop closes
    client.click(travel)
    client.settle()
    assert client.profile("p-swept")["interests"] == {"travel": 3}
    assert len(client.outbox(to="p-swept@example.net", template="travel-offers")) == 1


@pytest.mark.parametrize(
    "method, user_agent",
    [("HEAD", SCANNER_BROWSER_UA), ("GET", "python-requests/2.32.3"), ("GET", "Barracuda Sentinel (EE)")],
)
def test_a_head_request_or_a_scanners_user_agent_gets_its_redirect_and_counts_nothing(
    client: LocalClient, method: str, user_agent: str
):
    client.set_clock("2026-03-12T09:00:00Z")
    profile_id = f"p-probe-{method.lower()}-{len(user_agent)}"
    mail = newsletter(client, profile_id, "probe-1")
    link = link_containing(mail["html"], "car", base_url=client.base_url)
    response = client.request(method, link, auth=False, headers={"User-Agent": user_agent})
    assert (response.status, response.location) == (302, "https://cars.example.com/aurora")
    client.settle()
    assert client.profile(profile_id)["interests"] == {}


def test_the_honeypot_alone_marks_the_clicks_around_it_and_not_the_persons_later_one(client: LocalClient):
    client.set_clock("2026-03-13T09:00:00Z")
    mail = newsletter(client, "p-honeypot", "honeypot-1")
    cars = link_containing(mail["html"], "car", base_url=client.base_url)
    assert client.click(honeypot(client, mail)).location == "https://example.com/"
    client.click(cars)  # the same machine, a second later, with a browser's user agent
    client.settle()
    assert client.profile("p-honeypot")["interests"] == {}
    client.advance(600)
    client.click(cars)
    client.settle()
    assert client.profile("p-honeypot")["interests"] == {"cars": 1}
