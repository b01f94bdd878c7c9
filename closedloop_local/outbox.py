"""Every message SES accepted, read from moto's SES backend in-process and parsed from its raw MIME.

SES keeps a send's EmailTags for its event destinations, but moto drops them; `capture_tags` wraps moto's SES v2
SendEmail so the outbox can show them too (the sender tags each mail with its template), and plays SES's mailbox
simulator (closedloop_local.ses_events): a mail to bounce@ or complaint@simulator.amazonses.com produces its event.
"""

from __future__ import annotations

import email
import email.policy
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
        if _over_rate():  # as SES answers a send beyond the account's maximum send rate
            from moto.core.exceptions import JsonRESTError

            throttled = JsonRESTError("TooManyRequestsException", "Maximum sending rate exceeded.")
            throttled.code = 429
            raise throttled
        answer = original(self)
        request = json.loads(self.body)
        tags = {t["Name"]: t["Value"] for t in request.get("EmailTags") or []}
        ses_id = json.loads(answer)["MessageId"]
        _TAGS[ses_id] = tags
        _simulate_feedback(request, ses_id, tags)
        return answer

    send_email._closedloop_tags = True
    SESV2Response.send_email = send_email
    SESV2Response.get_account = _get_account
    route_get_account()


def route_get_account() -> None:
    """moto routes no URL to SES v2 GetAccount (its catch-all pattern does not match): add the one botocore calls.
    Before moto's server starts (closedloop_local.aws.start_moto): it builds its routes on the first request."""
    import moto.sesv2.urls
    from moto.sesv2.responses import SESV2Response

    SESV2Response.get_account = _get_account
    moto.sesv2.urls.url_paths.setdefault("{0}/v2/email/account$", SESV2Response.dispatch)


# The local SES's maximum send rate (mails per second): CLOSEDLOOP_SES_MAX_SEND_RATE, read at every send so a test
# can set it while the runtime runs; beyond it, sends are refused as SES refuses them (TooManyRequestsException).
MAX_SEND_RATE_ENV = "CLOSEDLOOP_SES_MAX_SEND_RATE"
DEFAULT_MAX_SEND_RATE = 1000.0
_ACCEPTED: list[float] = []  # wall-clock instants of the sends accepted in the last second


def max_send_rate() -> float:
    import os

    try:
        return float(os.environ.get(MAX_SEND_RATE_ENV) or DEFAULT_MAX_SEND_RATE)
    except ValueError:
        return DEFAULT_MAX_SEND_RATE


def _over_rate() -> bool:
    import time

    now = time.monotonic()
    while _ACCEPTED and _ACCEPTED[0] <= now - 1.0:
        _ACCEPTED.pop(0)
    if len(_ACCEPTED) >= max_send_rate():
        return True
    _ACCEPTED.append(now)
    return False


def _get_account(self) -> str:
    """SES v2 GetAccount (moto has none): the quota the local SES plays."""
    import json

    rate = max_send_rate()
    return json.dumps(
        {
            "SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": rate, "SentLast24Hours": float(count())},
            "SendingEnabled": True,
            "ProductionAccessEnabled": True,
            "DedicatedIpAutoWarmupEnabled": False,
            "EnforcementStatus": "HEALTHY",
        }
    )


def _simulate_feedback(request: dict, ses_id: str, tags: dict[str, str]) -> None:
    """As SES's mailbox simulator: a mail to bounce@ / complaint@simulator.amazonses.com produces its event."""
    from datetime import UTC, datetime

    from . import ses_events

    destination = (request.get("Destination") or {}).get("ToAddresses") or []
    events = ses_events.simulated(
        destination,
        ses_message_id=ses_id,
        tags=tags,
        sender=request.get("FromEmailAddress") or "",
        now=datetime.now(UTC),
    )
    if events:
        ses_events.put_in_process(events)


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


def count() -> int:
    """How many messages SES accepted (cheap: nothing is parsed)."""
    return len(_sent_messages())


def _parsed(sent: Any) -> dict:
    if sent.id not in _PARSED:
        _PARSED[sent.id] = parse_raw(sent.raw_data, sent.id)
    return _PARSED[sent.id]


def raw_message(message_id: str) -> bytes | None:
    """The MIME message SES accepted, byte for byte, by closedloop message id or SES message id."""
    for sent in _sent_messages():
        if hasattr(sent, "raw_data") and message_id in (sent.id, _parsed(sent)["message_id"]):
            # moto keeps the raw message decoded as UTF-8; encoding it again gives back the bytes SES received.
            return sent.raw_data.encode("utf-8")
    return None


def messages(to: str | None = None, template: str | None = None) -> list[dict]:
    """Outbox entries, oldest first; `to` / `template` keep only messages to that address / from that template."""
    entries = []
    for sent in _sent_messages():
        if hasattr(sent, "raw_data"):
            tags = _TAGS.get(sent.id, {})
            entry = {**_parsed(sent), "template": tags.get("template"), "tags": tags}
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
