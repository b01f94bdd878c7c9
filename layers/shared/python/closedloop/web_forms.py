"""What a person's browser (or a site's script) posts to the public pages: form-encoded or JSON, read strictly.

The answer follows the request: a JSON body (or an Accept header asking for JSON) gets JSON, a form gets an HTML
page. Either way a refusal carries a code and a sentence, and nothing has been written when it is given.
"""

from __future__ import annotations

import json
from typing import NamedTuple
from urllib.parse import parse_qs

from closedloop.errors import BodyTooLarge, ClosedloopError, InvalidInput, UnsupportedMediaType
from closedloop.http import header, raw_body

MAX_BODY_BYTES = 16 * 1024  # a sign-up or preference form is a few hundred bytes
MAX_FIELDS = 100
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


class Submission(NamedTuple):
    """The fields sent, each as the list of its values (checkboxes repeat a name), and the answer's format."""

    fields: dict[str, list[str]]
    is_json: bool


def wants_json(event: dict) -> bool:
    return _media_type(event) == JSON or JSON in (header(event, "accept") or "")


def read(event: dict) -> Submission:
    """The submitted fields; InvalidInput, BodyTooLarge or UnsupportedMediaType when they cannot be read."""
    raw = raw_body(event)
    if len(raw) > MAX_BODY_BYTES:
        raise BodyTooLarge(f"the form is larger than {MAX_BODY_BYTES // 1024} KiB")
    media_type = _media_type(event)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput("the form must be sent as UTF-8") from error
    if "\x00" in text:
        raise InvalidInput("the form must not contain NUL characters")
    if media_type == JSON:
        return Submission(_json_fields(text), True)
    if media_type in (FORM, ""):
        try:
            fields = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except ValueError as error:
            raise InvalidInput(f"the form has more than {MAX_FIELDS} fields") from error
        return Submission(fields, False)
    raise UnsupportedMediaType(f"send the form as {FORM} or as {JSON}")


def one(fields: dict[str, list[str]], name: str) -> str:
    """A field that holds one value ('' when absent)."""
    values = fields.get(name) or [""]
    if len(values) > 1:
        raise InvalidInput(f"{name} must be sent once")
    return values[0]


def error_status(error: ClosedloopError) -> int:
    return error.status if 400 <= error.status < 500 else 500


def json_answer(status: int, payload: dict) -> dict:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
        "body": json.dumps(payload),
    }


def _media_type(event: dict) -> str:
    return (header(event, "content-type") or "").split(";", 1)[0].strip().lower()


def _json_fields(text: str) -> dict[str, list[str]]:
    try:
        data = json.loads(text, parse_constant=lambda name: name)
    except (ValueError, RecursionError) as error:
        raise InvalidInput(f"the body is not valid JSON ({str(error)[:120]})") from error
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object")
    fields: dict[str, list[str]] = {}
    for name, value in data.items():
        if value is None:
            continue  # as if not sent
        if isinstance(value, str):
            fields[name] = [value]
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            fields[name] = value
        else:
            raise InvalidInput(f"{str(name)[:40]} must be text (or, for topics, a list of topic ids)")
    return fields
