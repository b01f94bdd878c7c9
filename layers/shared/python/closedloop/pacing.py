"""Frequency caps and quiet hours: the send gate's step for capped messages (campaigns, opted-in automations).

Quiet hours first: a capped message whose recipient is inside the quiet window (their local time: the profile's
`attributes.timezone`, else [birthday] default_timezone) waits until the window ends, computed in their zone as an
instant (zoneinfo: DST-correct). Then the cap: at most `messages` capped messages per person in any rolling `days`
days, counted by slots (`cap-slot#<profile>#<n>`, closedloop.ports.CapSlots) in the shape of double opt-in's
confirmation slots: a send takes the first slot absent or used `days` ago with one conditional write per try, so
concurrent sends cannot exceed the cap; a redelivery of the same send key finds its own slot. All slots in use:
the message waits until the oldest frees (and, should that fall in quiet hours, until they end).

A waiting message is not dropped: closedloop.deferrals puts it back on the send queue (SQS DelaySeconds) or, beyond
SQS's 15 minutes, in the deferred table a tick reads every minute. Transactional mail is never capped.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo

from closedloop import deferrals
from closedloop.config import Config
from closedloop.profiles import Profile, profile_zone
from closedloop.sending import Outcome

if TYPE_CHECKING:
    from closedloop.ports import CapSlots, DueItems, SendQueue
    from closedloop.sending import SendRequest

QUIET_HOURS = "quiet_hours"
FREQUENCY_CAP = "frequency_cap"


class Deferral(NamedTuple):
    outcome: Outcome
    reason: str  # quiet_hours | frequency_cap
    until: datetime


def clock_time(text: str) -> time:
    """'21:00' -> 21:00 (config checks the form)."""
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def quiet_until(now: datetime, zone: ZoneInfo, start: time, end: time) -> datetime | None:
    """When the quiet window `now` lies in ends, as a UTC instant; None outside it (or when start == end).

    The window may cross midnight (21:00-08:00). Its end is the wall-clock time `end` on the right local day,
    turned into an instant in `zone`: a night with a DST change is an hour shorter or longer, as it is there."""
    if start == end:
        return None
    local = now.astimezone(zone)
    wall = local.time().replace(tzinfo=None)
    if start < end:  # within one day, e.g. 12:00-14:00
        if not start <= wall < end:
            return None
        end_day = local.date()
    elif wall >= start:  # the evening part of a window across midnight: it ends tomorrow
        end_day = local.date() + timedelta(days=1)
    elif wall < end:  # the morning part: it ends today
        end_day = local.date()
    else:
        return None
    return datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC)


class Pacing:
    """The cap and the quiet window from the configuration, the slots, and where deferred messages wait."""

    def __init__(self, config: Config, slots: CapSlots, deferred: DueItems) -> None:
        self._config = config
        self._slots = slots
        self._deferred = deferred
        self._quiet = clock_time(config.quiet_hours.start), clock_time(config.quiet_hours.end)

    def applies_to(self, request: SendRequest) -> bool:
        return request.capped and not request.transactional

    def check(self, request: SendRequest, profile: Profile, now: datetime) -> Deferral | None:
        """None: the message may go now (it holds a cap slot); else why and until when it must wait."""
        zone = profile_zone(profile.attributes, self._config)
        quiet = quiet_until(now, zone, *self._quiet)
        if quiet is not None:
            return Deferral(Outcome.DEFERRED_QUIET, QUIET_HOURS, quiet)
        cap = self._config.frequency_cap
        frees = self._slots.take(request.profile_id, request.send_key, now, cap.messages, cap.days * 86400)
        if frees is None:
            return None
        # Waking into quiet hours would only defer it again: wait until both allow it.
        return Deferral(Outcome.DEFERRED_CAPPED, FREQUENCY_CAP, quiet_until(frees, zone, *self._quiet) or frees)

    def admit(self, request: SendRequest, profile: Profile, now: datetime, queue: SendQueue) -> Deferral | None:
        """`check`, and a message that must wait is put where it waits (closedloop.deferrals)."""
        deferral = self.check(request, profile, now)
        if deferral is not None:
            deferrals.defer(request, deferral.until, now, queue=queue, store=self._deferred)
        return deferral
