"""SQS send queue -> the send gate. Partial batch failures: one bad record never holds back the others."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from closedloop import sending, services
from closedloop.observability import logger, metrics, observed

processor = BatchProcessor(event_type=EventType.SQS)


def send_one(record) -> str:
    request = sending.SendRequest.from_json(record.body)
    outcome = sending.send(
        request,
        profiles=services.profiles(),
        ledger=services.ledger(),
        renderer=services.renderer(),
        mailer=services.mailer(),
        queue=services.send_queue(),
        now=services.clock().now(),
    )
    logger.info(
        "send", extra={"profile_id": request.profile_id, "send_key": request.send_key, "outcome": outcome.value}
    )
    metrics.add_metric(name=f"Send_{outcome.value}", unit="Count", value=1)
    return outcome.value


@observed
def handler(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=send_one, processor=processor, context=context)
