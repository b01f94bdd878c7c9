"""SQS activity-retry queue: records clicks and opens whose synchronous recording failed. Idempotent by activity id."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from closedloop import services, tracking
from closedloop.errors import ProfileNotFound
from closedloop.observability import logger, observed
from closedloop.values import Activity

processor = BatchProcessor(event_type=EventType.SQS)


def record_one(record) -> None:
    activity = Activity.from_dict(record.json_body)
    try:
        tracking.record(activity, services.activity_log(), services.config())
    except ProfileNotFound:
        logger.info("activity for a deleted profile dropped", extra={"profile_id": activity.profile_id})


@observed
def handler(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=record_one, processor=processor, context=context)
