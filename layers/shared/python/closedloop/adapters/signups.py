"""What double opt-in keeps in the ledger table besides the profile: confirmation-mail slots and confirmation claims.

`confirm-slot#<address>#<n>`: one item per slot, put only if absent or last used before the window. A slot is
taken atomically with one conditional put (no read first), so concurrent sign-ups cannot exceed the limit, and
at most `slots` mails go to one address in any window. The items expire (TTL) when their window has passed.

`confirmed#<token key>`: a confirmation claimed once ('pending'), then 'published' once its event and welcome mail
are on their way; a confirmation that finds it 'pending' (an earlier attempt broke off) publishes again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cached_property

from pynamodb.exceptions import PutError
from pynamodb.models import Model

from closedloop.adapters.dynamo import _conditional_failed, ledger_model
from closedloop.clock import isoformat
from closedloop.settings import Settings

CLAIM_RETENTION_DAYS = 60  # longer than any confirmation link lives (config: at most 30 days)


class DynamoSignups:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @cached_property
    def _m(self) -> type[Model]:
        return ledger_model(self._settings.ledger_table)

    def take_confirmation_slot(self, address: str, now: datetime, slots: int, window_seconds: int) -> bool:
        m = self._m
        free_since = isoformat(now - timedelta(seconds=window_seconds))
        expires = int(now.timestamp()) + window_seconds
        for slot in range(slots):
            item = m(f"confirm-slot#{address}#{slot}", at=isoformat(now), expires_at=expires)
            try:
                item.save(condition=m.pk.does_not_exist() | (m.at <= free_since))
                return True
            except PutError as error:
                if not _conditional_failed(error):
                    raise
        return False

    def claim_confirmation(self, token_key: str, now: datetime) -> str:
        m = self._m
        expires = int(now.timestamp()) + CLAIM_RETENTION_DAYS * 86400
        try:
            m(f"confirmed#{token_key}", state="pending", at=isoformat(now), expires_at=expires).save(
                condition=m.pk.does_not_exist()
            )
            return "claimed"
        except PutError as error:
            if not _conditional_failed(error):
                raise
        return m.get(f"confirmed#{token_key}", consistent_read=True).state

    def mark_confirmation_published(self, token_key: str) -> None:
        self._m(f"confirmed#{token_key}").update(actions=[self._m.state.set("published")])
