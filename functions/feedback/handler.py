"""SES feedback from the default bus (Bounce, Complaint, ...) -> the suppression list and, for a complaint, consent."""

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source

from closedloop import campaign_stats, feedback, services
from closedloop.observability import logger, observed


@observed
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context) -> dict:
    now = services.clock().now()
    handled = feedback.handle(feedback.parse(event.detail), services.suppressions(), services.profiles(), now)
    if campaign_stats.feedback_ref(event.detail) is not None:  # a campaign's mail: delivered, bounced, complained
        campaign_stats.count_feedback(event.detail, services.campaign_stats())
    # Profile ids only: addresses are personal data and stay out of the logs.
    logger.info("ses feedback", extra=handled._asdict())
    return handled._asdict()
