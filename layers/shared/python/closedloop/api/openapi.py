"""GET /v1/openapi.json, and what keeps the document true: request validation in its place, its errors as sentences,
and the answers every route declares.

Powertools generates the document from the routes: their path and query parameters, their `Body()` models and the
`responses=` each declares with `answers(...)` (closedloop.api.models holds the shapes). Powertools' request
validation runs as one of the resolver's middlewares, after the API key (an unauthenticated caller learns nothing
about the shape of a body, and gets 401 whatever it sent), and reads the body through closedloop's own checks
(closedloop.api.body: size, UTF-8, NaN, NUL, depth, DynamoDB numbers) whatever its Content-Type says. Its errors
become `400 invalid_input` with a sentence naming the field, like every other refusal of the admin API.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import OpenAPIRequestValidationMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from pydantic import BaseModel

from closedloop.api import models
from closedloop.api.body import json_body
from closedloop.errors import InvalidInput

DOCUMENT_PATH = "/v1/openapi.json"
JSON = "application/json"
TITLE = "closedloop admin API"
VERSION = "v1"
# Shapes Powertools adds to every document for its own 422 answers; this API answers 400 invalid_input instead.
POWERTOOLS_ONLY = ("HTTPValidationError", "ValidationError", "ResponseValidationError")
SECURITY_SCHEMES = {"bearer": HTTPBearer(description="The admin API key: Authorization: Bearer <key>.")}

# Answers any admin route can give, whatever it does.
ALWAYS = {
    401: "unauthorized: a missing or wrong API key",
    500: "config_error: the deployed configuration is broken (the operator's problem); internal_error",
    503: "dependency_failed: an AWS call failed; retry",
}
BAD_INPUT = "invalid_input: a parameter or the body is not what this route accepts (the sentence names it)"
TOO_LARGE = "payload_too_large: the body is larger than 64 KiB"


def answers(
    *successes: tuple[int, type[BaseModel] | None, str],
    errors: dict[int, str] | None = None,
    body: bool = False,
    takes_input: bool = True,
) -> dict[int, dict]:
    """The `responses=` of a route: its successes (status, model or None for no body, description), then the error
    shape for `errors` (status: the codes it answers), 400 when it takes input, 413 when it takes a body, and the
    401/500/503 any route can answer."""
    declared: dict[int, dict] = {
        status: {"description": text, "content": {JSON: {"model": model}} if model else {}}
        for status, model, text in successes
    }
    refusals = {**({400: BAD_INPUT} if takes_input or body else {}), **({413: TOO_LARGE} if body else {})}
    for status, text in {**refusals, **(errors or {}), **ALWAYS}.items():
        declared[status] = {"description": text, "content": {JSON: {"model": models.Error}}}
    return declared


def read_by_the_route(description: str, content: dict[str, type[BaseModel] | dict]) -> dict:
    """The `openapi_extensions=` of a route that reads its own body (not JSON, or one of several media types), so
    the document still shows it: media type -> a model or a JSON schema. Nothing validates it before the route."""
    schemas = {
        media_type: {"schema": shape.model_json_schema() if isinstance(shape, type) else shape}
        for media_type, shape in content.items()
    }
    return {"requestBody": {"required": True, "description": description, "content": schemas}}


class ValidateAfterKey(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation as an ordinary middleware (placed after the API key by closedloop.api.app),
    reading the body with closedloop's checks: a JSON body whatever the Content-Type (curl -d sends a form type).

    Every admin body is a JSON object: anything else is refused here, because Powertools would quietly validate
    the first item of a list as if it were the body (it unwraps lists for form fields)."""

    def _get_body(self, app: APIGatewayHttpResolver) -> Any:
        event = app.current_event
        body = json_body(event) if (event.body or "").strip() else None
        if body is not None and not isinstance(body, dict):
            raise InvalidInput("the body must be a JSON object")
        return body


def invalid_input(error: RequestValidationError) -> InvalidInput:
    """The first problem pydantic found, as the sentence the domain would write."""
    return InvalidInput(sentence(error.errors()[0]))


def sentence(error: dict) -> str:
    """'attributes must be a JSON object', 'events[1]: type must be a string', 'missing field(s): template'."""
    source, *loc = error["loc"]
    if source == "body" and loc and loc[0] in models.EVENT_FORMS:
        loc = loc[1:]  # the union's tag, not a field the caller wrote
    if source != "body":
        return f"the {source} parameter {_dotted(loc)} {_phrase(error)}"
    last_index = max((i for i, part in enumerate(loc) if isinstance(part, int)), default=-1)
    item, field = _dotted(loc[: last_index + 1]), _dotted(loc[last_index + 1 :])
    if error["type"] in ("missing", "extra_forbidden") and field:
        words = "missing field(s)" if error["type"] == "missing" else "unknown field(s)"
        return f"{item}: {words}: {field}" if item else f"{words}: {field}"
    if error["type"] == "missing":
        return "the body must be a JSON object"
    subject = f"{item}: {field}" if item and field else item or field or "the body"
    return f"{subject} {_phrase(error)}"


PHRASES = {
    "missing": "is required",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "list_type": "must be a list",
    "literal_error": "must be one of {expected}",
    "string_too_long": "is longer than {max_length} characters",
    "too_long": "may hold at most {max_length} items",
    "too_short": "must hold at least {min_length} item(s)",
}


def _phrase(error: dict) -> str:
    template = PHRASES.get(error["type"])
    if template is None:
        return f"is not valid ({error['msg'][:120]})"
    return template.format(**{name: str(value)[:120] for name, value in (error.get("ctx") or {}).items()})


def _dotted(loc: list) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def serve_document(app: APIGatewayHttpResolver) -> None:
    """Add GET /v1/openapi.json to `app`: the document of every route, generated once per container."""
    generated: list[str] = []

    @app.get(
        DOCUMENT_PATH,
        summary="This document: every admin route with its parameters, bodies and answers",
        responses=answers((200, models.Document, "The OpenAPI 3.1 document"), takes_input=False),
    )
    def openapi_document() -> Response[models.Document]:
        if not generated:
            generated.append(json.dumps(document(app), separators=(",", ":")))
        return Response(status_code=200, content_type=JSON, body=generated[0])


def document(app: APIGatewayHttpResolver) -> dict:
    """The OpenAPI document of `app`'s routes, without the shapes of answers this API never gives."""
    generated = json.loads(
        app.get_openapi_json_schema(
            title=TITLE,
            version=VERSION,
            description="Every admin route, generated from the code. Errors are {code, message}.",
            security_schemes=SECURITY_SCHEMES,
            security=[{"bearer": []}],
        )
    )
    schemas = generated["components"]["schemas"]
    for name in POWERTOOLS_ONLY:
        schemas.pop(name, None)
    return generated
