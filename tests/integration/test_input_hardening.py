"""Input that DynamoDB or JSON cannot hold is a 400 before any write; the fuzz keeps the whole class closed."""

import codecs
import json
import shutil

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from closedloop import services
from infra import wiring
from tests.integration.conftest import API_KEY, CONTENT, admin, put_profile


@pytest.mark.parametrize(
    "body",
    [
        {"email": "x@example.com", "attributes": {"": "an empty name"}},
        {"email": "x@example.com", "attributes": {"n" * 65: "a long name"}},
        {"email": "x@example.com", "attributes": {"score": float("nan")}},
        {"email": "x@example.com", "attributes": {"score": 123456789012345678901234567890123456789}},
        {"email": "a@b@example.com"},
        {"email": "a@example.com;b@example.org"},
        {"email": "grp:a@example.com;"},
        {"email": "jörg@example.com"},
        {"email": "x@example.com", "attributes": {"first_name": "Ada\u2028Bcc: eve@example.org"}},
        {"email": "x@example.com", "attributes": {"birthday": "19900615"}},
        {"email": "x@example.com", "attributes": {"city": "Lon\x00don"}},
    ],
)
def test_a_profile_body_that_could_not_be_stored_or_sent_is_refused_and_nothing_is_written(resources, profile_id, body):
    text = json.dumps(body)  # NaN goes out as the bare word NaN, as some clients send it
    status, answer = admin("PUT", f"/v1/profiles/{profile_id}", raw_body=text)
    assert (status, answer["code"]) == (400, "invalid_input")
    assert admin("GET", f"/v1/profiles/{profile_id}")[0] == 404


@pytest.mark.parametrize(
    "raw",
    [
        b'{"email": "caf\xe9@example.com"}',  # Latin-1, not UTF-8
        codecs.BOM_UTF16_LE + '{"email": "x@example.com"}'.encode("utf-16-le"),
        b"[" * 30_000 + b"]" * 30_000,
        b'{"email": "x@example.com", "attributes": {"score": Infinity}}',
        b'{"email": "x@example.com", "attributes": {"score": -Infinity}}',
    ],
)
def test_a_body_json_cannot_carry_faithfully_is_a_400(resources, profile_id, raw):
    status, answer = admin("PUT", f"/v1/profiles/{profile_id}", raw_bytes=raw)
    assert (status, answer["code"]) == (400, "invalid_input")


@pytest.mark.parametrize(
    "event",
    [
        {"type": "purchase", "occurred_at": "0001-01-01T00:00:00+14:00"},
        {"type": "purchase", "event_id": 0},
        {"type": "purchase", "event_id": ""},
        {"type": "purchase", "event_id": False},
        {"type": "purchase", "properties": {"total": 1e400}},
    ],
)
def test_an_event_that_would_break_later_is_a_400(resources, profile_id, event):
    put_profile(profile_id)
    raw = json.dumps({"profile_id": profile_id, **event}).replace("Infinity", "1e400")
    status, answer = admin("POST", "/v1/events", raw_body=raw)
    assert (status, answer["code"]) == (400, "invalid_input")


def test_a_broken_configuration_is_the_operators_500_not_the_callers_400(resources, profile_id, tmp_path, monkeypatch):
    shutil.copytree(CONTENT, tmp_path, dirs_exist_ok=True)
    (tmp_path / "config" / "closedloop.toml").write_text("[we_miss_you]\ninactive_dayz = 60\n")
    monkeypatch.setenv(wiring.CONTENT_DIR_ENV, str(tmp_path))
    services.reset()
    status, answer = admin("PUT", f"/v1/profiles/{profile_id}", {"email": "x@example.com"})
    assert (status, answer["code"]) == (500, "config_error") and "inactive_dayz" in answer["message"]


def test_an_empty_configured_api_key_lets_no_empty_bearer_in(resources, profile_id):
    secrets = boto3.client("secretsmanager")
    arn = resources.secrets[wiring.API_KEY.id]
    secrets.put_secret_value(SecretId=arn, SecretString=json.dumps({"api_key": ""}))
    services.reset()
    try:
        assert admin("GET", f"/v1/profiles/{profile_id}", key="")[0] == 401
        assert admin("GET", f"/v1/profiles/{profile_id}", key=API_KEY)[0] == 401
    finally:
        secrets.put_secret_value(SecretId=arn, SecretString=json.dumps({"api_key": API_KEY}))
        services.reset()


# --- fuzz -------------------------------------------------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
known = {
    "email": st.one_of(st.emails(), st.text(max_size=30), json_values),
    "status": st.sampled_from(["subscribed", "unsubscribed", "pending", "", None, 1]),
    "attributes": st.dictionaries(st.text(max_size=70), json_values, max_size=6) | json_values,
    "type": st.sampled_from(["purchase", "", "Purchase!"]) | st.text(max_size=10),
    "properties": json_values,
    "occurred_at": st.datetimes().map(lambda d: d.isoformat() + "Z") | st.text(max_size=30) | json_values,
    "event_id": json_values,
    "template": st.sampled_from(["birthday", "needs-context", "../x"]) | st.text(max_size=10),
    "context": json_values,
    "idempotency_key": json_values,
}
bodies = st.fixed_dictionaries({}, optional={**known, "profile_id": st.just("p-fuzz") | json_values}) | json_values
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(body=bodies)
def test_fuzzed_profile_bodies_never_answer_5xx_and_what_is_written_reads_back(resources, body):
    status, answer = admin("PUT", "/v1/profiles/p-fuzz", raw_body=json.dumps(body))
    assert status < 500, answer
    if status in (200, 201):
        again, stored = admin("GET", "/v1/profiles/p-fuzz")
        assert again == 200 and stored["attributes"] == answer["attributes"]


@FUZZ
@given(body=bodies)
def test_fuzzed_event_and_message_bodies_never_answer_5xx(resources, body):
    for path in ("/v1/events", "/v1/messages"):
        status, answer = admin("POST", path, raw_body=json.dumps(body))
        assert status < 500, (path, answer)


@FUZZ
@given(raw=st.binary(max_size=200))
def test_fuzzed_bytes_never_answer_5xx(resources, raw):
    assert admin("PUT", "/v1/profiles/p-fuzz", raw_bytes=raw)[0] < 500
