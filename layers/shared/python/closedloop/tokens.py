"""Signed tracking tokens: compact, URL-safe, HMAC-SHA256 with a key id so keys can rotate.

A token names what the sender decided (the message, the profile and, for a click, the link set and the link's
number); the redirect target and the link's actions are looked up from that, never taken from the request.

    click:  <kid>.<message_id>.<profile_id>.<link_set>.<link_no>.<signature>
    open:   <kid>.<message_id>.<profile_id>[.<campaign>].<signature>   (unsubscribe and preferences alike)
    confirm: <kid>.<profile_id>.<expires>.<topics>.<address tag>.<signature>

The purpose ("click", "open", "unsubscribe", "preferences", "confirm") is signed but not written: an open token
cannot be replayed as an unsubscribe token. The signature is the first 128 bits of the HMAC, base64url (22
characters). A confirm token expires (epoch seconds, signed) and carries a keyed tag of the address it was sent
to, so it stops working when the profile's address changes or is erased; its topics are the ones the person asked
for ("_": all), so what is confirmed is exactly what was requested.

A campaign's mail names its campaign, stage and variant in its open, unsubscribe and preference tokens
(`<campaign>~<stage>[~<variant>]`, signed like the rest), so an open or an unsubscribe is counted in the campaign's
statistics without a lookup; a click finds its campaign in its link set.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from typing import NamedTuple

from closedloop.errors import InvalidToken, UnknownKeyId
from closedloop.values import CampaignRef

SIGNATURE_BYTES = 16
_DOMAIN = b"closedloop/v1"
_KEY_ID = re.compile(r"^[A-Za-z0-9]{1,8}$")
PROFILE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_:-]{0,63}$")
MESSAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_LINK_SET = re.compile(r"^[a-z0-9]{1,32}$")
_LINK_NO = re.compile(r"^(0|[1-9][0-9]{0,3})$")
_EXPIRES = re.compile(r"^[1-9][0-9]{0,11}$")
_TOPICS = re.compile(r"^(_|[a-z][a-z0-9_-]{0,39}(~[a-z][a-z0-9_-]{0,39}){0,49})$")
_TAG = re.compile(r"^[A-Za-z0-9_-]{11}$")
_CAMPAIGN = re.compile(r"^[A-Za-z0-9_-]{1,64}(~[A-Za-z0-9_-]{1,64}){1,2}$")
ALL_TOPICS = "_"


def key_ring(secret: dict[str, str], name: str) -> tuple[str, dict[str, bytes]]:
    """A rotating key secret's shape {"current": "k2", "k1": "...", "k2": "..."}: the current id and every key."""
    current = secret.get("current", "")
    keys = {kid: value.encode() for kid, value in secret.items() if kid != "current"}
    if current not in keys or not all(_KEY_ID.match(kid) for kid in keys):
        raise ValueError(f"the {name} secret needs 'current' naming one of its key ids (letters and digits)")
    return current, keys


class TrackingKeys(NamedTuple):
    """Signing keys by id; `current` signs, every listed key verifies (old ids keep working after rotation)."""

    current: str
    keys: dict[str, bytes]

    @classmethod
    def from_secret(cls, secret: dict[str, str]) -> TrackingKeys:
        current, keys = key_ring(secret, "tracking keys")
        return cls(current=current, keys=keys)


class ClickToken(NamedTuple):
    message_id: str
    profile_id: str
    link_set: str
    link_no: int


class MessageToken(NamedTuple):
    """Names one message to one profile: the open pixel and the unsubscribe link (and a campaign's message's
    campaign, stage and variant)."""

    message_id: str
    profile_id: str
    campaign: CampaignRef | None = None


class ConfirmToken(NamedTuple):
    """A double opt-in link: who, until when (epoch seconds), which topics (None: all), for which address."""

    kid: str
    profile_id: str
    expires: int
    topics: tuple[str, ...] | None
    address_tag: str


def new_message_id() -> str:
    """A random message id, 22 URL-safe characters."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


class TokenSigner:
    def __init__(self, keys: TrackingKeys) -> None:
        self._keys = keys

    def click(self, token: ClickToken) -> str:
        return self._sign("click", [token.message_id, token.profile_id, token.link_set, str(token.link_no)])

    def message(self, purpose: str, token: MessageToken) -> str:
        return self._sign(purpose, [token.message_id, token.profile_id, *_campaign_field(token.campaign)])

    def verify_click(self, text: str) -> ClickToken:
        message_id, profile_id, link_set, link_no = self._verify("click", text, 4)
        if not (_LINK_SET.match(link_set) and _LINK_NO.match(link_no)):
            raise InvalidToken("malformed token")
        return ClickToken(message_id, profile_id, link_set, int(link_no))

    def verify_message(self, purpose: str, text: str) -> MessageToken:
        fields = self._verify(purpose, text, _message_fields(text))
        return MessageToken(fields[0], fields[1], _campaign_of(fields))

    def confirm(self, profile_id: str, address: str, expires: int, topics: tuple[str, ...] | None) -> str:
        kid = self._keys.current
        topic_field = "~".join(topics) if topics else ALL_TOPICS
        fields = [profile_id, str(expires), topic_field, self._address_tag(kid, address)]
        return ".".join([kid, *fields, _signature(self._keys.keys[kid], "confirm", kid, fields)])

    def verify_confirm(self, text: str, now_epoch: int) -> ConfirmToken:
        """The token's content if it is genuine and not expired; InvalidToken (or UnknownKeyId) otherwise."""
        parts = text.split(".") if len(text) <= 2048 else []
        if len(parts) != 6:
            raise InvalidToken("malformed token")
        kid, profile_id, expires, topics, tag, signature = parts
        if not (
            _KEY_ID.match(kid)
            and PROFILE_ID.match(profile_id)
            and _EXPIRES.match(expires)
            and _TOPICS.match(topics)
            and _TAG.match(tag)
        ):
            raise InvalidToken("malformed token")
        key = self._keys.keys.get(kid)
        if key is None:
            raise UnknownKeyId("unknown key id")
        expected = _signature(key, "confirm", kid, [profile_id, expires, topics, tag])
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise InvalidToken("bad signature")
        if int(expires) < now_epoch:
            raise InvalidToken("expired")
        chosen = None if topics == ALL_TOPICS else tuple(topics.split("~"))
        return ConfirmToken(kid, profile_id, int(expires), chosen, tag)

    def matches_address(self, token: ConfirmToken, address: str) -> bool:
        """Whether the confirm token was made for this (normalised) address."""
        if token.kid not in self._keys.keys:
            return False
        return hmac.compare_digest(self._address_tag(token.kid, address).encode(), token.address_tag.encode())

    def _address_tag(self, kid: str, address: str) -> str:
        signed = b"|".join([_DOMAIN, b"address", address.encode()])
        digest = hmac.new(self._keys.keys[kid], signed, hashlib.sha256).digest()[:8]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def _sign(self, purpose: str, fields: list[str]) -> str:
        kid = self._keys.current
        return ".".join([kid, *fields, _signature(self._keys.keys[kid], purpose, kid, fields)])

    def _verify(self, purpose: str, text: str, field_count: int) -> list[str]:
        kid, fields, signature = _parts(text, field_count)
        key = self._keys.keys.get(kid)
        if key is None:
            raise UnknownKeyId("unknown key id")
        expected = _signature(key, purpose, kid, fields)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise InvalidToken("bad signature")
        return fields


def unverified_message(text: str) -> MessageToken:
    """What a well-formed open/unsubscribe token names, without checking its signature (it must be confirmed
    some other way: the unsubscribe page asks for the address when the token's key was rotated away)."""
    fields = _parts(text, _message_fields(text))[1]
    return MessageToken(fields[0], fields[1], _campaign_of(fields))


def _message_fields(text: str) -> int:
    """An open, unsubscribe or preference token has 2 fields, or 3 with a campaign."""
    return 3 if text.count(".") == 4 else 2


def _campaign_field(campaign: CampaignRef | None) -> list[str]:
    if campaign is None:
        return []
    return ["~".join([campaign.id, campaign.stage, *([campaign.variant] if campaign.variant else [])])]


def _campaign_of(fields: list[str]) -> CampaignRef | None:
    if len(fields) < 3:
        return None
    campaign_id, stage, *variant = fields[2].split("~")
    return CampaignRef(campaign_id, stage, variant[0] if variant else None)


def _parts(text: str, field_count: int) -> tuple[str, list[str], str]:
    parts = text.split(".") if len(text) <= 512 else []
    if len(parts) != field_count + 2:
        raise InvalidToken("malformed token")
    kid, *fields, signature = parts
    if not (_KEY_ID.match(kid) and MESSAGE_ID.match(fields[0]) and PROFILE_ID.match(fields[1])):
        raise InvalidToken("malformed token")
    if field_count == 3 and not _CAMPAIGN.match(fields[2]):
        raise InvalidToken("malformed token")
    return kid, fields, signature


def _signature(key: bytes, purpose: str, kid: str, fields: list[str]) -> str:
    signed = b"|".join([_DOMAIN, purpose.encode(), kid.encode(), *(field.encode() for field in fields)])
    digest = hmac.new(key, signed, hashlib.sha256).digest()[:SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
