"""Unsubscribing. GET never changes consent (scanners prefetch links); POST does, by form or RFC 8058 one-click."""

from __future__ import annotations

from datetime import datetime
from html import escape

from closedloop.ports import ProfileStore
from closedloop.tokens import MessageToken

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}
button{{font-size:1rem;padding:.6rem 1.2rem}}</style></head><body><h1>{title}</h1>{content}</body></html>"""


def confirmation_page(action_url: str) -> str:
    form = (
        f'<p>Do you want to stop receiving these e-mails?</p><form method="post" action="{escape(action_url)}">'
        '<button type="submit">Unsubscribe</button></form>'
    )
    return PAGE.format(title="Unsubscribe", content=form)


def done_page() -> str:
    return PAGE.format(title="You are unsubscribed", content="<p>You will not receive these e-mails any more.</p>")


def unsubscribe(token: MessageToken, profiles: ProfileStore, now: datetime) -> bool:
    """Idempotent; False when the profile no longer exists (the answer to the recipient is the same)."""
    return profiles.set_status(token.profile_id, "unsubscribed", now)
