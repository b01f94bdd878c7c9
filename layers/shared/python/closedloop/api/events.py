from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from closedloop import events, services
from closedloop.api import models
from closedloop.api.body import json_response
from closedloop.api.openapi import answers

router = APIGatewayHttpRouter()


@router.post(
    "/v1/events",
    summary="Record one event, or a batch of up to 100 (checked whole before any is recorded)",
    responses=answers(
        (202, models.Recorded | models.RecordedBatch, "One event: {event_id, recorded}; a batch: {results}"),
        errors={404: "profile_not_found: no profile holds the id or address an event names"},
        body=True,
    ),
)
def post_events(body: Annotated[models.Events, Body()]) -> Response[models.Recorded | models.RecordedBatch]:
    """One event, or {"events": [...]} (up to 100)."""
    result = events.record_events(
        body.plain(),
        log=services.activity_log(),
        profiles=services.profiles(),
        publisher=services.publisher(),
        config=services.config(),
        now=services.clock().now(),
    )
    return json_response(202, result)
