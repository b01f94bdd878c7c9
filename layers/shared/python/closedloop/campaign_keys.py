"""The business keys a campaign's records live under, named once: the send gate, the dispatcher, the statistics and
the conversion tracker all find each other's records through these.

- `campaign#<id>#<stage>#<profile>`: a recipient's send key for one stage (the gate reserves `send#` + it, once).
- `converted#<id>#<profile>` (ledger, with `profile_id`): the person reached the campaign's goal; written once, it
  is what a later stage leaves out and what `conversions` counts.
- `holdout#<id>#<profile>` (ledger, with `profile_id`): the person is in the A/B holdout; gets nothing, measured.
"""

from __future__ import annotations


def send_key(campaign_id: str, stage: str, profile_id: str) -> str:
    return f"campaign#{campaign_id}#{stage}#{profile_id}"


def converted_key(campaign_id: str, profile_id: str) -> str:
    return f"converted#{campaign_id}#{profile_id}"


def holdout_key(campaign_id: str, profile_id: str) -> str:
    return f"holdout#{campaign_id}#{profile_id}"
