"""EventBridge threshold.crossed -> a send request keyed by rule and profile (repeated events send once)."""

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source

from closedloop import services, thresholds
from closedloop.observability import logger, observed
from closedloop.sending import SendRequest


@observed
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context) -> dict:
    detail = event.detail
    request = SendRequest(
        send_key=thresholds.send_key(detail["rule_id"], detail["profile_id"]),
        profile_id=detail["profile_id"],
        template=detail["template"],
        context={"rule": detail["rule_id"], "counter": detail["counter"], "value": detail["value"]},
        capped=detail.get("capped") is True,
    )
    services.send_queue().enqueue([request])
    logger.info("threshold send queued", extra={"profile_id": request.profile_id, "rule_id": detail["rule_id"]})
    return {"send_key": request.send_key}
