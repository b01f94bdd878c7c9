import pytest

from closedloop import sending
from closedloop.adapters.templates import JinjaRenderer
from closedloop.errors import ProviderRejected, ProviderUnavailable
from closedloop.sending import Outcome, SendRequest
from closedloop.suppression import Suppression
from tests.fakes import FakeLedger, FakeLinkSets, FakeMailer, FakeProfiles, FakeSendQueue, FakeSuppressions
from tests.unit.conftest import CONTENT

KEY = "api#k1#p-ada"


@pytest.fixture
def suppressions():
    return FakeSuppressions()


@pytest.fixture
def gate(signer, now, suppressions):
    profiles, ledger, mailer, queue = FakeProfiles(), FakeLedger(), FakeMailer(), FakeSendQueue()
    profiles.add("p-ada", first_name="Ada")
    renderer = JinjaRenderer(CONTENT / "templates", signer, "https://links.example.test", "news@example.com")

    def send(request):
        return sending.send(
            request,
            profiles=profiles,
            suppressions=suppressions,
            ledger=ledger,
            link_sets=FakeLinkSets(),
            renderer=renderer,
            mailer=mailer,
            queue=queue,
            now=now,
        )

    return send, profiles, ledger, mailer, queue


def request(key=KEY, profile_id="p-ada", template="newsletter-demo", context=None):
    return SendRequest(send_key=key, profile_id=profile_id, template=template, message_id="m1", context=context or {})


def test_a_suppressed_address_is_skipped_and_recorded_before_anything_is_rendered_or_reserved(gate, suppressions):
    send, profiles, ledger, mailer, _ = gate
    # Entries are stored normalised; the profile's address in another spelling is the same mailbox.
    profiles.items["p-ada"]["email"] = "P-Ada@Example.NET"
    suppressions.put(Suppression("p-ada@example.net", "complaint", "2026-03-01T12:00:00Z"))
    result = send(request())
    assert (result.outcome, result.reason) == (Outcome.SUPPRESSED, "suppressed")
    assert mailer.sent == [] and ledger.send_state(KEY) is None
    status = ledger.get_message_status("m1").to_api()
    assert (status["state"], status["reason"]) == ("skipped", "suppressed")


def test_lifting_a_suppression_lets_the_next_request_through(gate, suppressions):
    send, *_ = gate
    suppressions.put(Suppression("p-ada@example.net", "manual", "2026-03-01T12:00:00Z"))
    assert send(request()).outcome is Outcome.SUPPRESSED
    suppressions.delete("p-ada@example.net")
    assert send(request()).outcome is Outcome.SENT


def test_a_subscribed_profile_gets_the_mail_and_its_status_names_the_ses_id(gate):
    send, _, ledger, mailer, _ = gate
    assert send(request()).outcome is Outcome.SENT
    assert [m.to for m in mailer.sent] == ["p-ada@example.net"]
    assert ledger.send_state(KEY) == "sent"
    assert ledger.get_message_status("m1").to_api()["ses_message_id"] == "ses-1"


def test_the_same_business_key_is_never_sent_twice(gate):
    send, _, _, mailer, _ = gate
    send(request())
    assert send(SendRequest(send_key=KEY, profile_id="p-ada", template="birthday")).outcome is Outcome.DUPLICATE
    assert len(mailer.sent) == 1


def test_a_connection_lost_after_ses_accepted_is_possibly_sent_and_never_resent(gate):
    send, _, ledger, mailer, _ = gate
    mailer.fail_after_accepting = True
    result = send(request())
    mailer.fail_after_accepting = False
    assert (result.outcome, ledger.send_state(KEY)) == (Outcome.POSSIBLY_SENT, "possibly_sent")
    assert "ConnectionError" in result.reason
    assert send(request()).outcome is Outcome.DUPLICATE
    assert (len(mailer.sent), ledger.get_message_status("m1").state) == (1, "possibly_sent")


def test_a_provider_that_could_not_be_reached_frees_the_key_for_the_queues_retry(gate):
    send, _, ledger, mailer, _ = gate
    mailer.fail_with = ProviderUnavailable("SES could not be reached")
    with pytest.raises(ProviderUnavailable):
        send(request())
    mailer.fail_with = None
    assert ledger.send_state(KEY) is None
    assert send(request()).outcome is Outcome.SENT


def test_a_refusal_is_a_recorded_failure_not_an_exception(gate):
    send, _, ledger, mailer, _ = gate
    mailer.fail_with = ProviderRejected("SES refused the message (MessageRejected)")
    result = send(request())
    assert (result.outcome, ledger.send_state(KEY)) == (Outcome.FAILED_REJECTED, None)
    assert ledger.get_message_status("m1").state == "failed" and "MessageRejected" in result.reason


def test_a_template_that_cannot_render_is_recorded_and_reserves_nothing(gate):
    send, _, ledger, mailer, _ = gate
    result = send(request(template="needs-context"))
    assert (result.outcome, mailer.sent, ledger.send_state(KEY)) == (Outcome.FAILED_RENDER, [], None)
    status = ledger.get_message_status("m1")
    assert status.state == "failed" and status.reason.startswith("template_error") and "order_id" in status.reason


def test_a_stored_name_that_would_split_the_subject_header_is_a_recorded_failure(gate):
    send, profiles, ledger, mailer, _ = gate
    profiles.items["p-ada"]["attributes"]["first_name"] = "Ada\u2028Bcc: eve@example.com"
    result = send(request())
    assert (result.outcome, mailer.sent, ledger.send_state(KEY)) == (Outcome.FAILED_RENDER, [], None)


@pytest.mark.parametrize("status", ["unsubscribed", "pending"])
def test_without_consent_nothing_is_sent_nothing_reserved_and_the_skip_is_recorded(gate, status):
    send, profiles, ledger, mailer, _ = gate
    profiles.items["p-ada"]["status"] = status
    assert send(request()).outcome is Outcome.NO_CONSENT
    assert (mailer.sent, ledger.send_state(KEY)) == ([], None)
    assert ledger.get_message_status("m1").to_api()["reason"] == "no_consent"


def test_a_missing_profile_is_skipped(gate):
    send, *_ = gate
    assert send(request(profile_id="p-nobody")).outcome is Outcome.NO_PROFILE


def test_a_throttled_send_is_requeued_with_a_delay_and_its_key_freed(gate):
    send, _, ledger, mailer, queue = gate
    mailer.throttle_next = 1
    assert send(request()).outcome is Outcome.DEFERRED
    ((requeued, delay),) = queue.items
    assert (requeued.throttled, delay, ledger.send_state(KEY)) == (1, 30, None)
    assert send(requeued).outcome is Outcome.SENT


def test_the_mail_is_handed_over_as_mime_with_list_unsubscribe_readable_in_the_raw_bytes(gate):
    send, _, _, mailer, _ = gate
    send(request())
    (raw,) = mailer.raw
    header = next(line for line in raw.split(b"\r\n") if line.startswith(b"List-Unsubscribe:"))
    assert header.startswith(b"List-Unsubscribe: <https://links.example.test/u/") and header.endswith(b">")
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw


def test_a_send_request_survives_the_queue_and_ignores_unknown_fields():
    original = SendRequest(send_key="k", profile_id="p", template="t", context={"a": 1})
    assert SendRequest.from_json(original.to_json()[:-1] + ',"future_field":1}') == original


def test_a_transactional_message_reaches_a_pending_profile_and_a_marketing_one_does_not(gate):
    send, profiles, _, mailer, _ = gate
    profiles.items["p-ada"]["status"] = "pending"
    assert send(request(key="marketing#p-ada")).outcome is Outcome.NO_CONSENT
    receipt = SendRequest("receipt#p-ada", "p-ada", "newsletter-demo", "m2", transactional=True)
    assert send(receipt).outcome is Outcome.SENT
    assert [m.to for m in mailer.sent] == ["p-ada@example.net"]


def test_a_transactional_message_still_respects_the_suppression_list(gate, suppressions):
    send, *_ = gate
    suppressions.put(Suppression("p-ada@example.net", "bounce", "2026-03-01T12:00:00Z"))
    receipt = SendRequest("receipt#p-ada", "p-ada", "newsletter-demo", "m2", transactional=True)
    assert send(receipt).outcome is Outcome.SUPPRESSED


def test_a_campaign_send_request_survives_the_queue_with_its_campaign_stage_and_variant():
    from closedloop.values import CampaignRef

    request = SendRequest(
        send_key="campaign#c1#main#p1", profile_id="p1", template="t", campaign=CampaignRef("c1", "main", "b")
    )
    again = SendRequest.from_json(request.to_json())

    assert again == request
    assert again.campaign.tags() == {"campaign": "c1", "stage": "main", "variant": "b"}
