from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from closedloop import admin, services
from closedloop.api.body import json_body, json_response

router = APIGatewayHttpRouter()


@router.post("/v1/messages")
def post_message() -> Response:
    result = admin.request_message(
        json_body(router.current_event), services.profiles(), services.send_queue(), services.template_exists
    )
    return json_response(202, result)
