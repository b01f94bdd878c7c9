"""Responses for the public tracking endpoints, which parse their API Gateway v2 events by hand (cold starts)."""

from __future__ import annotations

import base64
import json

# The smallest transparent GIF: 43 bytes.
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def redirect(location: str) -> dict:
    return {"statusCode": 302, "headers": {**NO_STORE, "Location": location}, "body": ""}


def not_found() -> dict:
    """Every bad token gets this: no Location, nothing that says why."""
    return json_response(404, {"code": "not_found", "message": "This link is not valid."})


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
        },
        "body": body,
    }


def json_response(status: int, payload: dict) -> dict:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(payload)}


def path_parameter(event: dict, name: str) -> str:
    return (event.get("pathParameters") or {}).get(name) or ""
