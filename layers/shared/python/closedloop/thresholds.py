"""Thresholds close the loop: a counter reaching a rule's mark fires `threshold.crossed` once per profile and rule.

A rule is crossed by the one write (seen on the profiles stream) whose old value is below the mark and whose new
value reaches it; firing is claim, publish, mark. Why that is exact under races and retries: ARCHITECTURE.md,
"Thresholds from the stream".
"""

from __future__ import annotations

from datetime import datetime

from closedloop.clock import isoformat
from closedloop.config import Config, ThresholdRule
from closedloop.ports import EventPublisher, Ledger

CROSSED = "threshold.crossed"


def crossed(old: dict[str, int], new: dict[str, int], config: Config) -> list[ThresholdRule]:
    """Rules whose mark lies in (old, new]: reached by this very write."""
    return [rule for rule in config.thresholds if old.get(rule.counter, 0) < rule.at <= new.get(rule.counter, 0)]


def fire(
    rule: ThresholdRule, profile_id: str, value: int, ledger: Ledger, publisher: EventPublisher, now: datetime
) -> bool:
    """Publish the crossing unless it was published before. True if this call published."""
    if ledger.claim_threshold(rule.id, profile_id, now) == "published":
        return False
    publisher.publish(
        CROSSED,
        {
            "rule_id": rule.id,
            "profile_id": profile_id,
            "counter": rule.counter,
            "value": value,
            "at": rule.at,
            "template": rule.template,
            "crossed_at": isoformat(now),
            "capped": rule.capped,  # the follow-up's send request is capped (frequency cap, quiet hours) if so
        },
    )
    ledger.mark_threshold_published(rule.id, profile_id)
    return True


def send_key(rule_id: str, profile_id: str) -> str:
    return f"threshold#{rule_id}#{profile_id}"


def on_profile_change(
    profile_id: str,
    old: dict[str, int],
    new: dict[str, int],
    config: Config,
    ledger: Ledger,
    publisher: EventPublisher,
    now: datetime,
) -> list[str]:
    """Fire every rule this write crossed; returns their ids."""
    return [
        rule.id
        for rule in crossed(old, new, config)
        if fire(rule, profile_id, new.get(rule.counter, 0), ledger, publisher, now)
    ]
