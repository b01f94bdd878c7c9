"""GET|HEAD /o/{token}: answer the 1x1 pixel and record the open (opens do not count as activity: proxies prefetch)."""

from closedloop import services, tracking
from closedloop.errors import InvalidToken
from closedloop.http import header, method, not_found, path_parameter, pixel
from closedloop.observability import logger, metrics, observed


@observed(traced=False)
def handler(event: dict, context) -> dict:
    text = path_parameter(event, "token").removesuffix(".gif")
    try:
        token = services.verified(lambda signer: signer.verify_message("open", text))
    except InvalidToken:
        return not_found()
    bot = tracking.door_verdict(method(event), header(event, "user-agent"), services.config().bots)
    activity = tracking.open_activity(token, services.clock().now(), bot)
    recording = services.record_open(activity)
    tracking.log_recording(logger, "open", activity, recording)
    metrics.add_metric(name=f"Opens_{recording.outcome}", unit="Count", value=1)
    return pixel()
