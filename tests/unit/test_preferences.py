"""The preference page's choices, the topics a profile receives, and the gate that honours them."""

import pytest

from closedloop import preferences, sending
from closedloop.adapters.templates import JinjaRenderer
from closedloop.errors import ConsentWithdrawn, InvalidInput, InvalidToken
from closedloop.messages import request_message
from closedloop.profiles import ProfileWrite, merge, parse_profile_write
from closedloop.sending import Outcome, SendRequest
from closedloop.tokens import MessageToken
from tests.fakes import FakeLedger, FakeLinkSets, FakeMailer, FakeProfiles, FakeSendQueue, FakeSuppressions
from tests.unit.conftest import CONTENT


def test_a_post_must_say_whether_it_saves_or_leaves(config):
    with pytest.raises(InvalidInput, match="action=save"):
        preferences.parse_choice({"topics": ["news"]}, config)
    with pytest.raises(InvalidInput, match="unknown topic"):
        preferences.parse_choice({"action": ["save"], "topics": ["<b>x</b>"]}, config)
    assert preferences.parse_choice({"action": ["save"]}, config).topics == ()


def test_saving_replaces_the_topics_and_leaving_is_an_unsubscribe_the_integrator_cannot_undo(config, now):
    profiles = FakeProfiles()
    profiles.add("p-ada")
    preferences.apply("p-ada", preferences.Choice("save", ("tips",)), profiles, now)
    assert profiles.get("p-ada").topics == ["tips"]
    preferences.apply("p-ada", preferences.Choice("leave", ()), profiles, now)
    left = profiles.get("p-ada")
    assert (left.status, left.consent["source"]) == ("unsubscribed", "preference_page")
    with pytest.raises(ConsentWithdrawn):
        merge(left, ProfileWrite("p-ada", None, "subscribed", {}), config, now)
    assert not preferences.apply("p-gone", preferences.Choice("save", ()), profiles, now)


def test_an_integrator_may_set_topics_but_only_configured_ones(config, now):
    write = parse_profile_write("p-ada", {"email": "ada@example.net", "topics": ["news", "news", "cars"]}, now)
    assert merge(None, write, config, now).topics == ("news", "cars")
    with pytest.raises(InvalidInput, match="unknown topic 'golf'"):
        merge(None, parse_profile_write("p-ada", {"email": "a@example.net", "topics": ["golf"]}, now), config, now)
    with pytest.raises(InvalidInput, match="topics must be a list"):
        parse_profile_write("p-ada", {"topics": "news"}, now)


@pytest.fixture
def gate(signer, now):
    profiles, ledger, mailer = FakeProfiles(), FakeLedger(), FakeMailer()
    renderer = JinjaRenderer(CONTENT / "templates", signer, "https://links.example.test", "news@example.com")

    def send(request):
        return sending.send(
            request,
            profiles=profiles,
            suppressions=FakeSuppressions(),
            ledger=ledger,
            link_sets=FakeLinkSets(),
            renderer=renderer,
            mailer=mailer,
            queue=FakeSendQueue(),
            now=now,
        )

    return send, profiles, ledger, mailer


def test_the_gate_skips_a_message_of_a_topic_the_person_left_and_records_why(gate, now):
    send, profiles, ledger, mailer = gate
    profiles.add("p-ada")
    profiles.set_topics("p-ada", ("news",), now)
    result = send(SendRequest("k1", "p-ada", "newsletter-demo", "m1", topic="travel"))
    assert (result.outcome, result.reason) == (Outcome.TOPIC_LEFT, "topic_left")
    assert ledger.get_message_status("m1").to_api()["reason"] == "topic_left" and mailer.sent == []
    assert send(SendRequest("k2", "p-ada", "newsletter-demo", "m2", topic="news")).outcome is Outcome.SENT
    assert send(SendRequest("k3", "p-ada", "newsletter-demo", "m3")).outcome is Outcome.SENT


def test_a_profile_that_never_chose_receives_every_topic(gate):
    send, profiles, *_ = gate
    profiles.add("p-ada")
    assert send(SendRequest("k1", "p-ada", "newsletter-demo", "m1", topic="cars")).outcome is Outcome.SENT


def test_a_transactional_message_goes_to_a_pending_profile_and_ignores_topics(gate, now):
    send, profiles, _, mailer = gate
    profiles.add("p-new", status="pending")
    profiles.set_topics("p-new", (), now)
    context = {"confirm_url": "https://x.example/c/t", "link_valid_days": 7}
    result = send(SendRequest("k1", "p-new", "confirm", "m1", context, transactional=True, topic="news"))
    assert result.outcome is Outcome.SENT
    assert "List-Unsubscribe" not in mailer.sent[0].headers and "/u/" not in mailer.sent[0].html
    assert send(SendRequest("k2", "p-new", "newsletter-demo", "m2")).outcome is Outcome.NO_CONSENT


def test_every_marketing_mail_links_to_the_preference_page_of_its_recipient(gate, signer):
    send, profiles, _, mailer = gate
    profiles.add("p-ada")
    send(SendRequest("k1", "p-ada", "newsletter-demo", "m1"))
    token = mailer.sent[0].text.split("/p/", 1)[1].split()[0]
    assert signer.verify_message("preferences", token) == MessageToken("m1", "p-ada")
    with pytest.raises(InvalidToken):
        signer.verify_message("unsubscribe", token)


def test_a_message_request_names_a_configured_topic_and_may_be_transactional(config, now, signer):
    profiles, ledger, queue = FakeProfiles(), FakeLedger(), FakeSendQueue()
    profiles.add("p-new", status="pending")
    preview = JinjaRenderer(CONTENT / "templates", signer, "https://preview.invalid", "news@example.com")

    def ask(**body):
        return request_message(
            {"profile_id": "p-new", "template": "birthday", **body},
            profiles=profiles,
            ledger=ledger,
            queue=queue,
            preview=preview,
            now=now,
            known_topics=config.topic_ids,
        )

    with pytest.raises(InvalidInput, match="topic must be one of"):
        ask(topic="golf", transactional=True)
    with pytest.raises(InvalidInput, match="transactional must be true or false"):
        ask(transactional="yes")
    ask(topic="tips", transactional=True)
    (request,) = queue.requests
    assert (request.topic, request.transactional) == ("tips", True)
