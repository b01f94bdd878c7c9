from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from closedloop import messages, services
from closedloop.api.body import json_body, json_response

router = APIGatewayHttpRouter()


@router.post("/v1/messages")
def post_message() -> Response:
    result = messages.request_message(
        json_body(router.current_event),
        profiles=services.profiles(),
        ledger=services.ledger(),
        queue=services.send_queue(),
        preview=services.preview_renderer(),
        now=services.clock().now(),
        known_topics=services.config().topic_ids,
    )
    return json_response(202, result)


@router.get("/v1/messages/<message_id>")
def get_message(message_id: str) -> Response:
    return json_response(200, messages.message_status(message_id, services.ledger()))
