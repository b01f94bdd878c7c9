"""What happens when a recipient reacts: a click, an open, an integrator's event (closedloop.events).

The public handlers call `resolve_click` (no writes) to answer at once, then `record` to apply the activity to the
profile: one DynamoDB transaction that stores the activity and applies it to the profile. It is idempotent by the
activity id, so the asynchronous retry of a click whose first recording failed (functions/activity_retry) can
never count it twice. Threshold crossings are found downstream, on the profiles table's stream
(closedloop.thresholds), so the click itself makes exactly one AWS call.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from closedloop.config import Config
from closedloop.due import idle_due_at
from closedloop.errors import InvalidToken, ProfileNotFound
from closedloop.links import increments_of
from closedloop.tokens import ClickToken, MessageToken, TokenSigner
from closedloop.values import Activity, Link

if TYPE_CHECKING:  # the click path loads neither the protocols nor the profile rules
    from closedloop.ports import ActivityLog, ActivityQueue, LinkSets


class ResolvedClick(NamedTuple):
    token: ClickToken
    link: Link


def resolve_click(text: str, signer: TokenSigner, link_sets: LinkSets) -> ResolvedClick:
    """Verify a click token and find its link; InvalidToken for anything that does not check out."""
    token = signer.verify_click(text)
    links = link_sets.get(token.link_set)
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


def record(activity: Activity, log: ActivityLog, config: Config) -> bool:
    """Apply an activity to its profile once. False if it was recorded before."""
    idle_due = idle_due_at(activity.occurred_at, config) if activity.moves_last_activity else None
    expires_at = int((activity.occurred_at + timedelta(days=config.activity_retention_days)).timestamp())
    return log.record_activity(activity, idle_due, expires_at)


class Recording(NamedTuple):
    """What became of an activity on a public path; `cause` names the failure behind deferred and lost."""

    outcome: str  # recorded | duplicate | no_profile | deferred | lost
    cause: str | None = None


def record_or_defer(activity: Activity, log: ActivityLog, config: Config, queue: ActivityQueue) -> Recording:
    """Record now if possible, else hand the activity to the retry queue; never raises (the redirect must answer)."""
    try:
        return Recording("recorded" if record(activity, log, config) else "duplicate")
    except ProfileNotFound:
        return Recording("no_profile")
    except Exception as error:
        cause = describe(error)
        try:
            queue.enqueue(activity)
            return Recording("deferred", cause)
        except Exception as second:
            return Recording("lost", f"{cause}; then the retry queue: {describe(second)}")


def describe(error: BaseException) -> str:
    """An exception as a log line without personal data: its type and the service's error code, if any."""
    code = getattr(error, "response", {}).get("Error", {}).get("Code") if hasattr(error, "response") else None
    code = code or getattr(error, "cause_response_code", None)
    return f"{type(error).__name__}({code})" if code else type(error).__name__


def log_recording(logger, kind: str, activity: Activity, recording: Recording) -> None:
    """One log line per click or open: profile id and outcome; the cause when recording failed (no personal data)."""
    extra = {"profile_id": activity.profile_id, "outcome": recording.outcome}
    if recording.outcome == "lost":
        logger.error(f"{kind} lost: neither recorded nor queued for retry", extra={**extra, "cause": recording.cause})
    elif recording.cause:
        logger.warning(f"{kind} deferred to the retry queue", extra={**extra, "cause": recording.cause})
    else:
        logger.info(kind, extra=extra)
