"""Tracked links: what a link does when clicked, and the content-addressed link sets tokens point into.

A link's actions are data interpreted by one table (LINK_ACTIONS). A template writes
`track("https://…", interest="travel")`; the click then adds 1 to the profile's `interests.travel`.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urlsplit

from closedloop.config import COUNTER_NAME
from closedloop.errors import TemplateError
from closedloop.values import CampaignRef, Link


def _interest(value: object) -> dict[str, int]:
    """interest="travel" or interest=["travel", "cars"]: +1 on each named counter."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not names:
        raise TemplateError("interest= takes a counter name or a list of names")
    for name in names:
        if not isinstance(name, str) or not COUNTER_NAME.match(name):
            raise TemplateError(f"interest counter {name!r} must look like 'travel' (a-z, 0-9, _)")
    return {name: 1 for name in names}


def _honeypot(value: object) -> dict[str, int]:
    """honeypot=True: the hidden link only machines follow (README "Bot-proof clicks"); it counts nothing."""
    if value is not True:
        raise TemplateError("honeypot= takes True")
    return {}


# action name -> function from the template's argument to counter increments
LINK_ACTIONS = {"interest": _interest, "honeypot": _honeypot}


def validate_actions(actions: dict) -> dict:
    """Check a link's actions at render time, so a click never meets an action it cannot apply."""
    for name, value in actions.items():
        if name not in LINK_ACTIONS:
            raise TemplateError(f"unknown link action {name!r}; known: {', '.join(sorted(LINK_ACTIONS))}")
        LINK_ACTIONS[name](value)
    return actions


def increments_of(actions: dict) -> dict[str, int]:
    """The counter increments a click on a link with these actions applies."""
    increments: dict[str, int] = {}
    for name, value in actions.items():
        for counter, amount in LINK_ACTIONS[name](value).items():
            increments[counter] = increments.get(counter, 0) + amount
    return increments


def is_honeypot(actions: dict) -> bool:
    return actions.get("honeypot") is True


def validate_target(url: object) -> str:
    """Only absolute http(s) targets: a tracked link must never become javascript: or a relative path."""
    if not isinstance(url, str):
        raise TemplateError("track() needs a URL string")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c in url for c in "\r\n\x00 "):
        raise TemplateError(f"track() needs an absolute http(s) URL, got {url[:80]!r}")
    return url


def link_set_id(links: list[Link], campaign: CampaignRef | None = None) -> str:
    """Content address of a link set: identical newsletters share one stored set. A campaign's set names its
    campaign, stage and variant (a click is counted there), so each of them has its own."""
    content: object = [[link.url, link.actions] for link in links]
    if campaign is not None:
        content = {"links": content, "campaign": [campaign.id, campaign.stage, campaign.variant]}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]
