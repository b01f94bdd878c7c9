"""Unsubscribing. GET never changes consent (scanners prefetch links); POST does, by form or RFC 8058 one-click.

A link signed with a key that has since been removed cannot be verified, yet the person must still be able to
leave: the page then asks for the address, and the profile the link names is unsubscribed only if the address
matches its own. The answer is the same either way, so the page reveals nothing about who is subscribed.
"""

from __future__ import annotations

import hmac
from datetime import datetime

from closedloop.campaign_stats import count_unsubscribe
from closedloop.ports import CampaignStats, ProfileStore
from closedloop.profiles import consent_record
from closedloop.tokens import MessageToken
from closedloop.validation import normalise_email


def unsubscribe(token: MessageToken, profiles: ProfileStore, now: datetime, stats: CampaignStats | None = None) -> bool:
    """Idempotent; False when the profile no longer exists (the answer to the recipient is the same). A campaign
    mail's link (its token names the campaign) counts in the campaign's `unsubscribes`, once per person."""
    done = profiles.set_status(token.profile_id, "unsubscribed", now, consent_record("unsubscribe_link", now))
    if done and token.campaign is not None and stats is not None:
        count_unsubscribe(token.campaign, token.profile_id, stats)
    return done


def unsubscribe_by_address(token: MessageToken, address: str, profiles: ProfileStore, now: datetime) -> bool:
    """Unsubscribe the profile an unverifiable link names if `address` is its address; True if it was."""
    profile = profiles.get(token.profile_id, consistent=True)
    if profile is None or not address:
        return False
    if not hmac.compare_digest(normalise_email(profile.email).encode(), normalise_email(address).encode()):
        return False
    return profiles.set_status(token.profile_id, "unsubscribed", now, consent_record("unsubscribe_link", now))
