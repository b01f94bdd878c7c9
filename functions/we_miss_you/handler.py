"""Scheduled daily: we-miss-you for every profile silent for the configured number of days."""

from closedloop import services
from closedloop.observability import logger, observed


@observed
def handler(event: dict, context) -> dict:
    summary = services.run_check("we-miss-you", context)
    logger.info("we-miss-you check", extra=summary)
    return summary
