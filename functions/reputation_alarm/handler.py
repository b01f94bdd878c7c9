"""CloudWatch alarm state changes from the default bus -> a sending pause when SES's reputation alarms fire."""

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source

from closedloop import pause, services
from closedloop.observability import logger, observed


@observed
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context) -> dict:
    reason = pause.on_alarm(event.detail, services.sending_control(), services.clock().now())
    if reason:
        logger.warning("sending paused by an SES reputation alarm", extra={"reason": reason})
    return {"paused": reason is not None, "reason": reason}
