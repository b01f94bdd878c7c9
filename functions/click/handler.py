"""GET /r/{token}: send the recipient on to the link's target, then record the click and apply its actions."""

from closedloop import services, tracking
from closedloop.errors import InvalidToken
from closedloop.http import not_found, path_parameter, redirect
from closedloop.observability import logger, metrics, observed


@observed(traced=False)
def handler(event: dict, context) -> dict:
    text = path_parameter(event, "token")
    link_sets = services.link_sets()
    try:
        click = services.verified(lambda signer: tracking.resolve_click(text, signer, link_sets))
    except InvalidToken as error:
        logger.info("refused click token", extra={"reason": error.message})
        metrics.add_metric(name="InvalidTokens", unit="Count", value=1)
        return not_found()
    activity = tracking.click_activity(click, services.clock().now())
    recording = services.record_reaction(activity)
    tracking.log_recording(logger, "click", activity, recording)
    metrics.add_metric(name=f"Clicks_{recording.outcome}", unit="Count", value=1)
    return redirect(click.link.url)
