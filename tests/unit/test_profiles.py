import pytest

from closedloop import profiles
from closedloop.due import DUE_SHARDS, shard_of
from closedloop.errors import ConcurrentUpdate, ConsentWithdrawn, DependencyFailed, InvalidInput
from closedloop.profiles import birthday_due_at, merge, parse_profile_write
from tests.fakes import FakeProfiles

VALID = {
    "email": "ada@example.com",
    "status": "subscribed",
    "attributes": {"first_name": "Ada", "birthday": "1990-06-15", "timezone": "Europe/Berlin"},
}


def write(now, body=VALID, profile_id="p-1"):
    return parse_profile_write(profile_id, body, now)


def test_a_valid_body_is_accepted(now):
    parsed = write(now)
    assert (parsed.email, parsed.status, parsed.attributes["first_name"]) == ("ada@example.com", "subscribed", "Ada")


@pytest.mark.parametrize(
    "body, words",
    [
        ([], "JSON object"),
        ({**VALID, "email": "not-an-address"}, "email"),
        ({**VALID, "email": "a@b.com\r\nBcc: x@y.com"}, "email"),
        ({**VALID, "email": "a@b@example.com"}, "email"),
        ({**VALID, "email": "a@."}, "email"),
        ({**VALID, "email": "a@example.com;b@example.org"}, "email"),
        ({**VALID, "email": "grp:a@example.com;"}, "email"),
        ({**VALID, "email": "a\tb@example.com"}, "email"),
        ({**VALID, "email": "jörg@example.com"}, "email"),
        ({**VALID, "status": "maybe"}, "status"),
        ({**VALID, "attributes": {"birthday": "15.06.1990"}}, "birthday"),
        ({**VALID, "attributes": {"birthday": "19900615"}}, "birthday"),
        ({**VALID, "attributes": {"birthday": "1990-W24-5"}}, "birthday"),
        ({**VALID, "attributes": {"birthday": "0001-01-01"}}, "birthday"),
        ({**VALID, "attributes": {"birthday": "2030-01-01"}}, "birthday"),
        ({**VALID, "attributes": {"timezone": "Mars/Olympus"}}, "timezone"),
        ({**VALID, "attributes": {"first_name": 42}}, "first_name"),
        ({**VALID, "attributes": {"first_name": "Ada\u2028Bcc: x"}}, "first_name"),
        ({**VALID, "attributes": {"last_name": "Lovelace\x1c"}}, "last_name"),
        ({**VALID, "attributes": {"nested": {"a": 1}}}, "nested"),
        ({**VALID, "attributes": {"": "empty name"}}, "attribute name"),
        ({**VALID, "attributes": {"x" * 65: "long name"}}, "attribute name"),
        ({**VALID, "attributes": {"score": 123456789012345678901234567890123456789}}, "score"),
        ({**VALID, "attributes": {"score": 1e300}}, "score"),
        ({**VALID, "attributes": {"vip": True}}, "vip"),
        ({**VALID, "colour": "blue"}, "unknown field"),
    ],
)
def test_bad_bodies_are_refused_with_a_sentence_naming_the_problem(body, words, now):
    with pytest.raises(InvalidInput, match=words):
        write(now, body)


@pytest.mark.parametrize("profile_id", ["", "has space", "a" * 65, "x/y", "ü"])
def test_bad_profile_ids_are_refused(profile_id, now):
    with pytest.raises(InvalidInput, match="profile_id"):
        write(now, profile_id=profile_id)


def test_a_new_profile_without_a_status_waits_for_consent(config, now):
    change = merge(None, write(now, {"email": "ada@example.com"}), config, now)
    assert (change.status, change.idle_due, change.birthday_due) == ("pending", None, None)


def test_omitting_the_status_keeps_the_stored_one(config, now):
    store = FakeProfiles()
    store.add("p-1", status="unsubscribed", email="ada@example.com")
    profile, created = profiles.upsert(store, write(now, {"email": "ada@example.com"}), config, now)
    assert (profile.status, created) == ("unsubscribed", False)


def test_attributes_sent_are_merged_and_null_deletes_one(config, now):
    store = FakeProfiles()
    store.add("p-1", first_name="Ada", last_name="Lovelace", city="London")
    body = {"attributes": {"first_name": "Ada L.", "city": None, "plan": "gold"}}
    profile, _ = profiles.upsert(store, write(now, body), config, now)
    assert profile.attributes == {"first_name": "Ada L.", "last_name": "Lovelace", "plan": "gold"}


def test_a_profile_cannot_be_created_without_an_address(config, now):
    with pytest.raises(InvalidInput, match="email is required"):
        profiles.upsert(FakeProfiles(), write(now, {"attributes": {"first_name": "Ada"}}), config, now)


def test_a_write_that_lost_a_race_reads_again_and_keeps_the_winners_consent(config, now):
    class RacedByAnUnsubscribe(FakeProfiles):
        def save(self, change, now, expected_version):
            if not self.raced:
                self.raced = True
                self.set_status("p-1", "unsubscribed", now, {"source": "unsubscribe_link"})  # between read and write
            return super().save(change, now, expected_version)

    store = RacedByAnUnsubscribe()
    store.raced = False
    store.add("p-1", first_name="Ada")
    profile, _ = profiles.upsert(store, write(now, {"attributes": {"first_name": "Ada L."}}), config, now)
    assert (profile.status, profile.attributes["first_name"]) == ("unsubscribed", "Ada L.")


def test_a_write_that_keeps_losing_answers_a_retryable_error(config, now):
    class AlwaysRaced(FakeProfiles):
        def save(self, change, now, expected_version):
            raise ConcurrentUpdate("p-1")

    store = AlwaysRaced()
    store.add("p-1")
    with pytest.raises(DependencyFailed):
        profiles.upsert(store, write(now, {"attributes": {"first_name": "Ada"}}), config, now)


def test_shards_spread_profiles_over_every_partition():
    shards = {shard_of(f"p-{n}", "idle") for n in range(500)}
    assert len(shards) == DUE_SHARDS


def test_unsubscribed_profiles_stay_out_of_the_birthday_index(config, now):
    assert birthday_due_at(write(now, {**VALID, "status": "unsubscribed"}), config, now) is None


def test_a_profile_without_a_zone_uses_the_configured_default(config, now):
    parsed = write(now, {**VALID, "attributes": {"birthday": "1990-12-01"}})
    assert birthday_due_at(parsed, config, now) == "2026-12-01T08:00:00Z#12-01#Europe/Berlin"


def test_the_address_is_stored_normalised_and_a_new_profile_records_how_it_came(config, now):
    change = merge(None, write(now, {"email": "  Ada@Example.COM "}), config, now)
    assert (change.email, change.consent) == ("ada@example.com", {"source": "api", "at": "2026-11-22T10:00:00Z"})


@pytest.mark.parametrize("source", ["unsubscribe_link", "preference_page", "complaint"])
def test_an_integrator_cannot_subscribe_someone_who_left_by_their_own_hand(config, now, source):
    store = FakeProfiles()
    store.add("p-1", status="unsubscribed")
    store.items["p-1"]["consent"] = {"source": source, "at": "2026-01-01T00:00:00Z"}
    with pytest.raises(ConsentWithdrawn, match="double opt-in"):
        profiles.upsert(store, write(now, {"status": "subscribed"}), config, now)
    assert store.get("p-1").status == "unsubscribed"


def test_a_change_of_status_records_its_source_and_an_unchanged_one_keeps_the_record(config, now):
    store = FakeProfiles()
    store.add("p-1", status="unsubscribed")
    store.items["p-1"]["consent"] = {"source": "api", "at": "2026-01-01T00:00:00Z"}
    unchanged = merge(store.get("p-1"), write(now, {"attributes": {"city": "Leeds"}}), config, now)
    resubscribed = merge(store.get("p-1"), write(now, {"status": "subscribed"}), config, now)
    assert (unchanged.consent, resubscribed.consent["source"]) == (None, "api")
