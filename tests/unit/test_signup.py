"""Double opt-in in the domain: what a sign-up does for each state of an address, and what a confirmation does."""

from datetime import timedelta

import pytest

from closedloop import signup
from closedloop.errors import ConsentWithdrawn, InvalidInput, InvalidToken
from closedloop.profiles import ProfileWrite, merge
from closedloop.sending import SendRequest
from closedloop.suppression import ErasureKeys, Suppression, blocked, erase_address
from tests.fakes import FakeProfiles, FakePublisher, FakeSendQueue, FakeSignups, FakeSuppressions

ERASURE = ErasureKeys.from_secret({"current": "e1", "e1": "unit-erasure-key"})

BASE = "https://links.example.test"
PROOF = {"ip": "192.0.2.7", "user_agent": "Mozilla/5.0 (test)"}


class World:
    def __init__(self, signer, config, now):
        self.profiles, self.signups, self.queue = FakeProfiles(), FakeSignups(), FakeSendQueue()
        self.publisher, self.signer, self.config, self.now = FakePublisher(), signer, config, now
        self.suppressions = FakeSuppressions()

    def sign_up(self, email="ada@example.net", first_name=None, topics=None, website="", at=None):
        fields = {"email": [email], "website": [website]}
        if first_name is not None:
            fields["first_name"] = [first_name]
        if topics is not None:
            fields["topics"] = topics
        request = signup.parse_signup(fields, self.config, strict=False)
        return signup.subscribe(
            request,
            profiles=self.profiles,
            signups=self.signups,
            queue=self.queue,
            signer=self.signer,
            config=self.config,
            base_url=BASE,
            now=at or self.now,
        )

    def confirm_mails(self) -> list[SendRequest]:
        return [r for r in self.queue.requests if r.template == "confirm"]

    def token_text(self, mail: SendRequest) -> str:
        return mail.context["confirm_url"].rsplit("/c/", 1)[1]

    def confirm(self, text, at=None):
        at = at or self.now
        token = self.signer.verify_confirm(text, int(at.timestamp()))
        return signup.confirm(
            token,
            text,
            PROOF,
            profiles=self.profiles,
            signups=self.signups,
            queue=self.queue,
            publisher=self.publisher,
            signer=self.signer,
            suppressions=self.suppressions,
            erasure=ERASURE,
            config=self.config,
            now=at,
        )


@pytest.fixture
def world(signer, config, now):
    return World(signer, config, now)


def test_a_new_address_gets_a_pending_profile_and_one_transactional_confirm_mail(world):
    outcome, profile_id = world.sign_up("Ada@Example.NET ", first_name="Ada", topics=["travel", "cars"])
    profile = world.profiles.get(profile_id)
    assert (outcome, profile.status, profile.email) == ("confirmation_queued", "pending", "ada@example.net")
    assert (profile.attributes, profile.topics) == ({"first_name": "Ada"}, ["travel", "cars"])
    assert profile.consent["source"] == "subscribe_form"
    (mail,) = world.queue.requests
    assert (mail.template, mail.transactional, mail.profile_id) == ("confirm", True, profile_id)
    assert mail.context["confirm_url"].startswith(f"{BASE}/c/")


def test_a_subscribed_address_gets_nothing_and_its_data_is_left_alone(world):
    world.profiles.add("p-ada", email="ada@example.net", first_name="Ada")
    world.profiles.claims["ada@example.net"] = "p-ada"
    outcome, _ = world.sign_up(first_name="Mallory", topics=["cars"])
    assert outcome == "already_subscribed" and world.queue.requests == []
    assert world.profiles.get("p-ada").attributes == {"first_name": "Ada"}


def test_an_address_that_unsubscribed_itself_gets_the_confirm_mail_to_come_back(world):
    world.profiles.add("p-ada", status="unsubscribed", email="ada@example.net")
    world.profiles.items["p-ada"]["consent"] = {"source": "unsubscribe_link", "at": "2026-01-01T00:00:00Z"}
    world.profiles.claims["ada@example.net"] = "p-ada"
    assert world.sign_up()[0] == "confirmation_queued"
    assert len(world.confirm_mails()) == 1


def test_a_filled_honeypot_creates_nothing_and_sends_nothing(world):
    assert world.sign_up(website="http://spam.example") == ("honeypot", None)
    assert world.profiles.items == {} and world.queue.requests == []


def test_the_fourth_confirm_mail_within_24_hours_is_not_sent_and_a_day_later_one_is(world, now):
    outcomes = [world.sign_up(at=now + timedelta(hours=n))[0] for n in range(4)]
    assert outcomes == ["confirmation_queued"] * 3 + ["limited"]
    assert len(world.confirm_mails()) == 3
    assert world.sign_up(at=now + timedelta(hours=24))[0] == "confirmation_queued"


@pytest.mark.parametrize(
    "fields, sentence",
    [
        ({"email": ["not-an-address"]}, "email must be an address"),
        ({"email": ["a@example.net", "b@example.net"]}, "email must be sent once"),
        ({"email": ["a@example.net"], "topics": ["gardening"]}, "unknown topic 'gardening'"),
        ({"email": ["a@example.net"], "first_name": ["x" * 10_000]}, "first_name is longer than 500"),
    ],
)
def test_bad_input_is_refused_with_a_sentence(config, fields, sentence):
    with pytest.raises(InvalidInput, match=sentence):
        signup.parse_signup(fields, config, strict=False)


def test_a_json_caller_may_not_send_fields_the_form_does_not_have(config):
    with pytest.raises(InvalidInput, match="unknown field"):
        signup.parse_signup({"email": ["a@example.net"], "admin": ["yes"]}, config, strict=True)
    assert signup.parse_signup({"email": ["a@example.net"], "admin": ["yes"]}, config, strict=False).email


def test_a_first_name_with_line_breaks_and_markup_is_kept_as_one_inert_line(config):
    request = signup.parse_signup(
        {"email": ["a@example.net"], "first_name": ["<script>alert(1)</script>\r\nBcc: x@example.org"]},
        config,
        strict=False,
    )
    assert request.first_name == "<script>alert(1)</script> Bcc: x@example.org"


def test_confirming_subscribes_with_the_proof_publishes_once_and_queues_the_welcome_mail_once(world, now):
    _, profile_id = world.sign_up(topics=["travel"])
    text = world.token_text(world.confirm_mails()[0])
    first = world.confirm(text)
    again = world.confirm(text)
    assert first.status == again.status == "subscribed"
    consent = world.profiles.get(profile_id).consent
    assert consent == {
        "source": "double_opt_in",
        "at": "2026-11-22T10:00:00Z",
        "ip": "192.0.2.7",
        "user_agent": "Mozilla/5.0 (test)",
        "text": world.config.double_opt_in.consent_text,
    }
    assert world.publisher.events == [("signup.confirmed", {"profile_id": profile_id, "topics": ["travel"]})]
    welcomes = [r for r in world.queue.requests if r.template == "welcome"]
    assert [(w.send_key, w.transactional) for w in welcomes] == [(f"welcome#{profile_id}", False)]


def test_a_confirmation_that_broke_off_after_its_claim_is_finished_by_the_next_post(world):
    _, profile_id = world.sign_up()
    text = world.token_text(world.confirm_mails()[0])
    world.publisher.failures = 1
    with pytest.raises(ConnectionError):
        world.confirm(text)
    world.confirm(text)
    assert [e for e, _ in world.publisher.events] == ["signup.confirmed"]
    assert world.profiles.get(profile_id).subscribed


def test_only_the_persons_own_double_opt_in_lifts_a_withdrawal(world, config, now):
    _, profile_id = world.sign_up()
    text = world.token_text(world.confirm_mails()[0])
    world.profiles.set_status(profile_id, "unsubscribed", now, {"source": "preference_page", "at": "…"})
    existing = world.profiles.get(profile_id)
    with pytest.raises(ConsentWithdrawn):
        merge(existing, ProfileWrite(profile_id, None, "subscribed", {}), config, now)
    assert world.confirm(text).status == "subscribed"


def test_a_confirm_link_stops_working_when_the_profile_changed_its_address(world, now):
    _, profile_id = world.sign_up()
    text = world.token_text(world.confirm_mails()[0])
    world.profiles.items[profile_id]["email"] = "someone-else@example.net"
    assert world.confirm(text) is None
    assert world.profiles.get(profile_id).status == "pending" and world.publisher.events == []


def test_a_confirm_link_expires_after_the_configured_days(world, now, config):
    world.sign_up()
    text = world.token_text(world.confirm_mails()[0])
    with pytest.raises(InvalidToken, match="expired"):
        world.confirm(text, at=now + timedelta(days=config.double_opt_in.link_valid_days, seconds=1))


def test_an_erased_persons_own_confirmation_lifts_the_erasure_and_nothing_else_does(world):
    address = "ada@example.net"
    erase_address(world.suppressions, address, ERASURE, world.now)
    world.sign_up(address)
    assert blocked(address, world.suppressions, ERASURE).reason == "erased"  # signing up alone lifts nothing
    (mail,) = world.confirm_mails()
    world.confirm(world.token_text(mail))
    assert blocked(address, world.suppressions, ERASURE) is None


def test_a_confirmation_does_not_lift_a_bounce(world):
    address = "ada@example.net"
    world.suppressions.put(Suppression(address, "bounce", "2026-03-01T12:00:00Z"))
    world.sign_up(address)
    (mail,) = world.confirm_mails()
    world.confirm(world.token_text(mail))
    assert blocked(address, world.suppressions, ERASURE).reason == "bounce"
