"""Request bodies in, JSON out: the size limit, what JSON may hold, and the error shape every admin route shares.

A body is refused with 400 before anything is written when DynamoDB or JSON could not hold it faithfully: not
UTF-8, NaN or Infinity, numbers beyond DynamoDB's 38 digits, NUL in any text, nesting deeper than MAX_DEPTH.
"""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import Response

from closedloop.errors import ClosedloopError, InvalidInput
from closedloop.http import raw_body
from closedloop.validation import fits_dynamodb

MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 16  # far beyond any real profile, event or message body; DynamoDB itself stops at 32


class PayloadTooLarge(ClosedloopError):
    code = "payload_too_large"
    status = 413


def json_body(event) -> object:
    """The request body as checked JSON (see the module docstring)."""
    raw = raw_body(event.raw_event)
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES // 1024} KiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput("the body must be JSON encoded as UTF-8") from error
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError as error:
        raise InvalidInput(f"the body is nested deeper than {MAX_DEPTH} levels") from error
    except ValueError as error:
        raise InvalidInput(f"the body is not valid JSON ({str(error)[:120]})") from error
    _check(value, depth=0)
    return value


def _refuse_constant(name: str) -> object:
    raise InvalidInput(f"{name} is not a number JSON can carry; send a finite number or null")


def _check(value: object, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InvalidInput(f"the body is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, depth + 1)
    elif isinstance(value, str):
        _check_text(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and not fits_dynamodb(value):
        raise InvalidInput(f"the number {str(value)[:40]} has more than 38 digits or is out of range")


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise InvalidInput("text in the body must not contain NUL characters")


def json_response(status: int, payload: dict) -> Response:
    return Response(status_code=status, content_type="application/json", body=json.dumps(payload))


def error_response(error: ClosedloopError) -> Response:
    return json_response(error.status, {"code": error.code, "message": error.message})
