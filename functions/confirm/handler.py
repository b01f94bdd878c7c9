"""GET /c/{token} shows the confirm page and changes nothing (scanners prefetch); POST /c/{token} confirms."""

from closedloop import services, signup, signup_pages
from closedloop.errors import InvalidToken
from closedloop.http import html_page, method, not_found, path_parameter
from closedloop.observability import logger, observed


@observed(traced=False)
def handler(event: dict, context) -> dict:
    text = path_parameter(event, "token")
    now = services.clock().now()
    try:
        token = services.verified(lambda signer: signer.verify_confirm(text, int(now.timestamp())))
    except InvalidToken:
        return not_found()
    config = services.config()
    if method(event) != "POST":
        if signup.current_profile(token, services.profiles(), services.signer()) is None:
            return not_found()
        labels = {topic.id: topic.label for topic in config.topics}
        wanted = [labels[t] for t in token.topics if t in labels] if token.topics else None
        return html_page(200, signup_pages.confirm_page(config.double_opt_in.consent_text, wanted))
    http = event["requestContext"]["http"]
    profile = signup.confirm(
        token,
        text,
        {"ip": http.get("sourceIp", ""), "user_agent": http.get("userAgent", "")},
        profiles=services.profiles(),
        signups=services.signups(),
        queue=services.send_queue(),
        publisher=services.publisher(),
        signer=services.signer(),
        suppressions=services.suppressions(),
        erasure=services.erasure_keys(),
        config=config,
        now=now,
    )
    if profile is None:
        return not_found()
    logger.info("sign-up confirmed", extra={"profile_id": profile.profile_id})
    return html_page(200, signup_pages.confirmed())
