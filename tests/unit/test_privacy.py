"""GDPR: the export lists everything stored about a person; an erasure leaves only the keyed hash of the address."""

from datetime import timedelta

import pytest

from closedloop import privacy, sending, suppression
from closedloop.adapters.templates import JinjaRenderer
from closedloop.errors import InvalidInput, ProfileNotFound
from closedloop.pause import new_pause
from closedloop.ports import Activity
from closedloop.sending import Outcome, SendRequest
from closedloop.suppression import ErasureKeys, Suppression
from tests.fakes import (
    FakeLedger,
    FakeLinkSets,
    FakeMailer,
    FakePersonalRecords,
    FakeProfiles,
    FakeSendingControl,
    FakeSendQueue,
    FakeSuppressions,
)
from tests.unit.conftest import CONTENT

ERASURE = ErasureKeys.from_secret({"current": "e1", "e1": "unit-erasure-key"})
ADA = "p-ada@example.net"


class World:
    def __init__(self, signer, now) -> None:
        self.profiles, self.ledger, self.suppressions = FakeProfiles(), FakeLedger(), FakeSuppressions()
        self.control = FakeSendingControl(self.suppressions, self.ledger)
        self.records = FakePersonalRecords(self.profiles, self.ledger, self.suppressions, self.control)
        self.mailer = FakeMailer()
        self.renderer = JinjaRenderer(CONTENT / "templates", signer, "https://links.example.test", "news@example.com")
        self.now = now
        self.profiles.add("p-ada", first_name="Ada")
        self.profiles.claims[ADA] = "p-ada"

    def collaborators(self) -> dict:
        return dict(
            profiles=self.profiles,
            records=self.records,
            suppressions=self.suppressions,
            erasure=ERASURE,
            now=self.now,
        )

    def send(self, request: SendRequest):
        return sending.send(
            request,
            profiles=self.profiles,
            suppressions=self.suppressions,
            ledger=self.ledger,
            link_sets=FakeLinkSets(),
            renderer=self.renderer,
            mailer=self.mailer,
            queue=FakeSendQueue(),
            now=self.now,
            erasure=ERASURE,
            control=self.control,
        )

    def history(self) -> None:
        """Ada clicked, opened, bought, got a newsletter, bounced once, and one mail is held by a pause."""
        click = Activity("click", "c1", "p-ada", self.now, details={"message_id": "m0", "link": 0})
        self.profiles.put_click(click, 0)
        for kind, activity_id in (("open", "m1"), ("event", "order-1")):
            self.profiles.record_activity(Activity(kind, activity_id, "p-ada", self.now), None, 0)
        assert self.send(SendRequest("api#news#p-ada", "p-ada", "newsletter-demo", "m1")).outcome is Outcome.SENT
        self.suppressions.note_transient_bounce(ADA, "ses-1", self.now, 0)
        self.control.pause(new_pause("test", self.now))
        assert self.send(SendRequest("api#later#p-ada", "p-ada", "newsletter-demo", "m2")).outcome is Outcome.HELD
        self.control.resume()


@pytest.fixture
def world(signer, now):
    return World(signer, now)


def test_the_export_lists_profile_consent_activity_sends_held_mail_and_suppression(world):
    world.history()
    world.suppressions.put(Suppression(ADA, "manual", "2026-11-01T00:00:00Z"))
    exported = privacy.export("p-ada", **world.collaborators())
    assert exported["profile"]["profile_id"] == "p-ada" and exported["profile"]["attributes"] == {"first_name": "Ada"}
    assert exported["suppression"] == {"reason": "manual", "at": "2026-11-01T00:00:00Z"}
    assert exported["email_claim"] == {"email": ADA}
    assert [a["id"] for a in exported["clicks"]] == ["c1"]
    assert [a["id"] for a in exported["opens"]] == ["m1"]
    assert [a["id"] for a in exported["events"]] == ["order-1"]
    sends = {s["message_id"]: s for s in exported["sends"]}
    assert (sends["m1"]["state"], sends["m1"]["send_key"]) == ("sent", "api#news#p-ada")
    assert sends["m2"]["state"] == "held"
    assert [h["send_key"] for h in exported["held"]] == ["api#later#p-ada"]
    assert exported["bounces"] == [{"transient_bounces": [f"ses-1 {exported['exported_at']}"]}]


def test_an_erasure_leaves_nothing_but_the_keyed_hash_of_the_address(world):
    world.history()
    world.suppressions.put(Suppression(ADA, "complaint", "2026-11-01T00:00:00Z"))
    privacy.erase("p-ada", **world.collaborators())
    assert world.profiles.items == {} and world.profiles.activities == set() and world.profiles.claims == {}
    assert [key for key in world.ledger.items if "p-ada" in key or "p-ada" in str(world.ledger.items[key])] == []
    assert world.control.held == {} and world.suppressions.bounces == {}
    ((key, entry),) = world.suppressions.items.items()
    assert key.startswith("erased:e1:") and ADA not in key and entry.reason == "erased"


def test_the_erased_hash_goes_on_the_list_first_and_the_profile_goes_last(world):
    calls = []
    world.suppressions.put = lambda entry, only_if_new=False: calls.append(("suppress", entry.reason)) or True
    world.records.forget = lambda records: calls.append(("forget", None)) or len(list(records))
    forget_profile = world.records.forget_profile
    world.records.forget_profile = lambda profile_id: calls.append(("profile", None)) or forget_profile(profile_id)
    privacy.erase("p-ada", **world.collaborators())
    assert calls[:3] == [("suppress", "erased"), ("forget", None), ("profile", None)]


def test_an_erasure_that_crashed_half_way_is_finished_by_repeating_it(world):
    world.history()
    forget = world.records.forget

    def crash_after_some(records):
        forget(list(records)[:2])
        raise ConnectionError("DynamoDB went away")

    world.records.forget = crash_after_some
    with pytest.raises(ConnectionError):
        privacy.erase("p-ada", **world.collaborators())
    assert world.profiles.get("p-ada") is not None  # the profile goes last: the DELETE can be repeated
    world.records.forget = forget
    privacy.erase("p-ada", **world.collaborators())
    assert world.profiles.items == {} and world.control.held == {}
    with pytest.raises(ProfileNotFound):
        privacy.erase("p-ada", **world.collaborators())


def test_an_erased_address_is_not_mailed_even_under_a_new_profile_id(world):
    privacy.erase("p-ada", **world.collaborators())
    world.profiles.add("p-ada-again", email=ADA)
    result = world.send(SendRequest("api#news#p-ada-again", "p-ada-again", "newsletter-demo", "m9"))
    assert (result.outcome, world.mailer.sent) == (Outcome.SUPPRESSED, [])
    assert suppression.blocked(ADA, world.suppressions, ERASURE).reason == "erased"
    assert suppression.blocked("someone.else@example.net", world.suppressions, ERASURE) is None


def test_their_own_double_opt_in_lifts_the_erasure(world):
    privacy.erase("p-ada", **world.collaborators())
    assert suppression.lift_erasure(ADA, world.suppressions, ERASURE) is True
    assert suppression.blocked(ADA, world.suppressions, ERASURE) is None
    assert suppression.lift_erasure(ADA, world.suppressions, ERASURE) is False


def test_an_erasure_made_with_an_older_key_still_refuses_the_address(world, now):
    old = ErasureKeys.from_secret({"current": "e1", "e1": "unit-erasure-key"})
    suppression.erase_address(world.suppressions, ADA, old, now - timedelta(days=400))
    rotated = ErasureKeys.from_secret({"current": "e2", "e1": "unit-erasure-key", "e2": "a-newer-key"})
    assert suppression.blocked(ADA, world.suppressions, rotated).reason == "erased"
    assert suppression.lift_erasure(ADA, world.suppressions, rotated) is True


@pytest.mark.parametrize("operation", [privacy.export, privacy.erase])
def test_an_unknown_or_malformed_profile_id_is_refused(world, operation):
    with pytest.raises(ProfileNotFound):
        operation("p-nobody", **world.collaborators())
    with pytest.raises(InvalidInput):
        operation("<script>", **world.collaborators())


def test_a_record_another_feature_keeps_under_the_profile_is_exported_and_erased(world):
    world.ledger.items["import-row#batch-1#p-ada"] = {"state": "imported", "profile_id": "p-ada"}
    original = world.records.records

    def with_import_row(profile_id, address):
        yield from original(profile_id, address)
        if "import-row#batch-1#p-ada" in world.ledger.items:
            yield privacy.Record("ledger", "import-row#batch-1#p-ada", "import-row", {"state": "imported"})

    world.records.records = with_import_row
    assert privacy.export("p-ada", **world.collaborators())["other"] == [{"kind": "import-row", "state": "imported"}]
    privacy.erase("p-ada", **world.collaborators())
    assert "import-row#batch-1#p-ada" not in world.ledger.items
