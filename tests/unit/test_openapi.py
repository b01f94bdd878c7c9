"""The admin API's OpenAPI document as generated from the code, the sentences of its validation errors, and pydantic
kept off every other function's path."""

import json
import subprocess
import sys

import pytest
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from closedloop.api import openapi
from closedloop.api.app import build
from infra import wiring
from tests.unit.conftest import REPO

BODY_ROUTES = {
    ("POST", "/v1/campaigns"),
    ("PUT", "/v1/profiles/{profile_id}"),
    ("POST", "/v1/events"),
    ("POST", "/v1/messages"),
    ("POST", "/v1/imports"),
    ("PUT", "/v1/segments/{segment_id}"),
    ("POST", "/v1/segments/preview"),
}
OPTIONAL_BODY_ROUTES = {("PUT", "/v1/suppressions/{email}"), ("POST", "/v1/sending/pause")}


@pytest.fixture(scope="module")
def document() -> dict:
    return openapi.document(build())


def _operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def test_every_operation_declares_a_success_and_the_error_shape(document):
    for method, path, operation in _operations(document):
        answers = operation["responses"]
        assert any(status.startswith("2") for status in answers), (method, path)
        for status in ("401", "500", "503"):
            assert answers[status]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_bodies_are_declared_required_where_they_are_and_optional_where_they_are_not(document):
    with_body = {(m, p): op["requestBody"] for m, p, op in _operations(document) if "requestBody" in op}
    assert set(with_body) == BODY_ROUTES | OPTIONAL_BODY_ROUTES
    assert {route for route, body in with_body.items() if body.get("required")} == BODY_ROUTES
    for route in with_body:
        assert "413" in document["paths"][route[1]][route[0].lower()]["responses"], route


def test_request_models_refuse_unknown_fields_and_show_the_domains_patterns(document):
    schemas = document["components"]["schemas"]
    for name in (
        "ProfileWrite",
        "Event",
        "EventBatch",
        "MessageRequest",
        "SuppressionWrite",
        "PauseRequest",
        "SegmentWrite",
        "SegmentRules",
    ):
        assert schemas[name]["additionalProperties"] is False, name
    assert schemas["Event"]["properties"]["event_id"]["pattern"] == "^[A-Za-z0-9_.:-]{1,128}$"
    profile_id = document["paths"]["/v1/profiles/{profile_id}"]["get"]["parameters"][0]
    assert profile_id["schema"]["pattern"] == "^[A-Za-z0-9][A-Za-z0-9_:-]{0,63}$"


def test_optional_fields_that_may_not_be_null_carry_no_null_default(document):
    email = document["components"]["schemas"]["ProfileWrite"]["properties"]["email"]
    assert email["type"] == "string" and "default" not in email


def test_the_document_names_the_bearer_key_and_none_of_powertools_own_error_shapes(document):
    assert document["security"] == [{"bearer": []}]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    text = json.dumps(document)
    assert "HTTPValidationError" not in text and "ResponseValidationError" not in text


def test_a_route_that_reads_its_own_body_still_documents_it():
    # Given a route like POST /v1/imports, whose body is CSV text or a JSON object it reads itself
    class Upload(BaseModel):
        upload: bool

    router = APIGatewayHttpRouter()

    @router.post(
        "/v1/things",
        responses=openapi.answers((202, None, "Accepted"), body=True),
        openapi_extensions=openapi.read_by_the_route(
            'CSV rows, or {"upload": true}', {"text/csv": {"type": "string"}, "application/json": Upload}
        ),
    )
    def post_thing() -> Response[None]:
        return Response(status_code=202)

    app = build()
    app.include_router(router)

    # Then the document shows both media types, and the route answers without a Body() parameter
    body = openapi.document(app)["paths"]["/v1/things"]["post"]["requestBody"]
    assert body["content"]["text/csv"]["schema"] == {"type": "string"}
    assert body["content"]["application/json"]["schema"]["properties"]["upload"]["type"] == "boolean"


@pytest.mark.parametrize(
    "error, sentence",
    [
        ({"loc": ("body", "email"), "type": "string_type", "msg": "..."}, "email must be a string"),
        ({"loc": ("body", "attributes"), "type": "dict_type", "msg": "..."}, "attributes must be a JSON object"),
        ({"loc": ("body", "template"), "type": "missing", "msg": "..."}, "missing field(s): template"),
        ({"loc": ("body", "colour"), "type": "extra_forbidden", "msg": "..."}, "unknown field(s): colour"),
        ({"loc": ("body",), "type": "missing", "msg": "..."}, "the body must be a JSON object"),
        ({"loc": ("body",), "type": "model_type", "msg": "..."}, "the body must be a JSON object"),
        (
            {"loc": ("body", "batch", "events", 3, "type"), "type": "string_type", "msg": "..."},
            "events[3]: type must be a string",
        ),
        (
            {"loc": ("body", "batch", "events", 0, "x"), "type": "extra_forbidden", "msg": "..."},
            "events[0]: unknown field(s): x",
        ),
        (
            {"loc": ("body", "batch", "events", 2), "type": "model_type", "msg": "..."},
            "events[2] must be a JSON object",
        ),
        (
            {"loc": ("body", "event", "type"), "type": "missing", "msg": "..."},
            "missing field(s): type",
        ),
        (
            {"loc": ("body", "status"), "type": "literal_error", "msg": "...", "ctx": {"expected": "'a' or 'b'"}},
            "status must be one of 'a' or 'b'",
        ),
        (
            {"loc": ("body", "events"), "type": "too_long", "msg": "...", "ctx": {"max_length": 100}},
            "events may hold at most 100 items",
        ),
        ({"loc": ("query", "email"), "type": "missing", "msg": "..."}, "the query parameter email is required"),
        (
            {"loc": ("body", "x"), "type": "some_new_type", "msg": "Input is odd"},
            "x is not valid (Input is odd)",
        ),
    ],
)
def test_validation_errors_read_as_the_domains_sentences(error, sentence):
    assert openapi.sentence(error) == sentence


def test_no_function_but_the_admin_api_imports_pydantic():
    # Only the admin function ships the pydantic layer; any other handler importing it would fail in the cloud
    # (and the click path would pay for it in every cold start).
    others = [f.handler_module for f in wiring.FUNCTIONS if not f.uses_pydantic]
    code = (
        "import importlib, sys\n"
        f"for name in {others!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_core')}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={"PYTHONPATH": f"{REPO}:{REPO / 'layers/shared/python'}", "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_admin_api_does_import_pydantic_so_the_check_above_can_fail():
    assert [f.name for f in wiring.FUNCTIONS if f.uses_pydantic] == ["admin-api"]
    code = "import sys, functions.admin_api.handler\nprint('pydantic' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={"PYTHONPATH": f"{REPO}:{REPO / 'layers/shared/python'}", "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "True"
