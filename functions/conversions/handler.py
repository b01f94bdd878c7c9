"""EventBridge event.recorded -> the campaigns whose goal this event reaches for this person, counted once each."""

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source

from closedloop import conversions, services
from closedloop.observability import logger, observed


@observed
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context) -> dict:
    converted = conversions.after_event(event.detail, services.campaign_stats(), services.campaign_reach())
    logger.info("conversions", extra={"profile_id": event.detail.get("profile_id"), "campaigns": converted})
    return {"converted": converted}
