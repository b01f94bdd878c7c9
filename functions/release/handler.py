"""Release queue -> closedloop.pause.release: held messages back onto the send queue, page by page."""

import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from closedloop import pause, services
from closedloop.observability import logger, observed

processor = BatchProcessor(event_type=EventType.SQS)
SAFETY_MS = 30_000  # stop paging with time to spare; the job's continuation picks up from its cursor


def release_one(record, lambda_context) -> dict:
    report = pause.release(
        json.loads(record.body),
        control=services.sending_control(),
        send_queue=services.send_queue(),
        release_queue=services.release_queue(),
        out_of_time=lambda: lambda_context.get_remaining_time_in_millis() < SAFETY_MS,
    )
    logger.info("release", extra=report)
    return report


@observed
def handler(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=release_one, processor=processor, context=context)
