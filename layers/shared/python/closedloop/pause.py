"""The sending pause: while it stands the send gate holds marketing mail (durable, not sent); resuming releases it.

- `pause` and `resume` flip one item (the ledger's `sending#state`). The gate reads it in the same strongly
  consistent read as the address's suppression entries (closedloop.suppression.screen), so a mail whose gate pass
  starts after the pause was written is held: there is no cache and no window.
- The gate holds a marketing message in one transaction: the held message (per profile and send key), its status
  `held`, and a check that the pause still stands and the send key was never reserved. A redelivered message is
  held once; a transactional message (a confirmation) is never held.
- `resume` ends the pause and queues a release job; `release` pages through the held messages, puts each back on
  the send queue (through the gate again, idempotent by its send key) and forgets it, and queues its own
  continuation when its invocation runs out of time, so a backlog of any size is released without one long call.
  A new pause stops the job; the next resume starts a new one.
- CloudWatch alarms on SES's reputation metrics pause sending by themselves (`on_alarm`, functions/reputation_alarm).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from closedloop.clock import isoformat
from closedloop.errors import InvalidInput

if TYPE_CHECKING:
    from closedloop.ports import ReleaseQueue, SendingControl, SendQueue

MAX_REASON_LENGTH = 500
MANUAL_REASON = "paused by hand"
# Held messages a release job reads per page: one Scan page, at most ten SQS batches.
RELEASE_PAGE = 100
# SES's account-level reputation metrics and the reason a pause caused by their alarm records.
SES_NAMESPACE = "AWS/SES"
REPUTATION_METRICS = {
    "Reputation.BounceRate": "bounce rate alarm",
    "Reputation.ComplaintRate": "complaint rate alarm",
}


class Pause(NamedTuple):
    """A sending pause in force. `pause_id` tells one pause from the next (held messages carry it)."""

    pause_id: str
    reason: str
    since: str  # ISO 8601 instant


class Held(NamedTuple):
    """A held message as the release job reads it: the request and the pause it was held under."""

    request: object  # closedloop.sending.SendRequest
    pause_id: str


def parse_pause(body: object) -> str:
    """The reason of a POST /v1/sending/pause body: {} or {"reason": "..."}; the reason is stored as text, inert."""
    if body is None:
        return MANUAL_REASON
    if not isinstance(body, dict) or set(body) - {"reason"}:
        raise InvalidInput('the body must be {} or {"reason": "why sending is paused"}')
    reason = body.get("reason")
    if reason is None:
        return MANUAL_REASON
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("reason must be a non-empty string")
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(f"reason is longer than {MAX_REASON_LENGTH} characters")
    return reason.strip()


def new_pause(reason: str, now: datetime) -> Pause:
    return Pause(pause_id=uuid.uuid4().hex, reason=reason, since=isoformat(now))


def state(control: SendingControl) -> dict:
    """GET /v1/sending: {"paused", "reason", "since", "held"} (reason and since are null while sending runs)."""
    current = control.pause_state()
    return {
        "paused": current is not None,
        "reason": current.reason if current else None,
        "since": current.since if current else None,
        "held": control.held_count(),
    }


def pause(control: SendingControl, reason: str, now: datetime) -> dict:
    """Pause sending; an existing pause stands (its reason and instant are the first cause)."""
    control.pause(new_pause(reason, now))
    return state(control)


def resume(control: SendingControl, release_queue: ReleaseQueue) -> dict:
    """End the pause and queue the release of what it held.

    The job is queued even when sending was not paused: a resume that failed between the two steps is repaired by
    calling it again, and a job that finds nothing held does nothing.
    """
    control.resume()
    release_queue.enqueue({"after": None})
    return state(control)


def release(
    job: dict,
    *,
    control: SendingControl,
    send_queue: SendQueue,
    release_queue: ReleaseQueue,
    out_of_time: Callable[[], bool],
) -> dict:
    """Put held messages back on the send queue, page by page, from the job's cursor; continue in a new job when
    time runs short. Enqueue before forgetting: a crash in between sends a page twice, which the send keys absorb."""
    after = job.get("after") if isinstance(job, dict) else None
    released = 0
    while True:
        if control.pause_state() is not None:
            return {"released": released, "finished": False, "reason": "paused again"}
        page, after = control.held_page(after, RELEASE_PAGE)
        if page:
            send_queue.enqueue([held.request for held in page])
            for held in page:
                # Only if it is still held under the pause it was read with: held again meanwhile, it stays.
                control.unhold(held)
            released += len(page)
        if after is None:
            return {"released": released, "finished": True}
        if out_of_time():
            release_queue.enqueue({"after": after})
            return {"released": released, "finished": False, "reason": "continued in a new job"}


def reputation_reason(detail: object) -> str | None:
    """The pause reason for a CloudWatch "Alarm State Change" detail: an SES reputation alarm going into ALARM;
    None for any other alarm or state."""
    if not isinstance(detail, dict) or (detail.get("state") or {}).get("value") != "ALARM":
        return None
    for metric in (detail.get("configuration") or {}).get("metrics") or []:
        stat = (metric.get("metricStat") or {}).get("metric") or {} if isinstance(metric, dict) else {}
        if stat.get("namespace") == SES_NAMESPACE and stat.get("name") in REPUTATION_METRICS:
            return REPUTATION_METRICS[stat["name"]]
    return None


def on_alarm(detail: object, control: SendingControl, now: datetime) -> str | None:
    """Pause sending if the alarm is an SES reputation alarm in ALARM; the reason it paused with, else None."""
    reason = reputation_reason(detail)
    if reason is not None:
        control.pause(new_pause(reason, now))
    return reason
