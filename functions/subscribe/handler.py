"""GET /subscribe shows the sign-up form; POST /subscribe (form or JSON) starts a double opt-in.

The answer is the same for every address, whatever its state (closedloop.signup): nobody learns who is subscribed.
"""

from closedloop import services, signup, signup_pages, web_forms
from closedloop.errors import ClosedloopError
from closedloop.http import html_page, method
from closedloop.observability import logger, observed

RECEIVED = "If this address can receive our e-mail, a link to confirm the subscription is on its way."


@observed(traced=False)
def handler(event: dict, context) -> dict:
    config = services.config()
    if method(event) != "POST":
        return html_page(200, signup_pages.subscribe_form(config.topics))
    as_json = web_forms.wants_json(event)
    try:
        submission = web_forms.read(event)
        request = signup.parse_signup(submission.fields, config, strict=submission.is_json)
        outcome, profile_id = signup.subscribe(
            request,
            profiles=services.profiles(),
            signups=services.signups(),
            queue=services.send_queue(),
            signer=services.signer(),
            config=config,
            base_url=services.settings().tracking_base_url,
            now=services.clock().now(),
        )
    except ClosedloopError as error:
        return _refused(error, as_json)
    logger.info("sign-up", extra={"outcome": outcome, "profile_id": profile_id})
    if as_json:
        return web_forms.json_answer(202, {"status": "received", "message": RECEIVED})
    return html_page(200, signup_pages.check_your_inbox(config.double_opt_in.link_valid_days))


def _refused(error: ClosedloopError, as_json: bool) -> dict:
    status = web_forms.error_status(error)
    if status >= 500:
        logger.error("sign-up failed", extra={"code": error.code, "reason": error.message})
    if as_json:
        return web_forms.json_answer(status, {"code": error.code, "message": error.message})
    return html_page(status, signup_pages.form_error(error.message))
