import pytest

from closedloop import sending
from closedloop.adapters.templates import JinjaRenderer
from closedloop.sending import Outcome, SendRequest
from tests.fakes import FakeLedger, FakeMailer, FakeProfiles, FakeSendQueue
from tests.unit.conftest import REPO


@pytest.fixture
def gate(signer, now):
    profiles, ledger, mailer, queue = FakeProfiles(), FakeLedger(), FakeMailer(), FakeSendQueue()
    profiles.add("p-ada", first_name="Ada")
    renderer = JinjaRenderer(REPO / "templates", signer, "https://links.example.test", "news@example.com")

    def send(request):
        return sending.send(
            request, profiles=profiles, ledger=ledger, renderer=renderer, mailer=mailer, queue=queue, now=now
        )

    return send, profiles, ledger, mailer, queue


def request(key="api#k1#p-ada", profile_id="p-ada"):
    return SendRequest(send_key=key, profile_id=profile_id, template="newsletter-demo", message_id="m1")


def test_a_subscribed_profile_gets_the_mail(gate):
    send, _, ledger, mailer, _ = gate
    assert send(request()) is Outcome.SENT
    assert [m.to for m in mailer.sent] == ["p-ada@example.net"]
    assert ledger.items["send#api#k1#p-ada"]["state"] == "sent"


def test_the_same_business_key_is_never_sent_twice(gate):
    send, _, _, mailer, _ = gate
    send(request())
    assert send(SendRequest(send_key="api#k1#p-ada", profile_id="p-ada", template="birthday")) is Outcome.DUPLICATE
    assert len(mailer.sent) == 1


def test_a_redelivery_after_a_crash_once_ses_accepted_sends_nothing_more(gate):
    send, _, _, mailer, _ = gate
    mailer.fail_after_accepting = True
    with pytest.raises(ConnectionError):
        send(request())
    mailer.fail_after_accepting = False
    assert send(request()) is Outcome.DUPLICATE
    assert len(mailer.sent) == 1


@pytest.mark.parametrize("status", ["unsubscribed", "pending"])
def test_without_consent_nothing_is_sent_and_nothing_reserved(gate, status):
    send, profiles, ledger, mailer, _ = gate
    profiles.items["p-ada"]["status"] = status
    assert send(request()) is Outcome.NO_CONSENT
    assert (mailer.sent, [k for k in ledger.items if k.startswith("send#")]) == ([], [])


def test_a_missing_profile_is_skipped(gate):
    send, *_ = gate
    assert send(request(profile_id="p-nobody")) is Outcome.NO_PROFILE


def test_a_throttled_send_is_requeued_with_a_delay_and_its_key_freed(gate):
    send, _, ledger, mailer, queue = gate
    mailer.throttle_next = 1
    assert send(request()) is Outcome.DEFERRED
    ((requeued, delay),) = queue.items
    assert (requeued.throttled, delay, "send#api#k1#p-ada" in ledger.items) == (1, 30, False)
    assert send(requeued) is Outcome.SENT


def test_a_send_request_survives_the_queue_and_ignores_unknown_fields():
    original = SendRequest(send_key="k", profile_id="p", template="t", context={"a": 1})
    assert SendRequest.from_json(original.to_json()[:-1] + ',"future_field":1}') == original
