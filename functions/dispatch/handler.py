"""Dispatch queue -> closedloop.dispatch: one campaign job per message (an audience page, a fan-out, a page send,
the A/B winner, a stage, a resume). Jobs are idempotent; a failure is retried by SQS, then dead-lettered."""

import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from closedloop import services
from closedloop.observability import logger, observed

processor = BatchProcessor(event_type=EventType.SQS)


def dispatch_one(record) -> dict:
    report = services.dispatcher().handle(json.loads(record.body))
    logger.info("dispatch", extra=report)
    return report


@observed
def handler(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=dispatch_one, processor=processor, context=context)
