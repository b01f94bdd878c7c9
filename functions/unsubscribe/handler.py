"""GET /u/{token} shows a confirmation form; POST /u/{token} unsubscribes (a form post or RFC 8058 one-click)."""

from closedloop import consent, services
from closedloop.errors import InvalidToken
from closedloop.http import html_page, not_found, path_parameter
from closedloop.observability import logger, observed


@observed(traced=False)
def handler(event: dict, context) -> dict:
    text = path_parameter(event, "token")
    try:
        token = services.signer().verify_message("unsubscribe", text)
    except InvalidToken:
        return not_found()
    if event["requestContext"]["http"]["method"] != "POST":
        return html_page(200, consent.confirmation_page(text))
    consent.unsubscribe(token, services.profiles(), services.clock().now())
    logger.info("unsubscribed", extra={"profile_id": token.profile_id})
    return html_page(200, consent.done_page())
