"""Scheduled hourly: birthday mails for every profile whose birthday morning has come in their own zone."""

from closedloop import services
from closedloop.observability import logger, observed


@observed
def handler(event: dict, context) -> dict:
    summary = services.run_check("birthday", context)
    logger.info("birthday check", extra=summary)
    return summary
