"""GET|HEAD /r/{token}: send the recipient on to the link's target; the reactions queue stores and decides the click."""

from closedloop import services, tracking
from closedloop.errors import InvalidToken
from closedloop.http import header, method, not_found, path_parameter, redirect
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
    bot = tracking.door_verdict(method(event), header(event, "user-agent"), services.config().bots, click.link)
    activity = tracking.click_activity(click, services.clock().now(), bot)
    recording = tracking.queue_click(activity, services.reaction_queue())
    tracking.log_recording(logger, "click", activity, recording)
    metrics.add_metric(name=f"Clicks_{recording.outcome}", unit="Count", value=1)
    return redirect(click.link.url)
