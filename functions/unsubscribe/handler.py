"""GET /u/{token} shows a confirmation form; POST /u/{token} unsubscribes (a form post or RFC 8058 one-click)."""

from closedloop import consent, pages, services, tokens
from closedloop.errors import InvalidToken, UnknownKeyId
from closedloop.http import form_field, html_page, method, not_found, path_parameter
from closedloop.observability import logger, observed


@observed(traced=False)
def handler(event: dict, context) -> dict:
    text = path_parameter(event, "token")
    try:
        token = services.verified(lambda signer: signer.verify_message("unsubscribe", text))
    except UnknownKeyId:
        return _expired(event, text)
    except InvalidToken:
        return not_found()
    if method(event) != "POST":
        return html_page(200, pages.unsubscribe_confirmation(text))
    stats = services.campaign_stats() if token.campaign else None
    consent.unsubscribe(token, services.profiles(), services.clock().now(), stats)
    logger.info("unsubscribed", extra={"profile_id": token.profile_id})
    return html_page(200, pages.unsubscribed())


def _expired(event: dict, text: str) -> dict:
    """A link whose key was rotated away: the person confirms their address instead (closedloop.consent)."""
    address = form_field(event, "email") if method(event) == "POST" else ""
    if not address:
        return html_page(404, pages.unsubscribe_by_address(text))
    token = tokens.unverified_message(text)
    done = consent.unsubscribe_by_address(token, address, services.profiles(), services.clock().now())
    logger.info("unsubscribe by address", extra={"profile_id": token.profile_id, "matched": done})
    return html_page(200, pages.unsubscribed_if_matching())
