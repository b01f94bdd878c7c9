"""Rules for text and numbers that come from outside, shared by every door (admin API, tracking pages, mail).

They refuse what would break later, far from the request that brought it: a header that the `email` package would
split, an address SES refuses, a number DynamoDB cannot hold.
"""

from __future__ import annotations

import math
import re

from closedloop.errors import InvalidInput

# Every character str.splitlines() splits on, which is the rule the `email` package applies when it writes a header.
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")

# A dot-atom local part and a domain of LDH labels, ASCII only: what SES accepts. No quoted local parts, no
# comments, no IP literals: real subscribers do not have them, and each one would be refused at send time.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^(?P<local>{_LOCAL})@(?P<domain>(?:{_LABEL}\.)+(?:[A-Za-z]{{2,63}}|xn--[A-Za-z0-9-]{{1,59}}))$")

_BUSINESS_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
BUSINESS_KEY = _BUSINESS_KEY  # public for the OpenAPI document (closedloop.api.models)

# DynamoDB numbers: up to 38 significant digits, magnitudes from 1E-130 to below 1E+126.
DYNAMO_DIGITS = 38
DYNAMO_MAX_EXPONENT = 125
DYNAMO_MIN_EXPONENT = -130


def has_line_break(text: str) -> bool:
    return any(c in LINE_BREAKS for c in text)


def is_email(text: str) -> bool:
    """An address SES will take: ASCII dot-atom @ a domain with a top-level label; at most 254 characters."""
    match = _EMAIL.match(text)
    return bool(match) and len(text) <= 254 and len(match.group("local")) <= 64


def normalise_email(text: str) -> str:
    """The one spelling an address is stored and compared in: trimmed, lower-cased."""
    return text.strip().lower()


def fits_dynamodb(number: int | float) -> bool:
    """Whether DynamoDB can store the number exactly enough (finite, ≤ 38 digits, in its exponent range)."""
    from decimal import Decimal, InvalidOperation  # not at import: the click path loads this module

    if isinstance(number, float) and not math.isfinite(number):
        return False
    try:
        value = Decimal(str(number))
    except InvalidOperation:
        return False
    if not value.is_finite():
        return False
    if value.is_zero():
        return True
    _, digits, exponent = value.as_tuple()  # not normalize(): it rounds to the context's 28 digits
    while len(digits) > 1 and digits[-1] == 0:
        digits, exponent = digits[:-1], exponent + 1
    magnitude = len(digits) + exponent - 1  # the power of ten of the leading digit
    return len(digits) <= DYNAMO_DIGITS and DYNAMO_MIN_EXPONENT <= magnitude <= DYNAMO_MAX_EXPONENT


def fields_of(body: object, required: set[str], optional: set[str]) -> dict:
    """A JSON object with exactly these fields; the first missing or unknown field is named."""
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    missing = required - set(body)
    if missing:
        raise InvalidInput(f"missing field(s): {', '.join(sorted(missing))}")
    unknown = set(body) - required - optional
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))[:200]}")
    return body


def business_key(value: object, name: str) -> str:
    """An integrator's idempotency key or event id: present means a real key, never a falsy stand-in."""
    if not isinstance(value, str) or not _BUSINESS_KEY.match(value):
        raise InvalidInput(f"{name} must be 1-128 characters: letters, digits, '_', '.', ':' or '-'")
    return value
