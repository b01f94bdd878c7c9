from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from closedloop import events, services
from closedloop.api.body import json_body, json_response

router = APIGatewayHttpRouter()


@router.post("/v1/events")
def post_events() -> Response:
    """One event, or {"events": [...]} (up to 100)."""
    result = events.record_events(
        json_body(router.current_event),
        log=services.activity_log(),
        profiles=services.profiles(),
        publisher=services.publisher(),
        config=services.config(),
        now=services.clock().now(),
    )
    return json_response(202, result)
