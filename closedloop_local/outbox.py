"""Every message SES accepted, read from moto's SES backend in-process and parsed from its raw MIME.

SES keeps a send's EmailTags for its event destinations, but moto drops them; `capture_tags` wraps moto's SES v2
SendEmail so the outbox can show them too (the sender tags each mail with its template).
"""

from __future__ import annotations

import email
import email.policy
import html
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

from .aws import ACCOUNT_ID, REGION

MESSAGE_ID_HEADER = "X-Closedloop-Message-Id"
_TAGS: dict[str, dict[str, str]] = {}  # SES message id -> EmailTags
_PARSED: dict[str, dict] = {}  # SES message id -> outbox entry (a sent message never changes)


def capture_tags() -> None:
    """Record the EmailTags of every SES v2 SendEmail moto answers (idempotent)."""
    import json

    from moto.sesv2.responses import SESV2Response

    original = SESV2Response.send_email
    if getattr(original, "_closedloop_tags", False):
        return

    def send_email(self) -> str:
        answer = original(self)
        tags = json.loads(self.body).get("EmailTags") or []
        _TAGS[json.loads(answer)["MessageId"]] = {t["Name"]: t["Value"] for t in tags}
        return answer

    send_email._closedloop_tags = True
    SESV2Response.send_email = send_email


def forget() -> None:
    """Drop what was remembered about sent messages (moto was reset)."""
    _TAGS.clear()
    _PARSED.clear()


def _sent_messages() -> list[Any]:
    from moto.ses.models import ses_backends  # sesv2 delegates sending to the v1 backend

    return list(ses_backends[ACCOUNT_ID][REGION].sent_messages)


def parse_raw(raw: str, ses_id: str) -> dict:
    """One raw MIME message as an outbox entry."""
    message = email.message_from_string(raw, policy=email.policy.default)
    text = html_body = None
    for part in message.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        if part.get_content_type() == "text/plain" and text is None:
            text = part.get_content()
        elif part.get_content_type() == "text/html" and html_body is None:
            html_body = part.get_content()
    sent_at = None
    if message["Date"]:
        sent_at = parsedate_to_datetime(str(message["Date"])).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers: dict[str, str] = {}
    for name, value in message.items():
        headers[name] = f"{headers[name]}, {value}" if name in headers else str(value)
    return {
        "message_id": str(message[MESSAGE_ID_HEADER] or ses_id),
        "ses_message_id": ses_id,
        "to": [address.addr_spec for address in message["To"].addresses] if message["To"] else [],
        "subject": str(message["Subject"] or ""),
        "html": html_body,
        "text": text,
        "headers": headers,
        "sent_at": sent_at,
    }


def messages(to: str | None = None, template: str | None = None) -> list[dict]:
    """Outbox entries, oldest first; `to` / `template` keep only messages to that address / from that template."""
    entries = []
    for sent in _sent_messages():
        if hasattr(sent, "raw_data"):
            if sent.id not in _PARSED:
                _PARSED[sent.id] = parse_raw(sent.raw_data, sent.id)
            tags = _TAGS.get(sent.id, {})
            entry = {**_PARSED[sent.id], "template": tags.get("template"), "tags": tags}
        else:  # a Simple send (the sender uses Raw; kept so nothing SES accepted is hidden)
            entry = {
                "message_id": sent.id,
                "ses_message_id": sent.id,
                "template": None,
                "tags": _TAGS.get(sent.id, {}),
                "to": list(getattr(sent, "destinations", {}).get("ToAddresses", [])),
                "subject": getattr(sent, "subject", ""),
                "html": getattr(sent, "body", None),
                "text": None,
                "headers": {},
                "sent_at": None,
            }
        if (to is None or to.lower() in (a.lower() for a in entry["to"])) and template in (None, entry["template"]):
            entries.append(entry)
    return entries


def page(entries: list[dict], *, title: str = "closedloop outbox", links: dict[str, str] | None = None) -> str:
    """A human page listing the messages, each HTML body in a sandboxed iframe whose links open in a new tab."""
    rows = []
    for i, entry in enumerate(entries, 1):
        body = entry["html"] or f"<pre>{html.escape(entry['text'] or '')}</pre>"
        # target=_blank so a click leaves the outbox page; allow-popups lets the sandboxed frame open it.
        body = "<base target='_blank'>" + body
        headers = "\n".join(f"{k}: {v}" for k, v in entry["headers"].items())
        rows.append(
            f"""<section id="m{i}">
<h2>{i}. {html.escape(entry["subject"])}</h2>
<p><b>to</b> {html.escape(", ".join(entry["to"]))} &middot; <b>sent</b> {html.escape(entry["sent_at"] or "?")}
&middot; <b>template</b> {html.escape(entry["template"] or "?")}
&middot; <b>id</b> <code>{html.escape(entry["message_id"])}</code></p>
<details><summary>headers</summary><pre>{html.escape(headers)}</pre></details>
<details><summary>text part</summary><pre>{html.escape(entry["text"] or "")}</pre></details>
<iframe sandbox="allow-popups allow-popups-to-escape-sandbox" srcdoc="{html.escape(body, quote=True)}"></iframe>
</section>"""
        )
    nav = " &middot; ".join(f'<a href="{html.escape(u)}">{html.escape(t)}</a>' for t, u in (links or {}).items())
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; max-width: 60rem; }}
section {{ border-top: 1px solid #ccc; padding: 1rem 0; }}
iframe {{ width: 100%; height: 28rem; border: 1px solid #ddd; }}
h2 {{ font-size: 1.1rem; margin: 0 0 .3rem; }}
</style></head>
<body><h1>{html.escape(title)}</h1><p>{len(entries)} message(s), oldest first. {nav}</p>
{"".join(rows) or "<p>Nothing sent yet.</p>"}
</body></html>"""
