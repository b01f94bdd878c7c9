"""The pages of signing up, confirming and choosing topics: the look of closedloop.pages, no JavaScript.

Every value from outside (topic labels from the configuration, the consent sentence, error sentences) is escaped
here. Forms have no `action`: they post to the page's own URL, which is the token's.
"""

from __future__ import annotations

from html import escape

from closedloop.config import Topic
from closedloop.pages import page


def _topic_boxes(topics: tuple[Topic, ...], chosen: list[str] | tuple[str, ...] | None, legend: str) -> str:
    boxes = "".join(
        f'<label class="check" for="topic-{escape(t.id)}"><input type="checkbox" id="topic-{escape(t.id)}" '
        f'name="topics" value="{escape(t.id)}"{" checked" if chosen is not None and t.id in chosen else ""}>'
        f"{escape(t.label)}</label>"
        for t in topics
    )
    return f"<fieldset><legend>{escape(legend)}</legend>{boxes}</fieldset>" if topics else ""


def subscribe_form(topics: tuple[Topic, ...]) -> str:
    return page(
        "Subscribe to our newsletter",
        '<form method="post"><label for="email">Your e-mail address</label>'
        '<input id="email" name="email" type="email" autocomplete="email" required>'
        '<label for="first_name">Your first name (optional)</label>'
        '<input id="first_name" name="first_name" type="text" autocomplete="given-name" maxlength="500">'
        + _topic_boxes(topics, (), "Topics (choose none to get them all)")
        + '<div class="hp" aria-hidden="true"><label for="website">Leave this field empty</label>'
        '<input id="website" name="website" type="text" tabindex="-1" autocomplete="off"></div>'
        '<button type="submit">Subscribe</button></form>'
        '<p class="note">We will send you an e-mail with a link to confirm. Nothing is sent until you do.</p>',
    )


def check_your_inbox(link_valid_days: int) -> str:
    """The one answer to every sign-up, whatever the address's state."""
    return page(
        "Check your inbox",
        "<p>Thank you. Unless this address is subscribed already, we have sent it an e-mail with a link to "
        f"confirm your subscription. The link works for {link_valid_days} days.</p>"
        '<p class="note">Nothing arrived? Look in your spam folder, or sign up again in a few minutes.</p>',
    )


def form_error(message: str, status_title: str = "Please check your entry") -> str:
    return page(status_title, f"<p>{escape(message)}</p><p>Please go back and try again.</p>")


def confirm_page(consent_text: str, topic_labels: list[str] | None) -> str:
    wanted = ", ".join(topic_labels) if topic_labels else "all our topics"
    return page(
        "Confirm your subscription",
        f'<p>{escape(consent_text)}</p><p class="note">Topics: {escape(wanted)}</p>'
        '<form method="post"><button type="submit">Confirm</button></form>',
    )


def confirmed() -> str:
    return page(
        "You are subscribed",
        "<p>Thank you for confirming. A welcome e-mail is on its way; every e-mail we send has links to change "
        "your topics or to unsubscribe.</p>",
    )


def preferences_page(topics: tuple[Topic, ...], chosen: list[str] | None, subscribed: bool) -> str:
    state = (
        ""
        if subscribed
        else '<p class="note">You are not subscribed at the moment, so you receive none of these e-mails.</p>'
    )
    shown = chosen if chosen is not None else [t.id for t in topics]  # never chose: receives every topic
    leave = (
        '<form method="post"><input type="hidden" name="action" value="leave">'
        "<p>Or stop all e-mail from us:</p>"
        '<button type="submit" class="secondary">Unsubscribe from all</button></form>'
        if subscribed
        else ""
    )
    return page(
        "Your e-mail preferences",
        state
        + '<form method="post">'
        + _topic_boxes(topics, shown, "Topics you receive")
        + '<button type="submit" name="action" value="save">Save my choice</button></form>'
        + leave,
    )


def preferences_saved() -> str:
    return page("Your choice is saved", "<p>From now on you receive e-mail on the topics you chose.</p>")
