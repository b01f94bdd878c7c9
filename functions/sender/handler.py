"""SQS send queue -> the send gate. Partial batch failures: one bad record never holds back the others."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from closedloop import campaign_stats, dispatch, sending, services
from closedloop.observability import logger, metrics, observed

processor = BatchProcessor(event_type=EventType.SQS)
# A campaign's status, read once per campaign per batch (strongly consistent): a pause or cancel stops its mail
# within one batch. Cleared at the start of every invocation.
_campaign_status: dict[str, str | None] = {}


def _campaign_gate(request: sending.SendRequest) -> sending.SendResult | None:
    if request.campaign is None:
        return None
    campaign_id = request.campaign.id
    if campaign_id not in _campaign_status:
        _campaign_status[campaign_id] = services.campaign_store().status(campaign_id)
    return dispatch.gate(
        request, _campaign_status[campaign_id], services.campaign_store(), services.ledger(), services.clock().now()
    )


# Outcomes a person should look at; the others are the gate working as intended.
NOTEWORTHY = {sending.Outcome.FAILED_RENDER, sending.Outcome.FAILED_REJECTED, sending.Outcome.POSSIBLY_SENT}


def send_one(record) -> str:
    request = sending.SendRequest.from_json(record.body)
    result = _campaign_gate(request) or sending.send(
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
    if result.outcome is sending.Outcome.DEFERRED and request.campaign is not None:
        services.campaign_store().note_throttle(request.campaign.id)  # later pages of the campaign go slower
    return result.outcome.value


@observed
def handler(event: dict, context) -> dict:
    _campaign_status.clear()
    return process_partial_response(event=event, record_handler=send_one, processor=processor, context=context)
