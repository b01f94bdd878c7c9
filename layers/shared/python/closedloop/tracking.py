"""What happens when a recipient reacts: a click, an open, an integrator's event.

The public handlers call `resolve_click` (no writes) to answer at once, then `record` to apply the activity to the
profile: one DynamoDB transaction that stores the activity and applies it to the profile. It is idempotent by the
activity id, so the asynchronous retry of a click whose first recording failed (functions/activity_retry) can
never count it twice. Threshold crossings are found downstream, on the profiles table's stream
(closedloop.thresholds), so the click itself makes exactly one AWS call.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import NamedTuple

from closedloop.config import Config
from closedloop.errors import InvalidToken, ProfileNotFound
from closedloop.links import increments_of
from closedloop.ports import Activity, ActivityQueue, Ledger, Link, ProfileStore
from closedloop.profiles import idle_due_at
from closedloop.tokens import ClickToken, MessageToken, TokenSigner


class ResolvedClick(NamedTuple):
    token: ClickToken
    link: Link


def resolve_click(text: str, signer: TokenSigner, ledger: Ledger) -> ResolvedClick:
    """Verify a click token and find its link; InvalidToken for anything that does not check out."""
    token = signer.verify_click(text)
    links = ledger.get_link_set(token.link_set)
    if links is None or token.link_no >= len(links):
        raise InvalidToken("unknown link")
    return ResolvedClick(token, links[token.link_no])


def click_activity(click: ResolvedClick, now: datetime) -> Activity:
    return Activity(
        kind="click",
        activity_id=uuid.uuid4().hex,
        profile_id=click.token.profile_id,
        occurred_at=now,
        increments=increments_of(click.link.actions),
        details={"message_id": click.token.message_id, "link_set": click.token.link_set, "link": click.token.link_no},
    )


def open_activity(token: MessageToken, now: datetime) -> Activity:
    return Activity(
        kind="open",
        # One open per message and profile is all that matters; repeated pixel loads are the same activity.
        activity_id=token.message_id,
        profile_id=token.profile_id,
        occurred_at=now,
        details={"message_id": token.message_id},
        moves_last_activity=False,
    )


def record(activity: Activity, profiles: ProfileStore, config: Config) -> bool:
    """Apply an activity to its profile once. False if it was recorded before."""
    idle_due = idle_due_at(activity.occurred_at, config) if activity.moves_last_activity else None
    expires_at = int((activity.occurred_at + timedelta(days=config.activity_retention_days)).timestamp())
    return profiles.record_activity(activity, idle_due, expires_at)


def record_or_defer(activity: Activity, profiles: ProfileStore, config: Config, queue: ActivityQueue) -> str:
    """Record now if possible, else hand the activity to the retry queue; never raises (the redirect must answer).

    Returns what happened: recorded, duplicate, no_profile, deferred or lost (both paths failed).
    """
    try:
        return "recorded" if record(activity, profiles, config) else "duplicate"
    except ProfileNotFound:
        return "no_profile"
    except Exception:
        try:
            queue.enqueue(activity)
            return "deferred"
        except Exception:
            return "lost"
