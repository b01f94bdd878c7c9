"""POST /v1/messages refuses at the door what could never be sent; GET /v1/messages/{id} tells what became of one."""

import pytest

from closedloop.adapters.ses import SesMailer
from closedloop.errors import ProviderRejected
from infra import wiring
from tests.integration.conftest import admin, drain_sends, invoke, mails_to, put_profile, queue_messages


def queued_for(profile_id: str, resources) -> list[dict]:
    """Send requests waiting for this profile (other tests share the queue)."""
    return [r for r in queue_messages(wiring.SEND_QUEUE, resources) if profile_id in r["body"]]


def test_a_message_is_queued_then_sent_with_the_ses_id(resources, profile_id):
    put_profile(profile_id)
    _, queued = admin("POST", "/v1/messages", {"profile_id": profile_id, "template": "birthday"})
    path = f"/v1/messages/{queued['message_id']}"
    assert admin("GET", path)[1]["state"] == "queued"
    drain_sends(resources)
    status, sent = admin("GET", path)
    assert (status, sent["state"], sent["template"], sent["profile_id"]) == (200, "sent", "birthday", profile_id)
    assert sent["ses_message_id"] == mails_to(profile_id)[0]["ses_message_id"]


def test_a_template_that_cannot_render_with_the_context_is_refused_at_the_door(resources, profile_id):
    put_profile(profile_id)
    status, body = admin("POST", "/v1/messages", {"profile_id": profile_id, "template": "needs-context"})
    assert (status, body["code"]) == (422, "template_error") and "order_id" in body["message"]
    assert queued_for(profile_id, resources) == []
    request = {"profile_id": profile_id, "template": "needs-context", "context": {"order_id": "A-17"}}
    assert admin("POST", "/v1/messages", request)[0] == 202


def test_an_unsubscribed_profile_answers_409_and_nothing_is_queued(resources, profile_id):
    put_profile(profile_id)
    admin("PUT", f"/v1/profiles/{profile_id}", {"status": "unsubscribed"})
    status, body = admin("POST", "/v1/messages", {"profile_id": profile_id, "template": "birthday"})
    assert (status, body["code"]) == (409, "not_subscribed")
    assert queued_for(profile_id, resources) == []


def test_a_refusal_by_ses_is_recorded_as_failed_with_its_reason_and_not_retried(resources, profile_id, monkeypatch):
    put_profile(profile_id)
    _, queued = admin("POST", "/v1/messages", {"profile_id": profile_id, "template": "birthday"})

    def refuse(self, mail, raw):
        raise ProviderRejected("SES refused the message (MessageRejected)")

    monkeypatch.setattr(SesMailer, "send", refuse)
    assert drain_sends(resources) == {"batchItemFailures": []}
    _, failed = admin("GET", f"/v1/messages/{queued['message_id']}")
    assert (failed["state"], "MessageRejected" in failed["reason"]) == ("failed", True)


def test_a_send_whose_outcome_is_unknown_is_possibly_sent_and_never_resent(resources, profile_id, monkeypatch):
    put_profile(profile_id)
    _, queued = admin("POST", "/v1/messages", {"profile_id": profile_id, "template": "birthday"})
    records = queue_messages(wiring.SEND_QUEUE, resources)

    def lost_answer(self, mail, raw):
        raise TimeoutError("read timed out")

    with monkeypatch.context() as patch:
        patch.setattr(SesMailer, "send", lost_answer)
        assert invoke(wiring.SENDER, {"Records": records}) == {"batchItemFailures": []}
    assert invoke(wiring.SENDER, {"Records": records}) == {"batchItemFailures": []}  # a redelivery
    assert mails_to(profile_id) == []
    _, status = admin("GET", f"/v1/messages/{queued['message_id']}")
    assert status["state"] == "possibly_sent" and "TimeoutError" in status["reason"]


@pytest.mark.parametrize("message_id", ["no-such-message", "x" * 41])
def test_an_unknown_or_malformed_message_id_gets_a_4xx(resources, message_id):
    status, body = admin("GET", f"/v1/messages/{message_id}")
    assert (status, body["code"]) in {(404, "message_not_found"), (400, "invalid_input")}


def test_a_retried_request_after_the_send_keeps_the_status_sent(resources, profile_id):
    put_profile(profile_id)
    request = {"profile_id": profile_id, "template": "birthday", "idempotency_key": "order-1-confirmation"}
    _, first = admin("POST", "/v1/messages", request)
    drain_sends(resources)
    _, again = admin("POST", "/v1/messages", request)
    drain_sends(resources)
    assert first == again
    assert admin("GET", f"/v1/messages/{first['message_id']}")[1]["state"] == "sent"
    assert len(mails_to(profile_id)) == 1
