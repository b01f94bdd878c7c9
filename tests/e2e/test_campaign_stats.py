"""A campaign's statistics and its goal over HTTP on the local runtime, as recipients and an integrator move them:
a reminder stage that leaves out who reached the goal (a buyer, a clicker), and the counters of a mail's open, a
person's click, a scanner's burst and an unsubscribe via the mail's own link."""

from __future__ import annotations

import re

import pytest

from closedloop_local.client import BROWSER_UA, LocalClient, link_containing

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("morning")]

SCANNER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131"
PURCHASE = {"order_id": "o-1", "total": 42.5, "currency": "EUR"}
REMINDER = {"id": "reminder", "after": "3d", "template": "we-miss-you", "to": "not_converted"}


def _campaign(client: LocalClient, group: str, **body) -> str:
    """A campaign of the newsletter to everyone whose attribute `group` is `group`, sent and drained."""
    rules = {"field": "attributes.group", "op": "==", "value": group}
    definition = {"name": group, "template": "newsletter-demo", "rules": rules, **body}
    campaign_id = client.ok("POST", "/v1/campaigns", definition)["campaign_id"]
    client.ok("POST", f"/v1/campaigns/{campaign_id}/send")
    client.drain()
    return campaign_id


def _people(client: LocalClient, group: str, *names: str) -> dict[str, str]:
    """name → address of subscribed profiles `<group>-<name>` in the group."""
    addresses = {}
    for name in names:
        addresses[name] = f"{group}.{name}@example.com"
        client.put_profile(f"{group}-{name}", addresses[name], first_name=name.title(), group=group)
    return addresses


def _mails(client: LocalClient, campaign_id: str, stage: str = "main") -> dict[str, dict]:
    """The campaign's mails of one stage by recipient address (each recipient at most once)."""
    mails = [m for m in client.outbox() if m["tags"].get("campaign") == campaign_id and m["tags"]["stage"] == stage]
    by_address = {m["to"][0]: m for m in mails}
    assert len(by_address) == len(mails), f"a recipient got the {stage} mail twice"
    return by_address


def _finished(client: LocalClient, campaign_id: str) -> dict:
    """Drain until the campaign is sent (quiet hours never end a test: the clock starts at 09:00 Berlin)."""
    for _ in range(10):
        client.drain()
        campaign = client.ok("GET", f"/v1/campaigns/{campaign_id}")
        if campaign["status"] == "sent":
            return campaign
        client.advance(900)
    raise AssertionError(f"campaign {campaign_id} is {campaign['status']}, not sent")


def _tracked(client: LocalClient, html: str, kind: str) -> list[str]:
    """The mail's public links of one kind: `r` (tracked links, honeypot included), `o` (open pixel), `u`."""
    return sorted(set(re.findall(rf'(?:href|src)="({re.escape(client.base_url)}/{kind}/[^"]+)"', html)))


def test_a_purchase_goal_reminds_the_clicker_and_the_idle_one_but_not_the_buyer(client: LocalClient):
    addresses = _people(client, "buy", "buyer", "clicker", "idle")
    campaign_id = _campaign(client, "buy", goal={"event": "purchase"}, stages=[REMINDER], context={"inactive_days": 3})
    sent = _mails(client, campaign_id)
    assert set(sent) == set(addresses.values())

    client.advance(600)  # after the mail, Ada clicks (no purchase) and Bob buys in the shop (no click)
    client.click(link_containing(sent[addresses["clicker"]]["html"], "Australia", base_url=client.base_url))
    client.settle()
    client.ok("POST", "/v1/events", {"profile_id": "buy-buyer", "type": "purchase", "properties": PURCHASE})
    client.drain()
    client.advance(3 * 86400)
    campaign = _finished(client, campaign_id)

    reminded = _mails(client, campaign_id, "reminder")
    assert set(reminded) == {addresses["clicker"], addresses["idle"]}  # a click is not this campaign's goal
    assert {m["tags"]["template"] for m in reminded.values()} == {"we-miss-you"}
    main, reminder = campaign["stats"]["stages"]["main"]["total"], campaign["stats"]["stages"]["reminder"]["total"]
    assert (main["sent"], main["clicks_human_unique"], main["conversions"], main["revenue"]) == (3, 1, 1, {"EUR": 42.5})
    assert (reminder["sent"], reminder["conversions"]) == (2, 0)
    assert campaign["stats"]["total"]["conversions"] == 1


def test_a_click_goal_reminds_only_the_idle_one_not_the_clicker_nor_the_buyer_who_clicked_through(
    client: LocalClient,
):
    addresses = _people(client, "click", "buyer", "clicker", "idle")
    campaign_id = _campaign(client, "click", goal={"click": True}, stages=[REMINDER], context={"inactive_days": 3})
    sent = _mails(client, campaign_id)
    assert set(sent) == set(addresses.values())

    client.advance(600)
    client.click(link_containing(sent[addresses["clicker"]]["html"], "car", base_url=client.base_url))
    client.advance(60)  # a minute apart: two people, not one scanner's burst
    client.click(link_containing(sent[addresses["buyer"]]["html"], "Australia", base_url=client.base_url))
    client.settle()
    client.ok("POST", "/v1/events", {"profile_id": "click-buyer", "type": "purchase", "properties": PURCHASE})
    client.drain()
    client.advance(3 * 86400)
    campaign = _finished(client, campaign_id)

    assert set(_mails(client, campaign_id, "reminder")) == {addresses["idle"]}
    main = campaign["stats"]["stages"]["main"]["total"]
    assert (main["clicks_human_unique"], main["conversions"]) == (2, 2)
    assert main["revenue"] == {}  # the purchase is not the goal: no revenue is attributed
    assert campaign["stats"]["stages"]["reminder"]["total"]["sent"] == 1


def test_an_open_a_click_a_scanners_burst_and_an_unsubscribe_show_in_the_statistics(client: LocalClient):
    addresses = _people(client, "react", "reader", "scanned", "leaver", "idle")
    campaign_id = _campaign(client, "react")
    sent = _mails(client, campaign_id)
    assert set(sent) == set(addresses.values())

    client.advance(600)  # the reader opens the mail (images on) and clicks one of its links
    reader = sent[addresses["reader"]]["html"]
    (pixel,) = _tracked(client, reader, "o")
    assert client.request("GET", pixel, auth=False, headers={"User-Agent": BROWSER_UA}).status == 200
    assert client.click(link_containing(reader, "Australia", base_url=client.base_url)).status == 302

    client.advance(600)  # a gateway's scanner checks every link of another recipient's mail with HEAD
    swept = _tracked(client, sent[addresses["scanned"]]["html"], "r")
    assert len(swept) == 3  # travel, car and the hidden honeypot
    for link in swept:
        assert client.request("HEAD", link, auth=False, headers={"User-Agent": SCANNER_UA}).status == 302

    client.advance(600)  # the leaver follows the mail's unsubscribe link and confirms on the page
    (leave,) = _tracked(client, sent[addresses["leaver"]]["html"], "u")
    assert client.request("GET", leave, auth=False, headers={"User-Agent": BROWSER_UA}).status == 200
    form = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": BROWSER_UA}
    assert client.request("POST", leave, b"", auth=False, headers=form).status == 200
    client.settle()

    stats = client.ok("GET", f"/v1/campaigns/{campaign_id}")["stats"]
    counted = {k: stats["total"][k] for k in ("sent", "opens_unique", "clicks_human", "clicks_bot", "unsubscribes")}
    assert counted == {"sent": 4, "opens_unique": 1, "clicks_human": 1, "clicks_bot": 3, "unsubscribes": 1}
    assert stats["total"]["links"] == {"https://travel.example.com/australia": 1}
    assert stats["stages"]["main"]["total"] == stats["total"]
    assert client.profile("react-leaver")["status"] == "unsubscribed"
    assert client.profile("react-scanned")["interests"] == {}


@pytest.fixture(autouse=True)
def _no_dead_letters(client: LocalClient):
    yield
    assert client.dead_letters() == []
