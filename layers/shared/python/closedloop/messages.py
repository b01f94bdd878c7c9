"""Messages an integrator asks for (POST /v1/messages) and what became of them (GET /v1/messages/{id}).

A request is checked at the door as far as it can be without sending: the profile exists and may receive mail,
and the template renders with the given context (once, with a throwaway signing key: no link it makes is real).
What the door accepts is queued with the status "queued"; the send gate records the outcome under the same id.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime

from closedloop.clock import isoformat
from closedloop.errors import (
    HeaderInjection,
    InvalidInput,
    MessageNotFound,
    NotSubscribed,
    ProfileNotFound,
    TemplateError,
    TemplateNotFound,
)
from closedloop.ports import Ledger, MessageStatus, ProfileStore, SendQueue
from closedloop.profiles import validate_profile_id
from closedloop.sending import Renderer, SendRequest
from closedloop.tokens import MESSAGE_ID, new_message_id
from closedloop.validation import business_key, fields_of


def request_message(
    body: object,
    *,
    profiles: ProfileStore,
    ledger: Ledger,
    queue: SendQueue,
    preview: Renderer,
    now: datetime,
    known_topics: tuple[str, ...] = (),
) -> dict:
    """Queue one message through the send gate. With an idempotency_key, a repeated call sends nothing new.

    A `topic` (one of `known_topics`) makes the gate skip people who left it; a `transactional` message (one the
    person asked for) may go to a profile that is not subscribed; a `capped` one waits for the frequency cap and
    quiet hours (closedloop.pacing; a transactional message is exempt even then).
    """
    data = fields_of(
        body,
        required={"profile_id", "template"},
        optional={"idempotency_key", "context", "topic", "transactional", "capped"},
    )
    profile_id = validate_profile_id(data["profile_id"])
    template = data["template"]
    if not isinstance(template, str) or not preview.exists(template):
        raise TemplateNotFound(f"no template named {str(template)[:64]!r}")
    context = data.get("context", {})
    if not isinstance(context, dict):
        raise InvalidInput("context must be a JSON object")
    topic = data.get("topic")
    if topic is not None and (not isinstance(topic, str) or topic not in known_topics):
        raise InvalidInput(f"topic must be one of the configured topics: {', '.join(known_topics) or 'none'}")
    transactional = data.get("transactional", False)
    if not isinstance(transactional, bool):
        raise InvalidInput("transactional must be true or false")
    capped = data.get("capped", False)
    if not isinstance(capped, bool):
        raise InvalidInput("capped must be true or false")
    key = business_key(data["idempotency_key"], "idempotency_key") if "idempotency_key" in data else None
    profile = profiles.get(profile_id, consistent=True)
    if profile is None:
        raise ProfileNotFound(f"no profile with id {profile_id!r}")
    if not profile.subscribed and not transactional:
        raise NotSubscribed(f"profile {profile_id!r} is {profile.status}: it receives no mail")
    # The same key for the same person is the same message: its id is derived, so a retry answers the same id.
    message_id = derived_id(f"{key}|{profile_id}") if key else new_message_id()
    request = SendRequest(
        send_key=f"api#{key or message_id}#{profile_id}",
        profile_id=profile_id,
        template=template,
        message_id=message_id,
        context=context,
        topic=topic,
        transactional=transactional,
        capped=capped,
    )
    try:
        mail, _ = preview.render(request, profile)
        mail.mime(now)
    except (TemplateError, HeaderInjection) as error:
        raise TemplateError(f"template {template!r} cannot be rendered for this profile: {error.message}") from error
    queued = MessageStatus(message_id, profile_id, template, "queued", isoformat(now))
    ledger.put_message_status(queued, only_if_new=True)  # a retry must not turn "sent" back into "queued"
    queue.enqueue([request])
    return {"message_id": message_id}


def message_status(message_id: str, ledger: Ledger) -> dict:
    if not isinstance(message_id, str) or not MESSAGE_ID.match(message_id):
        raise InvalidInput("message_id must be 1-40 characters: letters, digits, '_' or '-'")
    status = ledger.get_message_status(message_id)
    if status is None:
        raise MessageNotFound(f"no message with id {message_id!r}")
    return status.to_api()


def derived_id(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()[:16]).rstrip(b"=").decode()
