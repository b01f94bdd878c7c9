"""Thresholds close the loop: a counter reaching a rule's mark fires `threshold.crossed` once per profile and rule.

The claim is a conditional write on `threshold#<rule>#<profile>`, so concurrent clicks and retries agree on one
winner. The event is published after the claim; if publishing fails the claim stays "pending" and the click's
retry publishes it (once the claim is older than PENDING_GRACE, so a slow winner is not raced). Consumers are
idempotent on the same business key (the send ledger), so a rare second publication never becomes a second mail.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from closedloop.clock import isoformat, parse_instant
from closedloop.config import Config
from closedloop.ports import EventPublisher, Ledger

CROSSED = "threshold.crossed"
PENDING_GRACE = timedelta(seconds=60)


def fire_crossed(
    profile_id: str, interests: dict[str, int], counters: set[str], config: Config,
    ledger: Ledger, publisher: EventPublisher, now: datetime,
) -> list[str]:
    """Publish `threshold.crossed` for each rule on `counters` that the profile has reached. Returns rule ids fired."""
    fired = []
    for rule in config.rules_for(counters):
        if interests.get(rule.counter, 0) < rule.at:
            continue
        claim = ledger.claim_threshold(rule.id, profile_id, now)
        if claim == "published" or (claim.startswith("pending:") and now - parse_instant(claim[8:]) < PENDING_GRACE):
            continue
        publisher.publish(CROSSED, {
            "rule_id": rule.id,
            "profile_id": profile_id,
            "counter": rule.counter,
            "value": interests.get(rule.counter, 0),
            "at": rule.at,
            "template": rule.template,
            "crossed_at": isoformat(now),
        })
        ledger.mark_threshold_published(rule.id, profile_id)
        fired.append(rule.id)
    return fired


def send_key(rule_id: str, profile_id: str) -> str:
    return f"threshold#{rule_id}#{profile_id}"
