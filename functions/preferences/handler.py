"""GET /p/{token} shows the topics a person receives; POST /p/{token} saves their choice or unsubscribes them."""

from closedloop import campaign_stats, preferences, services, signup_pages, web_forms
from closedloop.errors import ClosedloopError, InvalidToken
from closedloop.http import html_page, method, not_found, path_parameter
from closedloop.observability import logger, observed
from closedloop.pages import unsubscribed


@observed(traced=False)
def handler(event: dict, context) -> dict:
    text = path_parameter(event, "token")
    try:
        token = services.verified(lambda signer: signer.verify_message("preferences", text))
    except InvalidToken:
        return not_found()
    config = services.config()
    if method(event) != "POST":
        profile = services.profiles().get(token.profile_id, consistent=True)
        if profile is None:
            return not_found()
        return html_page(200, signup_pages.preferences_page(config.topics, profile.topics, profile.subscribed))
    try:
        choice = preferences.parse_choice(web_forms.read(event).fields, config)
    except ClosedloopError as error:
        return html_page(web_forms.error_status(error), signup_pages.form_error(error.message))
    if not preferences.apply(token.profile_id, choice, services.profiles(), services.clock().now()):
        return not_found()
    if choice.action == "leave" and token.campaign is not None:
        campaign_stats.count_unsubscribe(token.campaign, token.profile_id, services.campaign_stats())
    logger.info("preferences", extra={"profile_id": token.profile_id, "action": choice.action})
    return html_page(200, unsubscribed() if choice.action == "leave" else signup_pages.preferences_saved())
