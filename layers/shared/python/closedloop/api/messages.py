from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from closedloop import messages, services, tokens
from closedloop.api import models
from closedloop.api.body import json_response
from closedloop.api.openapi import answers

router = APIGatewayHttpRouter()


@router.post(
    "/v1/messages",
    summary="Send one message through the send gate",
    responses=answers(
        (202, models.Queued, "Queued; GET /v1/messages/{message_id} tells what became of it"),
        errors={
            404: "profile_not_found, template_not_found",
            409: "not_subscribed: the profile receives no mail",
            422: "template_error: the template does not render with this profile and context",
        },
        body=True,
    ),
)
def post_message(body: Annotated[models.MessageRequest, Body()]) -> Response[models.Queued]:
    result = messages.request_message(
        body.plain(),
        profiles=services.profiles(),
        ledger=services.ledger(),
        queue=services.send_queue(),
        preview=services.preview_renderer(),
        now=services.clock().now(),
        known_topics=services.config().topic_ids,
    )
    return json_response(202, result)


@router.get(
    "/v1/messages/<message_id>",
    summary="What became of a message",
    responses=answers((200, models.MessageState, "The message's state"), errors={404: "message_not_found"}),
)
def get_message(
    message_id: Annotated[str, Path(json_schema_extra={"pattern": tokens.MESSAGE_ID.pattern})],
) -> Response[models.MessageState]:
    return json_response(200, messages.message_status(message_id, services.ledger()))
