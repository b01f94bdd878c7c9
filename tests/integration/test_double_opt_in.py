"""Double opt-in and preferences through the real handlers on moto: sign-up, confirmation, preference page."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import boto3
import pytest

from closedloop import services
from closedloop.adapters.aws import EventBridgePublisher
from closedloop.suppression import Suppression
from closedloop_local import outbox
from infra import wiring
from tests.integration.conftest import BASE_URL, admin, drain_sends, http_event, invoke, put_profile, tracking

FORM = "application/x-www-form-urlencoded"


def subscribe(body: dict | str, content_type: str = FORM, accept: str | None = None) -> dict:
    if not isinstance(body, str):
        body = urlencode(body, doseq=True) if content_type == FORM else json.dumps(body)
    headers = {"content-type": content_type, **({"accept": accept} if accept else {})}
    event = http_event("POST", "/subscribe", route="/subscribe", headers=headers, raw_body=body)
    return invoke(wiring.SUBSCRIBE, event)


def mails(address: str, template: str | None = None) -> list[dict]:
    return outbox.messages(to=address, template=template)


def confirm_token(mail: dict) -> str:
    return re.search(rf"{re.escape(BASE_URL)}/c/([A-Za-z0-9._~:-]+)", mail["text"]).group(1)


def profile_of(address: str) -> dict | None:
    status, body = admin("GET", f"/v1/profiles?email={address}")
    return body if status == 200 else None


@pytest.fixture
def published(monkeypatch):
    events: list[tuple[str, dict]] = []
    original = EventBridgePublisher.publish

    def recording(self, detail_type, detail):
        events.append((detail_type, detail))
        return original(self, detail_type, detail)

    monkeypatch.setattr(EventBridgePublisher, "publish", recording)
    return events


def signed_up(resources, address: str, **fields) -> str:
    """Sign up and return the confirm link's token from the mail that went out."""
    assert subscribe({"email": address, **fields})["statusCode"] == 200
    drain_sends(resources)
    return confirm_token(mails(address, "confirm")[-1])


def test_the_answer_is_the_same_bytes_for_every_state_of_an_address(resources, profile_id):
    put_profile(profile_id)  # subscribed
    put_profile(f"{profile_id}-left")
    left = _unsubscribe_token(resources, f"{profile_id}-left")
    assert tracking(wiring.UNSUBSCRIBE, "POST", left)["statusCode"] == 200
    services.suppressions().put(Suppression(f"{profile_id}-bounced@example.net", "bounce", "2026-03-01T12:00:00Z"))
    subscribe({"email": f"{profile_id}-pending@example.net"})
    states = {
        "new": {"email": f"{profile_id}-new@example.net"},
        "pending": {"email": f"{profile_id}-pending@example.net"},
        "subscribed": {"email": f"{profile_id}@example.net"},
        "unsubscribed": {"email": f"{profile_id}-left@example.net"},
        "suppressed": {"email": f"{profile_id}-bounced@example.net"},
        "honeypot": {"email": f"{profile_id}-bot@example.net", "website": "http://spam.example"},
    }
    pages = {state: subscribe(body) for state, body in states.items()}
    answers = {state: subscribe(body, "application/json") for state, body in states.items()}
    assert len({(p["statusCode"], p["body"]) for p in pages.values()}) == 1, pages
    assert len({(a["statusCode"], a["body"]) for a in answers.values()}) == 1, answers
    assert pages["new"]["statusCode"] == 200 and "Check your inbox" in pages["new"]["body"]
    assert answers["new"]["statusCode"] == 202 and json.loads(answers["new"]["body"])["status"] == "received"
    drain_sends(resources)
    assert [len(mails(f"{profile_id}{s}@example.net", "confirm")) for s in ("", "-new", "-left", "-bounced")] == [
        0,
        2,
        2,
        0,
    ]


def _unsubscribe_token(resources, profile_id: str) -> str:
    admin("POST", "/v1/messages", {"profile_id": profile_id, "template": "newsletter-demo"})
    drain_sends(resources)
    (mail,) = mails(f"{profile_id}@example.net")
    return mail["headers"]["List-Unsubscribe"].strip("<>").rsplit("/", 1)[1]


def test_a_filled_honeypot_creates_no_profile_and_sends_nothing(resources, profile_id):
    address = f"{profile_id}@example.net"
    subscribe({"email": address, "website": "http://spam.example"})
    drain_sends(resources)
    assert profile_of(address) is None and mails(address) == []


def test_the_fourth_confirm_mail_within_24_hours_is_not_sent(resources, profile_id, clock):
    address = f"{profile_id}@example.net"
    for _ in range(4):
        assert subscribe({"email": address})["statusCode"] == 200
    drain_sends(resources)
    assert len(mails(address, "confirm")) == 3


def test_get_shows_the_confirm_button_and_changes_nothing_and_post_confirms_once(resources, profile_id, published):
    address = f"{profile_id}@example.net"
    token = signed_up(resources, address, first_name="Ada", topics=["travel", "tips"])
    page = tracking(wiring.CONFIRM, "GET", token)
    consent_text = services.config().double_opt_in.consent_text
    assert page["statusCode"] == 200 and consent_text in page["body"] and "<button" in page["body"]
    assert "Travel offers, Tips and how-tos" in page["body"]
    pending = profile_of(address)
    assert (pending["status"], pending["topics"], published) == ("pending", ["travel", "tips"], [])
    for _ in range(2):
        answer = tracking(wiring.CONFIRM, "POST", token)
        assert answer["statusCode"] == 200 and "You are subscribed" in answer["body"]
    drain_sends(resources)
    profile = profile_of(address)
    assert profile["status"] == "subscribed"
    assert profile["consent"] == {
        "source": "double_opt_in",
        "at": "2026-03-01T12:00:00Z",
        "ip": "127.0.0.1",
        "user_agent": "pytest",
        "text": consent_text,
    }
    assert published == [("signup.confirmed", {"profile_id": profile["profile_id"], "topics": ["travel", "tips"]})]
    (welcome,) = mails(address, "welcome")
    assert welcome["subject"] == "Welcome, Ada!"


def test_a_confirm_token_works_nowhere_else_and_no_other_token_confirms(resources, profile_id):
    address = f"{profile_id}@example.net"
    token = signed_up(resources, address)
    assert tracking(wiring.PREFERENCES, "GET", token)["statusCode"] == 404
    assert tracking(wiring.PREFERENCES, "POST", token, form="action=leave")["statusCode"] == 404
    assert tracking(wiring.UNSUBSCRIBE, "POST", token)["statusCode"] == 404
    tampered = token.replace(".", ".x", 1)  # another profile id, same signature
    assert tracking(wiring.CONFIRM, "POST", tampered)["statusCode"] == 404
    assert profile_of(address)["status"] == "pending"


def test_a_confirm_link_stops_working_once_the_address_changed(resources, profile_id):
    address = f"{profile_id}@example.net"
    token = signed_up(resources, address)
    profile = profile_of(address)
    admin("PUT", f"/v1/profiles/{profile['profile_id']}", {"email": f"{profile_id}-new@example.net"})
    assert tracking(wiring.CONFIRM, "GET", token)["statusCode"] == 404
    assert tracking(wiring.CONFIRM, "POST", token)["statusCode"] == 404
    assert profile_of(f"{profile_id}-new@example.net")["status"] == "pending"


def preferences_token(resources, profile_id: str) -> str:
    admin("POST", "/v1/messages", {"profile_id": profile_id, "template": "newsletter-demo"})
    drain_sends(resources)
    mail = mails(f"{profile_id}@example.net")[-1]
    return re.search(rf"{re.escape(BASE_URL)}/p/([A-Za-z0-9._:-]+)", mail["text"]).group(1)


def test_the_preference_page_saves_topics_and_the_gate_skips_a_left_topic(resources, profile_id):
    put_profile(profile_id)
    token = preferences_token(resources, profile_id)
    page = tracking(wiring.PREFERENCES, "GET", token)
    assert page["statusCode"] == 200 and page["body"].count(" checked") == 4  # never chose: every topic
    saved = tracking(wiring.PREFERENCES, "POST", token, form="action=save&topics=news&topics=tips")
    assert saved["statusCode"] == 200
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["topics"] == ["news", "tips"]
    ids = [
        admin("POST", "/v1/messages", {"profile_id": profile_id, "template": "newsletter-demo", "topic": t})[1]
        for t in ("travel", "news")
    ]
    drain_sends(resources)
    states = [admin("GET", f"/v1/messages/{i['message_id']}")[1] for i in ids]
    assert [(s["state"], s.get("reason")) for s in states] == [("skipped", "topic_left"), ("sent", None)]


def test_leaving_on_the_preference_page_is_undone_only_by_the_persons_own_double_opt_in(resources, profile_id):
    put_profile(profile_id)
    token = preferences_token(resources, profile_id)
    assert "Unsubscribe from all" in tracking(wiring.PREFERENCES, "GET", token)["body"]
    left = tracking(wiring.PREFERENCES, "POST", token, form="action=leave")
    assert left["statusCode"] == 200 and "You are unsubscribed" in left["body"]
    profile = admin("GET", f"/v1/profiles/{profile_id}")[1]
    assert (profile["status"], profile["consent"]["source"]) == ("unsubscribed", "preference_page")
    status, body = admin("PUT", f"/v1/profiles/{profile_id}", {"status": "subscribed"})
    assert (status, body["code"]) == (409, "consent_withdrawn")
    confirm = signed_up(resources, f"{profile_id}@example.net")
    assert tracking(wiring.CONFIRM, "POST", confirm)["statusCode"] == 200
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["status"] == "subscribed"


def test_a_preference_post_that_does_not_say_what_to_do_changes_nothing(resources, profile_id):
    put_profile(profile_id)
    token = preferences_token(resources, profile_id)
    answer = tracking(wiring.PREFERENCES, "POST", token, form="")
    assert answer["statusCode"] == 400 and "action=save" in answer["body"]
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["topics"] is None


HOSTILE = "<script>alert('x')</script>\r\nBcc: all@example.org " + "é" * 400


def test_a_hostile_first_name_is_stored_inert_and_escaped_in_mail_and_on_pages(resources, profile_id):
    address = f"{profile_id}@example.net"
    token = signed_up(resources, address, first_name=HOSTILE)
    stored = profile_of(address)["attributes"]["first_name"]
    assert stored.startswith("<script>alert('x')</script> Bcc: all@example.org") and "\n" not in stored
    (mail,) = mails(address, "confirm")
    assert "<script>" not in mail["html"] and "&lt;script&gt;" in mail["html"]
    assert "Bcc" not in json.dumps(mail["headers"]) and "Bcc" not in mail["subject"]
    tracking(wiring.CONFIRM, "POST", token)
    drain_sends(resources)
    (welcome,) = mails(address, "welcome")
    assert "<script>" not in welcome["html"] and "\n" not in welcome["subject"]
    for page in (tracking(wiring.CONFIRM, "GET", token), tracking(wiring.PREFERENCES, "GET", _pref(welcome))):
        assert page["statusCode"] == 200 and "<script>" not in page["body"]


def _pref(mail: dict) -> str:
    return re.search(rf"{re.escape(BASE_URL)}/p/([A-Za-z0-9._:-]+)", mail["text"]).group(1)


@pytest.mark.parametrize(
    "body, content_type, status, code",
    [
        ("{not json", "application/json", 400, "invalid_input"),
        ('{"email": 7}', "application/json", 400, "invalid_input"),
        ('{"email": "a@b@example.net"}', "application/json", 400, "invalid_input"),
        ('{"email": "a@example.net", "topics": ["golf"]}', "application/json", 400, "invalid_input"),
        ('{"email": "a@example.net", "colour": "red"}', "application/json", 400, "invalid_input"),
        ("email=" + "a" * 20_000, "application/json", 413, "payload_too_large"),
        ("--x\r\n", "multipart/form-data; boundary=x", 415, "unsupported_media_type"),
    ],
)
def test_bad_input_is_refused_with_a_code_and_a_sentence_and_nothing_is_written(
    resources, body, content_type, status, code
):
    answer = subscribe(body, content_type, accept="application/json")
    payload = json.loads(answer["body"])
    assert (answer["statusCode"], payload["code"]) == (status, code) and payload["message"]
    assert profile_of("a@example.net") is None


def test_a_form_with_a_bad_address_gets_a_page_that_says_why(resources):
    answer = subscribe({"email": "<b>not an address</b>"})
    assert answer["statusCode"] == 400 and answer["headers"]["Content-Type"].startswith("text/html")
    assert "email must be an address" in answer["body"] and "<b>not" not in answer["body"]


def test_get_subscribe_shows_a_labelled_form_with_the_configured_topics(resources):
    page = invoke(wiring.SUBSCRIBE, http_event("GET", "/subscribe", route="/subscribe"))
    assert page["statusCode"] == 200 and page["headers"]["Content-Type"].startswith("text/html")
    for topic in services.config().topics:
        assert f'for="topic-{topic.id}"' in page["body"] and topic.label in page["body"]
    assert '<label for="email">' in page["body"] and 'name="website"' in page["body"]


def test_an_integrator_sets_topics_and_reads_them_back(resources, profile_id):
    status, body = admin(
        "PUT", f"/v1/profiles/{profile_id}", {"email": f"{profile_id}@example.net", "topics": ["cars"]}
    )
    assert (status, body["topics"]) == (201, ["cars"])
    status, body = admin("PUT", f"/v1/profiles/{profile_id}", {"topics": ["boats"]})
    assert (status, body["code"]) == (400, "invalid_input")


def test_a_transactional_message_may_go_to_a_pending_profile_but_marketing_may_not(resources, profile_id):
    admin("PUT", f"/v1/profiles/{profile_id}", {"email": f"{profile_id}@example.net"})
    refused = admin("POST", "/v1/messages", {"profile_id": profile_id, "template": "birthday"})
    assert (refused[0], refused[1]["code"]) == (409, "not_subscribed")
    status, _ = admin("POST", "/v1/messages", {"profile_id": profile_id, "template": "birthday", "transactional": True})
    assert status == 202
    drain_sends(resources)
    (mail,) = mails(f"{profile_id}@example.net")
    assert "List-Unsubscribe" not in mail["headers"]


def test_an_erased_person_comes_back_only_through_their_own_double_opt_in(resources, profile_id):
    address = f"{profile_id}@example.net"
    token = signed_up(resources, address, first_name="Ada")
    assert tracking(wiring.CONFIRM, "POST", token)["statusCode"] == 200
    drain_sends(resources)
    erased_id = profile_of(address)["profile_id"]
    assert admin("DELETE", f"/v1/profiles/{erased_id}")[0] == 204
    ledger = services.settings().ledger_table
    left = boto3.client("dynamodb").scan(TableName=ledger, ConsistentRead=True)["Items"]
    assert [item["pk"]["S"] for item in left if address in json.dumps(item)] == []  # confirm slots went too

    again = signed_up(resources, address)  # the confirmation passes the erased hash: it is transactional
    assert profile_of(address)["suppression"]["reason"] == "erased"
    assert tracking(wiring.CONFIRM, "POST", again)["statusCode"] == 200
    drain_sends(resources)
    back = profile_of(address)
    assert (back["status"], back["suppression"]) == ("subscribed", None)
    assert len(mails(address, "welcome")) == 2  # one per profile: the erased one and the new one
