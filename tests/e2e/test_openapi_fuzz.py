"""The admin API fuzzed from its own document (GET /v1/openapi.json) by Schemathesis, over HTTP on the local runtime.

Every route the wiring declares gets generated requests from the document, valid ones and invalid ones (wrong
types, missing and unknown fields, odd parameters): no answer may be a 5xx, and every answer must have a status,
a content type and a body the document declares for it. The run is bounded and deterministic (Hypothesis
derandomized, no example database), so CI sends the same requests every time. Destructive operations (erasures,
the sending pause) are fine here: this module has its own runtime.

Random ids name nothing, so reads would only ever answer 404: each GET also runs with the ids (and the address) of
a person the module set up with events, a sent message and a suppressed address, so their 200 answers are checked
against the document too.

Schemathesis' own pytest loader (`schemathesis.pytest.from_fixture`) does not run on pytest 9 (it sets a node
attribute pytest removed), so each operation's strategy drives a plain Hypothesis test.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from closedloop_local.client import LocalClient
from closedloop_local.runtime import Runtime
from infra import wiring

pytestmark = pytest.mark.e2e

# Small enough that the whole fuzz (every route, both modes) takes well under two minutes on two shared cores.
EXAMPLES = 40
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,  # what the document forbids is refused (4xx), never accepted
]
ROUTES = [(route.method, route.path) for route in wiring.ADMIN.routes]


@pytest.fixture(scope="module")
def document(runtime: Runtime) -> schemathesis.BaseSchema:
    key = {"Authorization": f"Bearer {runtime.api_key}"}
    config = schemathesis.Config.from_dict({"base-url": runtime.base_url, "headers": key})
    return schemathesis.openapi.from_url(f"{runtime.base_url}/v1/openapi.json", headers=key, config=config)


@pytest.fixture(scope="module")
def known(client: LocalClient) -> dict:
    """Parameters that name something: a subscribed person with aggregates, a sent message, a suppressed address,
    a finished import with a bad row, a saved segment."""
    email = "fuzz-ada@example.com"
    client.put_profile("fuzz-ada", email, first_name="Ada", birthday="1990-06-15", city="Perth", score=7)
    purchase = {"order_id": "o-1", "total": 42.5, "currency": "EUR"}
    cart = {"cart_id": "c-1", "total": 10, "currency": "EUR", "items": [{"sku": "s-1"}]}
    cart_updated = {"profile_id": "fuzz-ada", "type": "cart_updated", "properties": cart}
    client.ok("POST", "/v1/events", {"events": [cart_updated]})
    client.ok("POST", "/v1/events", {"profile_id": "fuzz-ada", "type": "purchase", "properties": purchase})
    message_id = client.send("fuzz-ada", "newsletter-demo", "fuzz-1")["message_id"]
    client.drain()
    assert client.ok("GET", f"/v1/messages/{message_id}")["state"] == "sent"
    client.ok("PUT", "/v1/suppressions/fuzz-gone@example.com", {"reason": "manual"})
    csv = b"email,first_name\nfuzz-iris@example.com,Iris\nnot-an-address,Bad\n"
    started = client.request("POST", "/v1/imports?status=pending", csv, headers={"Content-Type": "text/csv"})
    assert started.status == 202, started
    client.drain()
    travellers = {"field": "interests.travel", "op": ">=", "value": 1}
    client.ok("PUT", "/v1/segments/fuzz-travellers", {"name": "Travellers", "rules": travellers})
    campaign = {"name": "Fuzz", "template": "newsletter-demo", "segment": "fuzz-travellers"}
    campaign_id = client.ok("POST", "/v1/campaigns", campaign)["campaign_id"]
    names = {
        "campaign_id": campaign_id,
        "profile_id": "fuzz-ada",
        "message_id": message_id,
        "email": "fuzz-gone@example.com",
        "segment_id": "fuzz-travellers",
    }
    return {**names, "import_id": started.json()["import_id"]}


def _runs(document, method: str, path: str, known: dict) -> list[dict]:
    """How to fuzz one route: valid requests; invalid ones if it takes input; reads of what `known` names too."""
    declared = document.raw_schema["paths"][path][method.lower()]
    runs = [{"generation_mode": GenerationMode.POSITIVE}]
    # Invalid requests exist only where something is constrained: a body, or a parameter with more to its schema
    # than "a string" (any text is a valid import id, say: the route answers 404 for an unknown one).
    constrained = [p for p in declared.get("parameters", []) if set(p.get("schema", {})) - {"type", "title"}]
    if constrained or declared.get("requestBody"):
        runs.append({"generation_mode": GenerationMode.NEGATIVE})
    if method == "GET" and declared.get("parameters"):
        names = {(p["in"], p["name"]) for p in declared["parameters"]}
        path_parameters = {name: known[name] for where, name in names if where == "path"}
        query = {"email": "fuzz-ada@example.com"} if ("query", "email") in names else None
        runs.append({"path_parameters": path_parameters, "query": query})
    return runs


@pytest.mark.parametrize("method, path", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_every_admin_route_answers_as_its_document_declares(document, known, runtime, method, path):
    operation = document[path][method]
    key = {"Authorization": f"Bearer {runtime.api_key}"}

    for run in _runs(document, method, path, known):

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(**run))
        def answers_as_declared(case):
            case.call_and_validate(headers=key, checks=CHECKS)

        answers_as_declared()
