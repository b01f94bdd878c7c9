"""GET /v1/sending, POST /v1/sending/pause and /resume: the sending pause (closedloop.pause holds the rules)."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from closedloop import pause, services
from closedloop.api import models
from closedloop.api.body import json_response
from closedloop.api.openapi import answers

router = APIGatewayHttpRouter()


@router.get(
    "/v1/sending",
    summary="Whether sending is paused, and how many messages the pause holds",
    responses=answers((200, models.Sending, "The sending state"), takes_input=False),
)
def get_sending() -> Response[models.Sending]:
    return json_response(200, pause.state(services.sending_control()))


@router.post(
    "/v1/sending/pause",
    summary="Pause marketing mail (an existing pause stands); transactional mail still goes",
    responses=answers((200, models.Sending, "The sending state"), body=True),
)
def post_pause(body: Annotated[models.PauseRequest | None, Body()] = None) -> Response[models.Sending]:
    reason = pause.parse_pause(body and body.plain())
    return json_response(200, pause.pause(services.sending_control(), reason, services.clock().now()))


@router.post(
    "/v1/sending/resume",
    summary="End the pause and release what it held",
    responses=answers((200, models.Sending, "The sending state"), takes_input=False),
)
def post_resume() -> Response[models.Sending]:
    return json_response(200, pause.resume(services.sending_control(), services.release_queue()))
