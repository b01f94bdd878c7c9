"""The segment rule language: what a rule matches, and how a bad rule is refused (naming the node)."""

from datetime import UTC, datetime

import pytest

from closedloop import segments
from closedloop.errors import InvalidInput
from closedloop.profiles import Profile

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def ada(**changes) -> Profile:
    fields = {
        "profile_id": "p-ada",
        "email": "ada@example.com",
        "status": "subscribed",
        "attributes": {"country": "DE", "first_name": "Ada", "birthday": "1990-03-05", "timezone": "Europe/Berlin"},
        "interests": {"travel": 4},
        "event_counts": {"purchase": 2},
        "purchase_count": 2,
        "revenue": {"EUR": 120.5},
        "last_purchase_at": "2025-10-01T09:00:00Z",
        "last_activity_at": "2026-02-28T09:00:00Z",
        "topics": ["news", "travel"],
    }
    return Profile(**{**fields, **changes})


def matches(rules, profile=None) -> bool:
    return segments.parse(rules).matches(profile or ada(), NOW)


@pytest.mark.parametrize(
    "condition, expected",
    [
        ({"field": "attributes.country", "op": "==", "value": "DE"}, True),
        ({"field": "attributes.country", "op": "!=", "value": "DE"}, False),
        ({"field": "interests.travel", "op": ">=", "value": 3}, True),
        ({"field": "interests.cars", "op": ">", "value": 0}, False),  # never clicked: no counter
        ({"field": "interests.cars", "op": "!=", "value": 1}, True),
        ({"field": "event_counts.purchase", "op": "==", "value": 2}, True),
        ({"field": "purchase_count", "op": "<", "value": 3}, True),
        ({"field": "revenue.EUR", "op": ">", "value": 100}, True),
        ({"field": "status", "op": "in", "value": ["subscribed", "pending"]}, True),
        ({"field": "attributes.country", "op": "not_in", "value": ["AT", "CH"]}, True),
        ({"field": "attributes.city", "op": "exists"}, False),
        ({"field": "attributes.city", "op": "not_exists"}, True),
        ({"field": "topics", "op": "contains", "value": "travel"}, True),
        ({"field": "topics", "op": "contains", "value": "cars"}, False),
        ({"field": "attributes.first_name", "op": "contains", "value": "ad"}, True),
        ({"field": "last_purchase_at", "op": "older_than", "value": "90d"}, True),
        ({"field": "last_purchase_at", "op": "within_last", "value": "90d"}, False),
        ({"field": "last_activity_at", "op": "within_last", "value": "2d"}, True),
        ({"field": "attributes.birthday", "op": "within_next", "value": "7d"}, True),
        ({"field": "attributes.birthday", "op": "within_next", "value": "3d"}, False),
    ],
)
def test_a_condition_on_each_kind_of_field(condition, expected):
    assert matches(condition) is expected


def test_all_any_and_not_combine():
    germans_who_travel = {
        "all": [
            {"field": "attributes.country", "op": "==", "value": "DE"},
            {
                "any": [
                    {"field": "interests.travel", "op": ">=", "value": 3},
                    {"field": "interests.cars", "op": ">=", "value": 3},
                ]
            },
            {"not": {"field": "status", "op": "==", "value": "unsubscribed"}},
        ]
    }
    assert matches(germans_who_travel) is True
    assert matches(germans_who_travel, ada(interests={"travel": 1})) is False


def test_never_purchased_is_not_purchased_long_ago():
    never = ada(last_purchase_at=None)
    assert matches({"field": "last_purchase_at", "op": "older_than", "value": "90d"}, never) is False
    assert matches({"field": "last_purchase_at", "op": "not_exists"}, never) is True


def test_a_person_who_never_chose_topics_receives_every_topic():
    assert matches({"field": "topics", "op": "contains", "value": "cars"}, ada(topics=None)) is True


def test_a_leap_day_birthday_comes_on_the_28th_in_a_common_year():
    leap = ada(attributes={"birthday": "1996-02-29", "timezone": "Asia/Tokyo"})
    on_the_27th = datetime(2026, 2, 27, 12, tzinfo=UTC)
    rule = segments.parse({"field": "attributes.birthday", "op": "within_next", "value": "1d"})
    assert rule.matches(leap, on_the_27th) is True
    assert rule.matches(leap, datetime(2026, 2, 25, 12, tzinfo=UTC)) is False


def test_numbers_compare_as_numbers_whatever_their_type():
    from decimal import Decimal

    stored = ada(interests={"travel": Decimal("4")})
    assert matches({"field": "interests.travel", "op": "==", "value": 4.0}, stored) is True
    assert matches({"field": "interests.travel", "op": "in", "value": [3, 4]}, stored) is True


@pytest.mark.parametrize(
    "rules, words",
    [
        ([], "rules: must be an object"),
        ({"all": []}, "rules.all: must be a non-empty list"),
        ({"all": [{"field": "status", "op": "=~", "value": "x"}]}, "rules.all[0].op: unknown operator '=~'"),
        ({"any": [{"field": "country", "op": "==", "value": "DE"}]}, "rules.any[0].field: unknown field 'country'"),
        ({"not": {"field": "interests.travel", "op": ">", "value": "3"}}, "rules.not.value: > compares numbers"),
        ({"field": "status", "op": "in", "value": "subscribed"}, "rules.value: in needs a list"),
        ({"field": "attributes.city", "op": "exists", "value": 1}, "rules.value: exists takes no value"),
        ({"field": "status", "op": "=="}, "rules.value: == needs a value"),
        ({"field": "last_purchase_at", "op": "older_than", "value": "90 days"}, 'needs a duration such as "90d"'),
        ({"field": "last_purchase_at", "op": "==", "value": "2026-01-01"}, "is an instant"),
        ({"field": "interests.travel", "op": "older_than", "value": "3d"}, "asks about an instant"),
        ({"field": "attributes.country", "op": "within_next", "value": "3d"}, "asks about attributes.birthday"),
        ({"field": "attributes.1x", "op": "exists"}, "is not a valid name after attributes."),
        ({"field": "status", "op": "==", "value": {"a": 1}}, "rules.value: must be text or a number"),
        ({"field": "status", "op": "==", "value": "x", "extra": 1}, "unknown key(s) extra"),
        ({"all": [{"field": "status", "op": "exists"}], "any": []}, 'exactly one of "all", "any", "not"'),
    ],
)
def test_a_bad_rule_is_refused_with_a_sentence_naming_the_node(rules, words):
    with pytest.raises(InvalidInput) as refused:
        segments.parse(rules)
    assert words in refused.value.message


def test_a_rule_tree_is_bounded_in_depth_and_size():
    deep = {"field": "status", "op": "exists"}
    for _ in range(segments.MAX_DEPTH + 1):
        deep = {"not": deep}
    with pytest.raises(InvalidInput, match="nest at most"):
        segments.parse(deep)
    wide = {"any": [{"field": "status", "op": "exists"}] * segments.MAX_NODES}
    with pytest.raises(InvalidInput, match="at most 200"):
        segments.parse(wide)


def test_a_segment_knows_which_fields_it_reads():
    rules = {
        "all": [
            {"field": "attributes.country", "op": "==", "value": "DE"},
            {
                "not": {
                    "any": [{"field": "interests.travel", "op": ">", "value": 2}, {"field": "topics", "op": "exists"}]
                }
            },
            {"field": "attributes.birthday", "op": "within_next", "value": "7d"},
        ]
    }
    assert segments.parse(rules).reads == {
        "attributes.country",
        "interests.travel",
        "topics",
        "attributes.birthday",
        "attributes.timezone",
    }
