"""Scheduled every minute: deferred sends that fell due (quiet hours, frequency cap) go back on the send queue."""

from closedloop import services
from closedloop.observability import logger, observed


@observed
def handler(event: dict, context) -> dict:
    summary = services.run_deferrals(context)
    logger.info("deferrals tick", extra=summary)
    return summary
