"""SQS reactions queue: stores clicks, settles them after the settle window, records opens whose recording failed.

Every step is idempotent by the click's (or open's) id, so a redelivered message changes nothing.
"""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from closedloop import conversions, services, tracking
from closedloop.errors import ProfileNotFound
from closedloop.observability import logger, metrics, observed
from closedloop.values import Activity

processor = BatchProcessor(event_type=EventType.SQS)


def handle(record) -> None:
    body = record.json_body
    activity = Activity.from_dict(body["activity"])
    log, config = services.activity_log(), services.config()
    if body["step"] == "settle":
        verdict = tracking.settle_click(activity, log, config, on_human=_campaign_click)
        logger.info("click settled", extra={"profile_id": activity.profile_id, "verdict": verdict})
        metrics.add_metric(name=f"Clicks_{verdict}", unit="Count", value=1)
    elif activity.kind == "click":
        stored = tracking.record_click(activity, log, config, services.reaction_queue())
        if stored and activity.bot_reason:  # decided at the door: it never settles
            metrics.add_metric(name=f"Clicks_bot_{activity.bot_reason}", unit="Count", value=1)
    else:
        try:
            tracking.record(activity, log, config)
        except ProfileNotFound:
            logger.info("an open for a deleted profile dropped", extra={"profile_id": activity.profile_id})


def _campaign_click(activity: Activity) -> None:
    if activity.details.get("campaign"):
        conversions.after_human_click(activity, services.campaign_stats(), services.campaign_reach())


@observed
def handler(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
