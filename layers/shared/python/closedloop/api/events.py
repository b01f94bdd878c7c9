from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from closedloop import events, services, tracking
from closedloop.api.body import json_body, json_response

router = APIGatewayHttpRouter()


@router.post("/v1/events")
def post_event() -> Response:
    activity = events.event_activity(json_body(router.current_event), services.clock().now())
    recorded = tracking.record(activity, services.activity_log(), services.config())
    return json_response(202, {"event_id": activity.activity_id, "recorded": recorded})
