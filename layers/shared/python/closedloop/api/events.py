from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from closedloop import admin, services
from closedloop.api.body import json_body, json_response

router = APIGatewayHttpRouter()


@router.post("/v1/events")
def post_event() -> Response:
    result = admin.record_event(
        json_body(router.current_event),
        services.profiles(),
        services.config(),
        services.clock().now(),
    )
    return json_response(202, result)
