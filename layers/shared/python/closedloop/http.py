"""Responses for the public tracking endpoints, which parse their API Gateway v2 events by hand (cold starts).

A recipient never sees JSON: every answer on /r, /o and /u is a redirect, a pixel or a small HTML page.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qs

# The smallest transparent GIF: 43 bytes.
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
MAX_FORM_BYTES = 4096


def redirect(location: str) -> dict:
    return {"statusCode": 302, "headers": {**NO_STORE, "Location": location}, "body": ""}


def not_found() -> dict:
    """Every bad token gets this: no Location, nothing that says why."""
    from closedloop import pages  # only on the error path

    return html_page(404, pages.invalid_link())


def pixel() -> dict:
    return {
        "statusCode": 200,
        "headers": {**NO_STORE, "Content-Type": "image/gif"},
        "body": base64.b64encode(PIXEL_GIF).decode(),
        "isBase64Encoded": True,
    }


def html_page(status: int, body: str) -> dict:
    return {
        "statusCode": status,
        "headers": {
            **NO_STORE,
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
            "X-Content-Type-Options": "nosniff",
        },
        "body": body,
    }


def path_parameter(event: dict, name: str) -> str:
    return (event.get("pathParameters") or {}).get(name) or ""


def method(event: dict) -> str:
    return event["requestContext"]["http"]["method"]


def header(event: dict, name: str) -> str | None:
    """A request header (API Gateway v2 lower-cases their names)."""
    return (event.get("headers") or {}).get(name)


def raw_body(event: dict) -> bytes:
    """The request body as sent: API Gateway passes text as it is (lone surrogates kept for the UTF-8 check to
    refuse) and anything else base64-encoded. InvalidInput when that encoding is broken."""
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return body.encode("utf-8", "surrogatepass")
    try:
        return base64.b64decode(body)
    except (binascii.Error, ValueError) as error:
        from closedloop.errors import InvalidInput  # only on this error path: the click path stays lean

        raise InvalidInput("the body could not be read") from error


def form_field(event: dict, name: str) -> str:
    """One field of a form-encoded body ('' if absent, unreadable or too large)."""
    body = event.get("body") or ""
    try:
        raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
        if len(raw) > MAX_FORM_BYTES:
            return ""
        values = parse_qs(raw.decode("utf-8"), max_num_fields=20).get(name) or [""]
    except ValueError:
        return ""
    return values[0].strip()
