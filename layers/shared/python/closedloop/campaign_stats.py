"""A campaign's statistics: the metrics, where their counters live, and how the shards merge into `summary`.

Counters are ADDed, never read first, on items `pk=campaign#<id>, sk=stats#<stage>#<variant or "-">#<shard>` in the
`campaigns` table. A hot campaign spreads its writes over STATS_SHARDS items per stage and variant (the shard is
`crc32(shard_of) % STATS_SHARDS`, with `shard_of` usually the profile id), and `summary` reads them back with one
Query and adds them up. Every count is exact under retries: it is written in one transaction with the business
key that makes it count once — a fact (`fact#<fact>`, put if absent) or a record the effect already writes
conditionally (the send key marked sent, the open's activity item, the click's verdict).

A count is a flat name: a metric (`sent`), or a metric and a key for the metrics kept by reason, link, currency
(`skipped.no_consent`, `links.https://example.com/trip`, `revenue.EUR`). Each name is one top-level attribute of
the shard item (dots and all), so one ADD needs no map to exist first.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from closedloop.values import Activity, CampaignRef

if TYPE_CHECKING:
    from closedloop.ports import CampaignStats

STATS_SHARDS = 10
NO_VARIANT = "-"
# The stage (no variant) a holdout's conversions are counted under: the holdout gets nothing and is measured.
HOLDOUT_STAGE = "holdout"
# How long a fact (the business key of a count) is kept: longer than any campaign's window and any retry.
FACT_RETENTION_DAYS = 400

# Plain counters, in the order a table shows them.
COUNTERS = (
    "targeted",
    "sent",
    "deferred",
    "delivered",
    "bounced",
    "complained",
    "opens_unique",
    "clicks_human_unique",
    "clicks_human",
    "clicks_bot",
    "unsubscribes",
    "conversions",
)
# Counters kept by a key: the reason a send was skipped (or failed), the link clicked, the currency of revenue.
KEYED = ("skipped", "failed", "links", "revenue")
# Skip reasons every summary shows, 0 when none (others appear as they are counted).
SKIP_REASONS = ("no_consent", "suppressed", "topic", "capped", "duplicate", "no_profile")
_LINK_CHARS = 256  # a per-link counter's name is the link without query or fragment, at most this long

# What each outcome of the send gate (closedloop.sending.Outcome values; the caps' deferrals too) counts, and
# whether it is counted once per send key (its fact) or per request stopped (a duplicate). `sent` is not here: it
# is counted in the transaction that marks the send key sent (Ledger.mark_sent), so it counts once by that key.
# Held (a sending pause) and deferred_throttled (SES's rate) are not outcomes for the marketer: the message comes
# back and ends as one of these.
OUTCOME_COUNTS: dict[str, str] = {
    "skipped_no_profile": "skipped.no_profile",
    "skipped_no_consent": "skipped.no_consent",
    "skipped_topic": "skipped.topic",
    "skipped_suppressed": "skipped.suppressed",
    "skipped_capped": "skipped.capped",
    "skipped_duplicate": "skipped.duplicate",
    "deferred_capped": "deferred",
    "deferred_quiet": "deferred",
    "failed_render": "failed.render",
    "failed_rejected": "failed.rejected",
    "possibly_sent": "failed.possibly_sent",
}


def shard(shard_of: str) -> int:
    """The counter item a count goes to: spreads a hot campaign's writes; the same key always lands on one."""
    return zlib.crc32(shard_of.encode()) % STATS_SHARDS


def partition(campaign_id: str) -> str:
    return f"campaign#{campaign_id}"


def stats_sort_key(ref: CampaignRef, shard_no: int) -> str:
    return f"stats#{ref.stage}#{ref.variant or NO_VARIANT}#{shard_no:02d}"


def fact_sort_key(fact: str) -> str:
    return f"fact#{fact}"


def link_counter(url: str) -> str:
    """The per-link counter of a clicked URL: without its query and fragment (a personalised parameter must not
    make one counter per person), at most _LINK_CHARS long."""
    parts = urlsplit(url)
    return f"links.{parts.scheme}://{parts.netloc}{parts.path}"[: len("links.") + _LINK_CHARS]


def check_counts(counts: Mapping[str, int | Decimal]) -> dict[str, int | Decimal]:
    """Counts name a metric (`sent`, `skipped.<reason>`, ...) and are numbers; ValueError otherwise (a bug)."""
    for name, amount in counts.items():
        metric, dot, key = name.partition(".")
        if not ((metric in COUNTERS and not dot) or (metric in KEYED and key)):
            raise ValueError(f"{name!r} is not a campaign metric; known: {', '.join(COUNTERS + KEYED)}")
        if isinstance(amount, bool) or not isinstance(amount, (int, Decimal)):
            raise ValueError(f"the count of {name} must be an integer or a Decimal")
    return dict(counts)


def empty() -> dict:
    """Every metric at 0: what a stage, variant or campaign without any count shows."""
    return {
        **{name: 0 for name in COUNTERS},
        "skipped": {reason: 0 for reason in SKIP_REASONS},
        "failed": {},
        "links": {},
        "revenue": {},
    }


def _plain(number: int | float | Decimal) -> int | float:
    number = Decimal(str(number))
    return int(number) if number == number.to_integral_value() else float(number)


def _add(into: dict, counts: Mapping[str, int | float | Decimal]) -> None:
    for name, amount in counts.items():
        metric, dot, key = name.partition(".")
        if metric in COUNTERS and not dot:
            into[metric] = _plain(Decimal(str(into[metric])) + Decimal(str(amount)))
        elif metric in KEYED and key:
            into[metric][key] = _plain(Decimal(str(into[metric].get(key, 0))) + Decimal(str(amount)))


def merge(shards: Iterable[tuple[str, str, Mapping[str, int | float | Decimal]]]) -> dict:
    """The summary of (stage, variant, counts) shard items: totals of the campaign, of each stage, of each variant.

    `{"total": {...}, "stages": {"<stage>": {"total": {...}, "variants": {"<variant>": {...}}}}}`, every metric
    present. Counts without a variant (`-`) go to the stage's total only."""
    summary = {"total": empty(), "stages": {}}
    for stage, variant, counts in shards:
        entry = summary["stages"].setdefault(stage, {"total": empty(), "variants": {}})
        _add(summary["total"], counts)
        _add(entry["total"], counts)
        if variant != NO_VARIANT:
            _add(entry["variants"].setdefault(variant, empty()), counts)
    return summary


def parse_sort_key(sort_key: str) -> tuple[str, str] | None:
    """(stage, variant) of a shard item's sort key; None for anything else."""
    parts = sort_key.split("#")
    return (parts[1], parts[2]) if len(parts) == 4 and parts[0] == "stats" else None


def reaction_counts(activity: Activity, verdict: str | None = None) -> tuple[CampaignRef, dict] | None:
    """What a reaction to a campaign's mail adds to its statistics, in the write that records it (whose own
    condition makes it count once): a person's open (`opens_unique`: the open is recorded once per message, and a
    person gets one message per stage), a click settled `human` (`clicks_human` and its link) or `bot`."""
    campaign = activity.details.get("campaign")
    if not campaign:
        return None
    ref = CampaignRef.from_dict(campaign)
    if activity.kind == "open":
        return (ref, {"opens_unique": 1}) if activity.bot_reason is None else None
    if activity.kind != "click" or verdict not in ("human", "bot"):
        return None
    if verdict == "bot":
        return ref, {"clicks_bot": 1}
    url = activity.details.get("url")
    return ref, {"clicks_human": 1, **({link_counter(url): 1} if url else {})}


def count_outcome(request, outcome: str, stats: CampaignStats) -> bool:
    """Count what the send gate did with a campaign's message (not `sent`: see OUTCOME_COUNTS), once per send key
    and outcome; a duplicate once per request it stopped. False when there is nothing (more) to count."""
    name = OUTCOME_COUNTS.get(outcome)
    if request.campaign is None or name is None:
        return False
    fact = f"outcome#{request.send_key}#{name}"
    if outcome == "skipped_duplicate":
        fact += f"#{request.message_id}"
    return stats.add(request.campaign, {name: 1}, fact=fact, shard_of=request.profile_id)


# SES events (their eventType) that count for the campaign named in the mail's tags.
SES_COUNTS = {"Delivery": "delivered", "Bounce": "bounced", "Complaint": "complained"}


def feedback_ref(detail: object) -> CampaignRef | None:
    """The campaign, stage and variant an SES event's mail belongs to: its tags (`mail.tags`, lists of values)."""
    mail = detail.get("mail") if isinstance(detail, dict) else None
    tags = mail.get("tags") if isinstance(mail, dict) else None
    if not isinstance(tags, dict):
        return None

    def tag(name: str) -> str | None:
        values = tags.get(name)
        return values[0] if isinstance(values, list) and values and isinstance(values[0], str) else None

    campaign, stage = tag("campaign"), tag("stage")
    return CampaignRef(campaign, stage, tag("variant")) if campaign and stage else None


def count_feedback(detail: dict, stats: CampaignStats) -> bool:
    """Count a campaign mail's delivery, hard bounce (a transient one may still be delivered) or complaint once per
    SES message id and kind, however often EventBridge delivers the event."""
    ref = feedback_ref(detail)
    name = SES_COUNTS.get(detail.get("eventType") or detail.get("notificationType"))
    if ref is None or name is None:
        return False
    if name == "bounced" and (detail.get("bounce") or {}).get("bounceType") != "Permanent":
        return False
    mail_id = str(detail["mail"].get("messageId") or "")
    return stats.add(ref, {name: 1}, fact=f"ses#{mail_id}#{name}", shard_of=mail_id)


def count_unsubscribe(ref: CampaignRef | None, profile_id: str, stats: CampaignStats) -> bool:
    """Count a person leaving from a campaign's mail (unsubscribe link, one-click, preference page): once per
    campaign and person."""
    if ref is None:
        return False
    return stats.add(ref, {"unsubscribes": 1}, fact=f"unsubscribe#{profile_id}", shard_of=profile_id)
