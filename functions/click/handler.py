"""GET /r/{token}: send the recipient on to the link's target, then record the click and apply its actions."""

from closedloop import services, tracking
from closedloop.errors import InvalidToken
from closedloop.http import not_found, path_parameter, redirect
from closedloop.observability import logger, metrics, observed


@observed(traced=False)
def handler(event: dict, context) -> dict:
    try:
        click = tracking.resolve_click(path_parameter(event, "token"), services.signer(), services.ledger())
    except InvalidToken as error:
        logger.info("refused click token", extra={"reason": error.message})
        metrics.add_metric(name="InvalidTokens", unit="Count", value=1)
        return not_found()
    now = services.clock().now()
    activity = tracking.click_activity(click, now)
    outcome = tracking.record_or_defer(activity, services.profiles(), services.config(), services.activity_queue())
    logger.info("click", extra={"profile_id": activity.profile_id, "outcome": outcome})
    metrics.add_metric(name=f"Clicks_{outcome}", unit="Count", value=1)
    return redirect(click.link.url)
