"""SQS send queue -> the send gate. Partial batch failures: one bad record never holds back the others."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from closedloop import campaign_stats, sending, services
from closedloop.observability import logger, metrics, observed

processor = BatchProcessor(event_type=EventType.SQS)
# Outcomes a person should look at; the others are the gate working as intended.
NOTEWORTHY = {sending.Outcome.FAILED_RENDER, sending.Outcome.FAILED_REJECTED, sending.Outcome.POSSIBLY_SENT}


def send_one(record) -> str:
    request = sending.SendRequest.from_json(record.body)
    result = sending.send(
        request,
        profiles=services.profiles(),
        suppressions=services.suppressions(),
        ledger=services.ledger(),
        link_sets=services.link_sets(),
        renderer=services.renderer(),
        mailer=services.mailer(),
        queue=services.send_queue(),
        now=services.clock().now(),
        erasure=services.erasure_keys(),
        control=services.sending_control(),
        pacing=services.pacing(),
    )
    if request.campaign is not None:
        campaign_stats.count_outcome(request, result.outcome.value, services.campaign_stats())
    extra = {"profile_id": request.profile_id, "send_key": request.send_key, "outcome": result.outcome.value}
    if result.outcome in NOTEWORTHY:
        logger.error("send did not go out as planned", extra={**extra, "reason": result.reason})
    else:
        logger.info("send", extra=extra)
    metrics.add_metric(name=f"Send_{result.outcome.value}", unit="Count", value=1)
    return result.outcome.value


@observed
def handler(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=send_one, processor=processor, context=context)
