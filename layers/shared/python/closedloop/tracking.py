"""What happens when a recipient reacts: a click, an open, an integrator's event (closedloop.events).

A click is answered at once and decided later. The click handler verifies the token, notes what marks it as a
machine's at the door (`door_verdict`: a HEAD request, the honeypot link, a scanner's user agent) and hands it to
the reactions queue: its one AWS call. The reactions function stores it (`record_click`) and, unless it is already
known to be a bot's, looks at it again after the settle window (`settle_click`): by then every click of the burst it
may belong to is stored, so `bot_verdict` can see a scanner sweeping the mail, the first clicks included. Only a
person's click moves the profile (interests, last activity; one transaction with the verdict, so it counts once).

An open and an integrator's event are recorded at once with `record`: one transaction that stores the activity
and applies it to the profile, idempotent by the activity id (an open moves nothing but is still scored at the
door). Threshold crossings are found downstream, on the profiles table's stream (closedloop.thresholds).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from closedloop.config import BotsConfig, Config
from closedloop.due import idle_due_at
from closedloop.errors import InvalidToken, ProfileNotFound
from closedloop.links import increments_of, is_honeypot
from closedloop.tokens import ClickToken, MessageToken, TokenSigner
from closedloop.values import Activity, CampaignRef, ClickRecord, Link

if TYPE_CHECKING:  # the click path loads neither the protocols nor the profile rules
    from closedloop.ports import ActivityLog, LinkSets, ReactionQueue


# What marks a click or open as a machine's on its own; `bot_verdict` adds "sweep" and "burst".
DOOR_REASONS = ("head", "honeypot", "user_agent")


class ResolvedClick(NamedTuple):
    token: ClickToken
    link: Link
    campaign: CampaignRef | None = None  # a campaign's link set names it


def resolve_click(text: str, signer: TokenSigner, link_sets: LinkSets) -> ResolvedClick:
    """Verify a click token and find its link; InvalidToken for anything that does not check out."""
    token = signer.verify_click(text)
    links = link_sets.get(token.link_set)
    if links is None or token.link_no >= len(links):
        raise InvalidToken("unknown link")
    return ResolvedClick(token, links[token.link_no], link_sets.campaign_of(token.link_set))


def door_verdict(method: str, user_agent: str | None, bots: BotsConfig, link: Link | None = None) -> str | None:
    """Why a click or open is a machine's on its own, or None: a HEAD request (a browser never sends one for a
    link), the hidden honeypot link, or a user agent that is empty or names a scanner or an HTTP library."""
    if method.upper() == "HEAD":
        return "head"
    if link is not None and is_honeypot(link.actions):
        return "honeypot"
    agent = (user_agent or "").lower()
    if not agent.strip() or any(part in agent for part in bots.user_agents):
        return "user_agent"
    return None


def bot_verdict(click: ClickRecord, clicks_of_message: list[ClickRecord], bots: BotsConfig) -> str | None:
    """Whether a click of a message is a machine's, seeing every click of that message (its own included).

    Its own door verdict stands. Otherwise a click within `burst_seconds` of one a machine made at the door (a
    sweep: the scanner that hit the honeypot, sent HEAD or named itself) is the same sweep's; and a click inside
    any `burst_seconds` window that holds `burst_links` distinct links of the message is a scanner's burst. A
    person clicking one link again and again hits one link; a person coming back later is outside the window.
    """
    if click.bot_reason:
        return click.bot_reason
    window = timedelta(seconds=bots.burst_seconds)
    near = [other for other in clicks_of_message if abs(other.occurred_at - click.occurred_at) <= window]
    if any(other.bot_reason in DOOR_REASONS for other in near):
        return "sweep"
    for start in sorted({other.occurred_at for other in near if other.occurred_at <= click.occurred_at}):
        inside = {other.link_no for other in near if start <= other.occurred_at <= start + window}
        if click.occurred_at <= start + window and len(inside) >= bots.burst_links:
            return "burst"
    return None


def click_activity(click: ResolvedClick, now: datetime, bot_reason: str | None = None) -> Activity:
    return Activity(
        kind="click",
        activity_id=uuid.uuid4().hex,
        profile_id=click.token.profile_id,
        occurred_at=now,
        increments=increments_of(click.link.actions),
        details={
            "message_id": click.token.message_id,
            "link_set": click.token.link_set,
            "link": click.token.link_no,
            # A campaign's click is counted in its statistics, by link (closedloop.campaign_stats).
            **({"campaign": asdict(click.campaign), "url": click.link.url} if click.campaign else {}),
        },
        bot_reason=bot_reason,
    )


def open_activity(token: MessageToken, now: datetime, bot_reason: str | None = None) -> Activity:
    return Activity(
        kind="open",
        # One open per message and profile is all that matters; repeated pixel loads are the same activity.
        activity_id=token.message_id,
        profile_id=token.profile_id,
        occurred_at=now,
        details={"message_id": token.message_id, **({"campaign": asdict(token.campaign)} if token.campaign else {})},
        moves_last_activity=False,
        bot_reason=bot_reason,
    )


class Recording(NamedTuple):
    """What became of an activity on a public path; `cause` names the failure behind deferred and lost."""

    outcome: str  # recorded | duplicate | no_profile | deferred | queued | lost
    cause: str | None = None


def record(activity: Activity, log: ActivityLog, config: Config) -> bool:
    """Apply an activity to its profile once. False if it was recorded before."""
    return log.record_activity(activity, _idle_due(activity, config), _expires_at(activity, config))


def queue_click(activity: Activity, queue: ReactionQueue) -> Recording:
    """The click path's one AWS call: hand the click to the reactions queue; never raises (the redirect answers)."""
    try:
        queue.enqueue(activity)
        return Recording("queued")
    except Exception as error:
        return Recording("lost", describe(error))


def record_click(activity: Activity, log: ActivityLog, config: Config, queue: ReactionQueue) -> bool:
    """Store a queued click (pending, or a bot's) and, unless it is a bot's already, come back after the settle
    window. False if it was stored before; the settle step is asked for again anyway (it is idempotent), in case
    the delivery that stored it died before asking."""
    stored = log.put_click(activity, _expires_at(activity, config))
    if activity.bot_reason is None:
        queue.enqueue(activity, step="settle", delay_seconds=config.bots.settle_seconds)
    return stored


def settle_click(
    activity: Activity, log: ActivityLog, config: Config, on_human: Callable[[Activity], object] | None = None
) -> str:
    """Decide a stored click after the settle window and apply a person's click to the profile, once.

    `on_human` (idempotent: a campaign's unique clicks and click goal, closedloop.conversions) follows a person's
    click, also when a redelivery finds it settled (the first delivery may have died before it).
    Answers human, bot_<reason>, settled_before (a redelivery) or no_profile."""
    clicks = log.clicks_of(activity.profile_id, activity.details["message_id"])
    (own,) = [c for c in clicks if c.activity_id == activity.activity_id] or [_as_record(activity)]
    reason = bot_verdict(own, clicks, config.bots)
    try:
        settled = log.settle_click(activity, reason, _idle_due(activity, config))
    except ProfileNotFound:
        return "no_profile"
    if reason is None and on_human is not None:
        on_human(activity)
    if not settled:
        return "settled_before"
    return f"bot_{reason}" if reason else "human"


def _as_record(activity: Activity) -> ClickRecord:
    return ClickRecord(activity.activity_id, activity.occurred_at, activity.details["link"], activity.bot_reason)


def _idle_due(activity: Activity, config: Config) -> str | None:
    return idle_due_at(activity.occurred_at, config) if activity.moves_last_activity else None


def _expires_at(activity: Activity, config: Config) -> int:
    return int((activity.occurred_at + timedelta(days=config.activity_retention_days)).timestamp())


def record_or_defer(activity: Activity, log: ActivityLog, config: Config, queue: ReactionQueue) -> Recording:
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
            return Recording("lost", f"{cause}; then the reactions queue: {describe(second)}")


def describe(error: BaseException) -> str:
    """An exception as a log line without personal data: its type and the service's error code, if any."""
    code = getattr(error, "response", {}).get("Error", {}).get("Code") if hasattr(error, "response") else None
    code = code or getattr(error, "cause_response_code", None)
    return f"{type(error).__name__}({code})" if code else type(error).__name__


def log_recording(logger, kind: str, activity: Activity, recording: Recording) -> None:
    """One log line per click or open: profile id and outcome; the cause when recording failed (no personal data)."""
    extra = {"profile_id": activity.profile_id, "outcome": recording.outcome}
    if recording.outcome == "lost":
        logger.error(f"{kind} lost: it could not be stored or queued", extra={**extra, "cause": recording.cause})
    elif recording.cause:
        logger.warning(f"{kind} deferred to the retry queue", extra={**extra, "cause": recording.cause})
    else:
        logger.info(kind, extra=extra)
