"""The business metrics the functions emit, named once for the alarms and the dashboard (constructs/monitoring.py).

The handlers emit them through Powertools Metrics (closedloop.observability) as CloudWatch embedded metric format:
namespace `closedloop`, one dimension `service` = `closedloop`, unit Count, one data point per outcome, named
`<family>_<outcome>` (`Clicks_lost`, `Send_possibly_sent`). A metric that is never emitted has no data, so every
alarm here treats missing data as "nothing happened". Plain data, like infra/wiring.py: no aws_cdk import.
"""

from __future__ import annotations

from dataclasses import dataclass

NAMESPACE = "closedloop"
SERVICE = "closedloop"  # Powertools' `service`: the one dimension of every business metric
DIMENSIONS = {"service": SERVICE}


@dataclass(frozen=True)
class Family:
    """The metrics one handler emits: `<prefix>_<outcome>` for each outcome it can report."""

    prefix: str
    outcomes: tuple[str, ...]

    def name(self, outcome: str) -> str:
        if outcome not in self.outcomes:
            raise KeyError(f"{self.prefix} has no outcome {outcome!r}; known: {', '.join(self.outcomes)}")
        return f"{self.prefix}_{outcome}"


# What closedloop.tracking.record_or_defer returns for an open. "lost": neither recorded nor queued.
TRACKING_OUTCOMES = ("recorded", "duplicate", "no_profile", "deferred", "lost")
# A click: queued or lost (functions/click); then, in functions/reactions, a bot's (by reason, at the door or when
# it settles) or a person's; a redelivered settle step is settled_before.
BOT_REASONS = ("head", "honeypot", "user_agent", "sweep", "burst")
CLICKS = Family(
    prefix="Clicks",
    outcomes=("queued", "lost", "human", "settled_before", "no_profile", *(f"bot_{r}" for r in BOT_REASONS)),
)
OPENS = Family(prefix="Opens", outcomes=TRACKING_OUTCOMES)  # functions/open
# The values of closedloop.sending.Outcome (functions/sender); tests/infra keeps the two in step.
SENDS = Family(
    prefix="Send",
    outcomes=(
        "sent",
        "skipped_no_profile",
        "skipped_no_consent",
        "skipped_topic",
        "skipped_suppressed",
        "skipped_duplicate",
        "held",
        "deferred_throttled",
        "deferred_quiet",
        "deferred_capped",
        "failed_render",
        "failed_rejected",
        "possibly_sent",
        "skipped_cancelled",
    ),
)
FAMILIES = (CLICKS, OPENS, SENDS)


@dataclass(frozen=True)
class BusinessAlarm:
    """An alarm on one business metric: at least one occurrence in five minutes."""

    id: str
    metric: str
    description: str
    # Whether "it stopped" is news worth a notification. Not for events that each need a person, however
    # quiet it is afterwards: an OK five minutes later would read like an all-clear.
    notify_ok: bool


BUSINESS_ALARMS = (
    BusinessAlarm(
        id="clicks-lost",
        metric=CLICKS.name("lost"),
        description="Clicks were lost: the reactions queue could not take them (SQS failed). "
        "The recipients were redirected, but their interests did not count. See the click function's log group.",
        notify_ok=True,
    ),
    BusinessAlarm(
        id="opens-lost",
        metric=OPENS.name("lost"),
        description="Opens were lost: neither recorded nor queued for retry (DynamoDB and SQS both failed). "
        "See the open function's log group.",
        notify_ok=True,
    ),
    BusinessAlarm(
        id="send-possibly-sent",
        metric=SENDS.name("possibly_sent"),
        description="A mail may or may not have been sent: the SES call failed after the request may have left. "
        "It will not be retried automatically. Search the sender's log group for outcome possibly_sent, check "
        "with the recipient or SES whether it arrived, and send it again if it did not.",
        notify_ok=False,
    ),
)


@dataclass(frozen=True)
class BusinessGraph:
    """A dashboard graph of business metrics, summed per five minutes, one line per metric."""

    title: str
    metrics: tuple[str, ...]
    width: int = 8  # of the dashboard's 24 columns; graphs flow left to right and wrap


BUSINESS_GRAPHS = (
    BusinessGraph(title="Mail sent", metrics=(SENDS.name("sent"),)),
    BusinessGraph(
        title="Mail skipped, by reason",
        metrics=tuple(
            SENDS.name(o)
            for o in (
                "skipped_no_profile",
                "skipped_no_consent",
                "skipped_topic",
                "skipped_suppressed",
                "skipped_duplicate",
                "skipped_cancelled",
            )
        ),
    ),
    BusinessGraph(
        title="Mail failed, by reason", metrics=tuple(SENDS.name(o) for o in ("failed_render", "failed_rejected"))
    ),
    BusinessGraph(title="Mail possibly sent (each needs a look)", metrics=(SENDS.name("possibly_sent"),)),
    BusinessGraph(title="Mail throttled by SES (deferred)", metrics=(SENDS.name("deferred_throttled"),)),
    BusinessGraph(title="Mail held by a sending pause", metrics=(SENDS.name("held"),)),
    BusinessGraph(
        title="Mail deferred by quiet hours and the frequency cap",
        metrics=(SENDS.name("deferred_quiet"), SENDS.name("deferred_capped")),
    ),
    # Half width: the two wrap onto a row of their own.
    BusinessGraph(
        title="Clicks: people, machines (by reason), lost",
        metrics=(CLICKS.name("human"), *(CLICKS.name(f"bot_{r}") for r in BOT_REASONS), CLICKS.name("lost")),
        width=12,
    ),
    BusinessGraph(title="Opens recorded / lost", metrics=(OPENS.name("recorded"), OPENS.name("lost")), width=12),
)


# --- SES's own reputation metrics ---------------------------------------------------------------------------------

SES_NAMESPACE = "AWS/SES"


@dataclass(frozen=True)
class ReputationAlarm:
    """An alarm on one of SES's account-level reputation metrics (a rate between 0 and 1, no dimensions).

    It notifies the alarm topic, and its state change to ALARM pauses sending by itself: functions/reputation_alarm
    listens for it on the default bus (closedloop.pause.REPUTATION_METRICS names the reason it pauses with).
    """

    id: str
    metric: str
    threshold: float
    description: str


REPUTATION_ALARMS = (
    ReputationAlarm(
        id="ses-bounce-rate",
        metric="Reputation.BounceRate",
        threshold=0.04,
        description="SES's bounce rate reached 4 %: sending is paused (reason 'bounce rate alarm'). Find the cause "
        "(an old or bought list, a broken import), then POST /v1/sending/resume; held mail goes out then.",
    ),
    ReputationAlarm(
        id="ses-complaint-rate",
        metric="Reputation.ComplaintRate",
        threshold=0.0008,
        description="SES's complaint rate reached 0.08 %: sending is paused (reason 'complaint rate alarm'). Find "
        "the cause (content, frequency, consent), then POST /v1/sending/resume; held mail goes out then.",
    ),
)
