"""The A/B winner: the variant with the best rate of the campaign's metric among those it was sent to.

`human_clicks` = clicks_human_unique / sent, `conversions` = conversions / sent (closedloop.campaign_stats counts
them per variant of the stage `main`). A variant sent to nobody scores 0. Ties go to the variant listed first.
"""

from __future__ import annotations

NUMERATOR = {"human_clicks": "clicks_human_unique", "conversions": "conversions"}


def rate(counts: dict, metric: str) -> float:
    sent = int(counts.get("sent") or 0)
    return int(counts.get(NUMERATOR[metric]) or 0) / sent if sent else 0.0


def winner(variants: list[str], metric: str, counts: dict[str, dict]) -> str:
    """The winning variant id; `counts` maps a variant id to its counters (missing: nothing counted)."""
    best = variants[0]
    for variant in variants[1:]:
        if rate(counts.get(variant, {}), metric) > rate(counts.get(best, {}), metric):
            best = variant
    return best


def variant_counts(summary: dict, stage: str) -> dict[str, dict]:
    """The per-variant counters of one stage in a campaign_stats summary (closedloop.campaign_stats.summary)."""
    stages = summary.get("stages") or {}
    found = stages.get(stage) or {}
    return found.get("variants") or {}
