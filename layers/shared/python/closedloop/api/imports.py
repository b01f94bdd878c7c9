"""POST /v1/imports (a CSV in the body, or an upload URL for a larger file) and GET /v1/imports/{import_id}."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from closedloop import imports, services
from closedloop.api import models
from closedloop.api.body import json_body, json_response
from closedloop.api.openapi import answers, read_by_the_route
from closedloop.errors import InvalidInput
from closedloop.http import raw_body

router = APIGatewayHttpRouter()


@router.post(
    "/v1/imports",
    summary="Import profiles from a CSV file (posted, or uploaded through a presigned URL); processed in chunks",
    responses=answers((202, models.ImportStarted, "Accepted: poll GET /v1/imports/{import_id}"), body=True),
    # The route reads its body itself: CSV text, or {"upload": true}.
    openapi_extensions=read_by_the_route(
        'CSV rows under a header line naming the columns (email required), or {"upload": true}',
        {"text/csv": {"type": "string"}, "application/json": models.ImportUpload},
    ),
)
def start_import(
    status: Annotated[
        Literal["subscribed", "unsubscribed", "pending"] | None,
        Query(description="The status of rows whose own status column is empty."),
    ] = None,
    consent_source: Annotated[
        str | None,
        Query(description="Where and how these people agreed; required with status=subscribed.", max_length=200),
    ] = None,
) -> Response[models.ImportStarted]:
    event = router.current_event
    options = imports.parse_options(event.query_string_parameters)  # the domain's sentences, unknown names refused
    content_type = (event.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type == "application/json":
        imports.parse_upload_request(json_body(event))
        data = None
    else:
        data = raw_body(event.raw_event)
        if not data:
            raise InvalidInput('the body is empty: send a CSV (Content-Type: text/csv), or {"upload": true}')
    answer = imports.start(
        options,
        data=data,
        store=services.import_store(),
        files=services.import_files(),
        prefix=imports.FILE_PREFIX,
        now=services.clock().now(),
    )
    return json_response(202, answer)


@router.get(
    "/v1/imports/<import_id>",
    summary="An import's status, counters and first errors",
    responses=answers((200, models.ImportState, "The import"), errors={404: "import_not_found"}),
)
def get_import(import_id: str) -> Response[models.ImportState]:
    return json_response(200, imports.report(services.import_store(), import_id))
