"""The sign-up, confirm, preference and unsubscribe pages in chromium, with JavaScript off: each renders, its labels
are attached, focus is visible, and its form does what it says (checked through the admin API)."""

from __future__ import annotations

import re

import pytest

from closedloop_local.client import LocalClient

pytestmark = pytest.mark.browser


def focused_outline(page) -> str:
    return page.evaluate("getComputedStyle(document.activeElement).outlineStyle")


def confirm_link(client: LocalClient, address: str) -> str:
    client.drain()
    (mail,) = client.outbox(to=address, template="confirm")
    return re.search(r"https?://\S+/c/[A-Za-z0-9._~:-]+", mail["text"]).group(0)


def profile_by_address(client: LocalClient, address: str) -> dict:
    return client.ok("GET", f"/v1/profiles?email={address}")


def test_signing_up_confirming_and_choosing_topics_in_a_browser(client: LocalClient, page, shoot):
    address = "browser-ada@example.net"
    page.goto(f"{client.base_url}/subscribe")
    shoot("1-subscribe-form")
    page.get_by_label("Your e-mail address").fill(address)
    page.get_by_label("Your first name (optional)").fill("Ada <b>Lovelace</b>")
    page.get_by_label("Travel offers").check()
    page.get_by_label("Tips and how-tos").check()
    honeypot = page.locator("#website").bounding_box()
    assert honeypot is None or honeypot["x"] < 0  # off-screen for people, there for bots
    page.get_by_role("button", name="Subscribe").click()
    assert page.get_by_role("heading", name="Check your inbox").is_visible()
    shoot("2-check-your-inbox")
    assert profile_by_address(client, address)["status"] == "pending"

    page.goto(confirm_link(client, address))
    button = page.get_by_role("button", name="Confirm")
    assert button.is_visible() and page.get_by_text("Travel offers, Tips and how-tos").is_visible()
    page.keyboard.press("Tab")
    assert focused_outline(page) == "solid"
    shoot("3-confirm-page")
    assert profile_by_address(client, address)["status"] == "pending"  # showing the page changed nothing
    button.click()
    assert page.get_by_role("heading", name="You are subscribed").is_visible()
    shoot("4-confirmed")
    profile = profile_by_address(client, address)
    assert (profile["status"], profile["topics"]) == ("subscribed", ["travel", "tips"])
    assert profile["consent"]["source"] == "double_opt_in" and "Chrome" in profile["consent"]["user_agent"]
    assert profile["attributes"]["first_name"] == "Ada <b>Lovelace</b>"

    client.drain()
    (welcome,) = client.outbox(to=address, template="welcome")
    preferences = re.search(r"https?://\S+/p/[A-Za-z0-9._:-]+", welcome["text"]).group(0)
    page.goto(preferences)
    assert page.get_by_label("Travel offers").is_checked() and not page.get_by_label("Cars and mobility").is_checked()
    page.get_by_label("Travel offers").focus()
    assert focused_outline(page) == "solid"
    shoot("5-preferences")
    page.get_by_label("Travel offers").uncheck()
    page.get_by_label("News and product updates").check()
    page.get_by_role("button", name="Save my choice").click()
    assert page.get_by_role("heading", name="Your choice is saved").is_visible()
    shoot("6-preferences-saved")
    assert profile_by_address(client, address)["topics"] == ["news", "tips"]

    page.goto(preferences)
    page.get_by_role("button", name="Unsubscribe from all").click()
    assert page.get_by_role("heading", name="You are unsubscribed").is_visible()
    shoot("7-left-entirely")
    profile = profile_by_address(client, address)
    assert (profile["status"], profile["consent"]["source"]) == ("unsubscribed", "preference_page")


def test_the_unsubscribe_page_asks_then_unsubscribes(client: LocalClient, page, shoot):
    address = "browser-carl@example.net"
    client.put_profile("p-browser-carl", address, first_name="Carl")
    client.send("p-browser-carl", "newsletter-demo", "browser-1")
    client.drain()
    (mail,) = client.outbox(to=address)
    page.goto(mail["headers"]["List-Unsubscribe"].strip("<>"))
    button = page.get_by_role("button", name="Unsubscribe")
    assert button.is_visible()
    shoot("1-unsubscribe-page")
    assert client.profile("p-browser-carl")["status"] == "subscribed"
    button.click()
    assert page.get_by_role("heading", name="You are unsubscribed").is_visible()
    shoot("2-unsubscribed")
    assert client.profile("p-browser-carl")["consent"]["source"] == "unsubscribe_link"


def test_a_sign_up_the_server_refuses_gets_a_page_that_says_why(client: LocalClient, page, shoot):
    page.goto(f"{client.base_url}/subscribe")
    page.get_by_label("Your e-mail address").fill("ada@localhost")  # the browser's check lets it through
    page.get_by_role("button", name="Subscribe").click()
    assert page.get_by_role("heading", name="Please check your entry").is_visible()
    assert page.get_by_text("email must be an address like ada@example.com").is_visible()
    shoot("1-refused")
    assert client.request("GET", "/v1/profiles?email=ada@localhost").status == 400
