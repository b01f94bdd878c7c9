"""GET /o/{token}: answer the 1x1 pixel and record the open (opens do not count as activity: proxies prefetch)."""

from closedloop import services, tracking
from closedloop.errors import InvalidToken
from closedloop.http import path_parameter, pixel
from closedloop.observability import logger, metrics, observed


@observed(traced=False)
def handler(event: dict, context) -> dict:
    try:
        token = services.signer().verify_message("open", path_parameter(event, "token").removesuffix(".gif"))
    except InvalidToken:
        return pixel()  # a mail client shows a broken image for a 404; nothing is recorded either way
    now = services.clock().now()
    activity = tracking.open_activity(token, now)
    outcome = tracking.record_or_defer(activity, services.profiles(), services.config(), services.activity_queue())
    logger.info("open", extra={"profile_id": token.profile_id, "outcome": outcome})
    metrics.add_metric(name=f"Opens_{outcome}", unit="Count", value=1)
    return pixel()
