"""GET /v1/openapi.json, and the request validation the document's models drive: after the key, before any write,
answered as every other refusal ({code, message}, 400 invalid_input naming the field)."""

import json

import pytest

from infra import wiring
from tests.integration.conftest import admin, http_event, invoke, put_profile


def test_the_document_describes_every_admin_route(resources):
    status, document = admin("GET", "/v1/openapi.json")
    assert status == 200 and document["openapi"].startswith("3.1")
    described = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert described == {(route.method, route.path) for route in wiring.ADMIN.routes}


def test_the_document_is_served_as_json_behind_the_key(resources):
    event = http_event("GET", "/v1/openapi.json", route="/v1/openapi.json", headers={"authorization": "Bearer no"})
    refused = invoke(wiring.ADMIN, event)
    allowed = invoke(wiring.ADMIN, {**event, "headers": {"authorization": "Bearer integration-key"}})
    assert (refused["statusCode"], json.loads(refused["body"])["code"]) == (401, "unauthorized")
    assert allowed["statusCode"] == 200 and allowed["headers"]["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "body, sentence",
    [
        ({"email": 5}, "email must be a string"),
        ({"email": "x@example.com", "attributes": "no"}, "attributes must be a JSON object"),
        (
            {"email": "x@example.com", "status": "maybe"},
            "status must be one of 'subscribed', 'unsubscribed' or 'pending'",
        ),
        ({"email": "x@example.com", "nickname": "Ada"}, "unknown field(s): nickname"),
        ({"email": "x@example.com", "topics": "news"}, "topics must be a list"),
        ([{"email": "x@example.com"}], "the body must be a JSON object"),
    ],
)
def test_a_body_of_the_wrong_shape_is_a_400_naming_the_field_and_nothing_is_written(
    resources, profile_id, body, sentence
):
    status, answer = admin("PUT", f"/v1/profiles/{profile_id}", body)
    assert (status, answer) == (400, {"code": "invalid_input", "message": sentence})
    assert admin("GET", f"/v1/profiles/{profile_id}")[0] == 404


@pytest.mark.parametrize(
    "body, sentence",
    [
        ({"profile_id": "p-x"}, "missing field(s): template"),
        ({"profile_id": "p-x", "template": "birthday", "transactional": "yes"}, "transactional must be true or false"),
        ({"profile_id": "p-x", "template": "birthday", "context": []}, "context must be a JSON object"),
    ],
)
def test_a_message_request_of_the_wrong_shape_names_the_field(resources, body, sentence):
    assert admin("POST", "/v1/messages", body) == (400, {"code": "invalid_input", "message": sentence})


def test_an_event_in_a_batch_is_named_by_its_index(resources, profile_id):
    batch = {"events": [{"profile_id": profile_id, "type": "visit"}, {"profile_id": profile_id, "type": 7}]}
    assert admin("POST", "/v1/events", batch)[1]["message"] == "events[1]: type must be a string"
    batch = {"events": [{"profile_id": profile_id, "type": "visit", "colour": "red"}]}
    assert admin("POST", "/v1/events", batch)[1]["message"] == "events[0]: unknown field(s): colour"


def test_a_missing_query_parameter_is_a_400(resources):
    assert admin("GET", "/v1/profiles") == (
        400,
        {"code": "invalid_input", "message": "the query parameter email is required"},
    )


def test_without_the_key_a_malformed_body_still_gets_401(resources, profile_id):
    # The key is checked before the body is read: an unauthenticated caller learns nothing about the shape.
    for key in (None, "wrong-key"):
        status, answer = admin("PUT", f"/v1/profiles/{profile_id}", {"email": 5}, key=key)
        assert (status, answer["code"]) == (401, "unauthorized")


def test_an_oversized_body_is_413_before_its_shape_is_looked_at(resources, profile_id):
    raw = json.dumps({"email": 5, "attributes": "no", "padding": "x" * 70_000})
    status, answer = admin("PUT", f"/v1/profiles/{profile_id}", raw_body=raw)
    assert (status, answer["code"]) == (413, "payload_too_large")


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", None])
def test_a_json_body_is_read_as_json_whatever_its_content_type_says(resources, profile_id, content_type):
    # curl -d sends application/x-www-form-urlencoded; the README's examples use it.
    event = http_event(
        "PUT",
        f"/v1/profiles/{profile_id}",
        route="/v1/profiles/{profile_id}",
        params={"profile_id": profile_id},
        body={"email": f"{profile_id}@example.com"},
        headers={"authorization": "Bearer integration-key"},
    )
    event["headers"] = {k: v for k, v in event["headers"].items() if k != "content-type"}
    if content_type:
        event["headers"]["content-type"] = content_type
    assert invoke(wiring.ADMIN, event)["statusCode"] == 201


def test_a_valid_body_reaches_the_domain_as_it_was_sent(resources, profile_id):
    # The model checks the shape only: values keep their JSON types (no "1" -> 1), null deletes an attribute.
    put_profile(profile_id)
    body = {"attributes": {"score": 7, "ratio": 0.5, "code": "0042", "city": None}}
    status, profile = admin("PUT", f"/v1/profiles/{profile_id}", body)
    assert status == 200
    assert {k: profile["attributes"].get(k) for k in ("score", "ratio", "code", "city")} == {
        "score": 7,
        "ratio": 0.5,
        "code": "0042",
        "city": None,
    }


def test_optional_bodies_may_be_left_out_or_empty(resources):
    assert admin("PUT", "/v1/suppressions/opt-body@example.com")[1]["reason"] == "manual"
    assert admin("PUT", "/v1/suppressions/opt-body@example.com", {})[1]["reason"] == "manual"
    assert admin("PUT", "/v1/suppressions/opt-body@example.com", {"reason": "bounce"})[1]["reason"] == "bounce"
    assert admin("PUT", "/v1/suppressions/opt-body@example.com", {"reason": 1})[0] == 400
