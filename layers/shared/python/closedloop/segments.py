"""Segments (target groups): rules as JSON data, checked once, then evaluated against one profile at a time.

A rule is a tree:

    {"all": [rule, ...]}   every rule holds          {"any": [rule, ...]}   at least one holds
    {"not": rule}          the rule does not hold     {"field": "...", "op": "...", "value": ...}   a condition

Fields: `attributes.<name>`, `interests.<counter>`, `event_counts.<type>`, `revenue.<currency>`, `purchase_count`,
`topics`, `status`, `clicked_campaigns` (campaign ids, for `contains`), and the instants `last_purchase_at`,
`last_activity_at`, `created_at`, `last_opened_at`, `last_clicked_at` (plus `attributes.birthday` for
`within_next`). Operators: `== != < <= > >= in not_in exists not_exists contains`, and for instants the relative
`older_than` / `within_last` ("90d", "12h", "2w"); `within_next` asks whether the next anniversary of
`attributes.birthday` comes within that many days (29 February is celebrated on 28 February in common years).

A field the profile does not have matches only `not_exists`, `!=` and `not_in`: "never purchased" is not "purchased
more than 90 days ago". `topics` of a person who never chose holds every topic (closedloop.profiles.Profile.receives).

`parse` refuses a bad rule with a sentence naming the node (`rules.all[1].op: unknown operator "=~" ...`), so a
marketer sees the mistake when saving the segment, never while a campaign is sending.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from closedloop.clock import parse_instant
from closedloop.errors import InvalidInput
from closedloop.profiles import ATTRIBUTE_NAME, Profile

MAX_DEPTH = 8
MAX_NODES = 200
MAX_LIST = 500
MAX_TEXT = 500

_KEY = re.compile(r"^[A-Za-z0-9_:-]{1,64}$")  # a counter, an event type or a currency after its map's name
_DURATION = re.compile(r"^([1-9][0-9]{0,4})([hdw])$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}

MAPS = ("attributes", "interests", "event_counts", "revenue")
NUMBERS = ("purchase_count",)
# Behaviour kept on the profile so a segment reads each profile once: when the person last opened (any mail) and
# last clicked (a person's click, not a scanner's), and which campaigns they clicked.
INSTANTS = ("last_purchase_at", "last_activity_at", "created_at", "last_opened_at", "last_clicked_at")
LISTS = ("clicked_campaigns",)
PLAIN = ("status", "topics", *NUMBERS, *INSTANTS, *LISTS)

COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
MEMBERSHIP = ("in", "not_in")
PRESENCE = ("exists", "not_exists")
RELATIVE = ("older_than", "within_last")
OPERATORS = (*COMPARISONS, *MEMBERSHIP, *PRESENCE, "contains", *RELATIVE, "within_next")

Check = Callable[[Profile, datetime], bool]


@dataclass(frozen=True)
class Segment:
    """A checked rule, ready to evaluate; `rules` is the JSON it was parsed from (what the API stores and shows)."""

    rules: dict
    check: Check

    def matches(self, profile: Profile, now: datetime) -> bool:
        return self.check(profile, now)

    @property
    def reads(self) -> frozenset[str]:
        """The profile fields the rules read (`attributes.country`, `last_purchase_at`, …): all a scan needs to
        fetch to evaluate them."""
        return frozenset(_fields_of(self.rules))


def parse(rules: object, where: str = "rules") -> Segment:
    """Check a rule tree and build its evaluator; InvalidInput names the first bad node."""
    counter = [0]
    return Segment(rules if isinstance(rules, dict) else {}, _node(rules, where, 0, counter))


def _fields_of(node: dict) -> set[str]:
    """The fields a checked rule tree names (a birthday is read in the person's zone, so that too)."""
    if "field" in node:
        return {node["field"], "attributes.timezone"} if node.get("op") == "within_next" else {node["field"]}
    ((_, inner),) = node.items()
    return set().union(*(_fields_of(item) for item in (inner if isinstance(inner, list) else [inner])))


def _node(node: object, where: str, depth: int, counter: list[int]) -> Check:
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise InvalidInput(f"{where}: a segment has at most {MAX_NODES} rules and conditions")
    if depth > MAX_DEPTH:
        raise InvalidInput(f"{where}: rules nest at most {MAX_DEPTH} deep")
    if not isinstance(node, dict):
        raise InvalidInput(
            f'{where}: must be an object: {{"all": [...]}}, {{"any": [...]}}, {{"not": ...}} or a condition'
        )
    if "field" in node or "op" in node:
        return _condition(node, where)
    if len(node) != 1 or next(iter(node)) not in ("all", "any", "not"):
        raise InvalidInput(
            f'{where}: must have exactly one of "all", "any", "not", or be a condition with "field" and "op"'
        )
    ((kind, inner),) = node.items()
    if kind == "not":
        check = _node(inner, f"{where}.not", depth + 1, counter)
        return lambda profile, now: not check(profile, now)
    if not isinstance(inner, list) or not inner:
        raise InvalidInput(f"{where}.{kind}: must be a non-empty list of rules")
    checks = [_node(item, f"{where}.{kind}[{n}]", depth + 1, counter) for n, item in enumerate(inner)]
    combine = all if kind == "all" else any
    return lambda profile, now: combine(check(profile, now) for check in checks)


def _condition(node: dict, where: str) -> Check:
    unknown = set(node) - {"field", "op", "value"}
    if unknown:
        raise InvalidInput(
            f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))[:100]} (known: field, op, value)"
        )
    field_name, op = node.get("field"), node.get("op")
    read = _field(field_name, f"{where}.field")
    if op not in OPERATORS:
        raise InvalidInput(f"{where}.op: unknown operator {str(op)[:20]!r} (known: {', '.join(OPERATORS)})")
    if op in PRESENCE:
        if "value" in node:
            raise InvalidInput(f"{where}.value: {op} takes no value")
        exists = op == "exists"
        return lambda profile, now: (read(profile) is not None) == exists
    if "value" not in node:
        raise InvalidInput(f"{where}.value: {op} needs a value")
    value = node["value"]
    if op in RELATIVE or op == "within_next":
        return _relative(field_name, op, value, read, where)
    if field_name in INSTANTS:
        raise InvalidInput(f"{where}.op: {field_name} is an instant: use older_than, within_last, exists or not_exists")
    if op in MEMBERSHIP:
        if not isinstance(value, list) or not value or len(value) > MAX_LIST:
            raise InvalidInput(f"{where}.value: {op} needs a list of 1 to {MAX_LIST} values")
        for n, item in enumerate(value):
            _scalar(item, f"{where}.value[{n}]")
        members = [_normal(item) for item in value]
        inside = op == "in"
        return lambda profile, now: _member(read(profile), members) == inside
    _scalar(value, f"{where}.value")
    if op == "contains":
        return _contains(field_name, value, read)
    if op in ("<", "<=", ">", ">=") and not _is_number(value):
        raise InvalidInput(f"{where}.value: {op} compares numbers: give a number")
    return _compare(op, _normal(value), read)


def _field(name: object, where: str) -> Callable[[Profile], object]:
    """How to read a field from a profile (None: the profile has no such value)."""
    if not isinstance(name, str):
        raise InvalidInput(f"{where}: give a field name such as attributes.country or interests.travel")
    if name in PLAIN:
        return lambda profile: getattr(profile, name, None)
    head, _, key = name.partition(".")
    if head in MAPS and key:
        pattern = ATTRIBUTE_NAME if head == "attributes" else _KEY
        if not pattern.match(key):
            raise InvalidInput(f"{where}: {key[:64]!r} is not a valid name after {head}.")
        return lambda profile: (getattr(profile, head) or {}).get(key)
    known = ", ".join([*(f"{m}.<name>" for m in MAPS), *PLAIN])
    raise InvalidInput(f"{where}: unknown field {name[:80]!r} (known: {known})")


def _relative(field_name: str, op: str, value: object, read, where: str) -> Check:
    if not isinstance(value, str) or not _DURATION.match(value):
        raise InvalidInput(f'{where}.value: {op} needs a duration such as "90d", "12h" or "2w"')
    amount, unit = _DURATION.match(value).groups()
    span = int(amount) * _UNITS[unit]
    if op == "within_next":
        if field_name != "attributes.birthday":
            raise InvalidInput(f"{where}.op: within_next asks about attributes.birthday")
        return lambda profile, now: _birthday_within(profile, now, span)
    if field_name not in INSTANTS:
        raise InvalidInput(f"{where}.op: {op} asks about an instant ({', '.join(INSTANTS)})")

    def check(profile: Profile, now: datetime) -> bool:
        text = read(profile)
        if not text:
            return False
        instant = parse_instant(text)
        return instant < now - span if op == "older_than" else now - span <= instant <= now

    return check


def _birthday_within(profile: Profile, now: datetime, span: timedelta) -> bool:
    born = profile.attributes.get("birthday")
    try:
        birthday = date.fromisoformat(born) if isinstance(born, str) else None
    except ValueError:
        return False
    if birthday is None:
        return False
    try:
        zone = ZoneInfo(profile.attributes.get("timezone") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    today = now.astimezone(zone).date()
    for year in (today.year, today.year + 1):
        anniversary = _anniversary(birthday, year)
        if anniversary >= today:
            return anniversary - today <= span
    return False


def _anniversary(birthday: date, year: int) -> date:
    try:
        return birthday.replace(year=year)
    except ValueError:  # 29 February in a common year: celebrated on the 28th
        return date(year, 2, 28)


def _contains(field_name: str, value: object, read) -> Check:
    if field_name == "topics":
        return lambda profile, now: profile.receives(str(value))

    def check(profile: Profile, now: datetime) -> bool:
        found = read(profile)
        if isinstance(found, (list, tuple, set, frozenset)):
            return value in found
        return isinstance(found, str) and isinstance(value, str) and value.lower() in found.lower()

    return check


def _compare(op: str, value: object, read) -> Check:
    def check(profile: Profile, now: datetime) -> bool:
        found = _normal(read(profile))
        if found is None:
            return op == "!="
        if op == "==":
            return found == value
        if op == "!=":
            return found != value
        if not (_is_number(found) and _is_number(value)):
            return False
        return {"<": found < value, "<=": found <= value, ">": found > value, ">=": found >= value}[op]

    return check


def _member(found: object, members: list) -> bool:
    return _normal(found) in members


def _normal(value: object) -> object:
    """Numbers compare as numbers whatever their type (DynamoDB answers Decimal, JSON int or float)."""
    if _is_number(value):
        return float(value)
    return value


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(value)  # int, float, Decimal
    except (TypeError, ValueError):
        return False
    return not isinstance(value, str)


def _scalar(value: object, where: str) -> None:
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise InvalidInput(f"{where}: text values are at most {MAX_TEXT} characters")
        return
    if value is None or isinstance(value, (bool, dict, list)) or not _is_number(value):
        raise InvalidInput(f"{where}: must be text or a number")
