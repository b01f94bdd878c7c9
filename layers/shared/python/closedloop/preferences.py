"""The preference page: the person chooses the topics they receive, or leaves entirely.

`Profile.topics` lists the topics a person receives; a profile that never chose (None) receives every topic, so
profiles from before topics existed keep getting what they got. Leaving entirely is an unsubscribe by the
person's own hand (consent source `preference_page`): an integrator cannot undo it, only their own double opt-in.
GET never changes anything; a POST must say what it does (`action` = `save` or `leave`), so an empty POST cannot
clear anyone's topics.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from closedloop.config import Config
from closedloop.errors import InvalidInput
from closedloop.ports import ProfileStore
from closedloop.profiles import check_topics, consent_record

ACTIONS = ("save", "leave")


class Choice(NamedTuple):
    action: str  # "save" or "leave"
    topics: tuple[str, ...]


def parse_choice(fields: dict[str, list[str]], config: Config) -> Choice:
    from closedloop.web_forms import one

    action = one(fields, "action")
    if action not in ACTIONS:
        raise InvalidInput("the form must say what to do: action=save (with the chosen topics) or action=leave")
    topics = check_topics(tuple(dict.fromkeys(t for t in fields.get("topics", []) if t)), config)
    return Choice(action, topics)


def apply(profile_id: str, choice: Choice, profiles: ProfileStore, now: datetime) -> bool:
    """Save the choice; False when the profile no longer exists."""
    if choice.action == "leave":
        return profiles.set_status(profile_id, "unsubscribed", now, consent_record("preference_page", now))
    return profiles.set_topics(profile_id, choice.topics, now)
