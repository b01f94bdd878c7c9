"""GET /v1/sending, POST /v1/sending/pause and /resume: the sending pause (closedloop.pause holds the rules)."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from closedloop import pause, services
from closedloop.api.body import json_body, json_response

router = APIGatewayHttpRouter()


@router.get("/v1/sending")
def get_sending() -> Response:
    return json_response(200, pause.state(services.sending_control()))


@router.post("/v1/sending/pause")
def post_pause() -> Response:
    body = json_body(router.current_event) if (router.current_event.body or "").strip() else None
    reason = pause.parse_pause(body)
    return json_response(200, pause.pause(services.sending_control(), reason, services.clock().now()))


@router.post("/v1/sending/resume")
def post_resume() -> Response:
    return json_response(200, pause.resume(services.sending_control(), services.release_queue()))
