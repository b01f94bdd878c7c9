import pytest

from closedloop.errors import InvalidInput
from closedloop.profiles import DUE_SHARDS, birthday_due_at, parse_profile_write, shard_of

VALID = {
    "email": "ada@example.com",
    "status": "subscribed",
    "attributes": {"first_name": "Ada", "birthday": "1990-06-15", "timezone": "Europe/Berlin"},
}


def test_a_valid_body_is_accepted():
    write = parse_profile_write("p-1", VALID)
    assert (write.email, write.status, write.attributes["first_name"]) == ("ada@example.com", "subscribed", "Ada")


@pytest.mark.parametrize(
    "body, words",
    [
        ([], "JSON object"),
        ({**VALID, "email": "not-an-address"}, "email"),
        ({**VALID, "email": "a@b.com\r\nBcc: x@y.com"}, "email"),
        ({**VALID, "status": "maybe"}, "status"),
        ({**VALID, "attributes": {"birthday": "15.06.1990"}}, "birthday"),
        ({**VALID, "attributes": {"timezone": "Mars/Olympus"}}, "timezone"),
        ({**VALID, "attributes": {"first_name": 42}}, "first_name"),
        ({**VALID, "attributes": {"nested": {"a": 1}}}, "nested"),
        ({**VALID, "colour": "blue"}, "unknown field"),
    ],
)
def test_bad_bodies_are_refused_with_a_sentence_naming_the_problem(body, words):
    with pytest.raises(InvalidInput, match=words):
        parse_profile_write("p-1", body)


@pytest.mark.parametrize("profile_id", ["", "has space", "a" * 65, "x/y", "ü"])
def test_bad_profile_ids_are_refused(profile_id):
    with pytest.raises(InvalidInput, match="profile_id"):
        parse_profile_write(profile_id, VALID)


def test_shards_spread_profiles_over_every_partition():
    shards = {shard_of(f"p-{n}", "idle") for n in range(500)}
    assert len(shards) == DUE_SHARDS


def test_unsubscribed_profiles_stay_out_of_the_birthday_index(config, now):
    write = parse_profile_write("p-1", {**VALID, "status": "unsubscribed"})
    assert birthday_due_at(write, config, now) is None


def test_a_profile_without_a_zone_uses_the_configured_default(config, now):
    write = parse_profile_write("p-1", {**VALID, "attributes": {"birthday": "1990-12-01"}})
    assert birthday_due_at(write, config, now) == "2026-12-01T08:00:00Z#12-01#Europe/Berlin"
