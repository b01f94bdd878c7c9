"""DynamoDB through pynamodb: profiles (+ their due indexes), the business-key ledger and the suppression list.

The click path's writes (activity) and reads (link sets) live in closedloop.adapters.activity instead, on the
low-level client: a click neither imports pynamodb nor pays for its model conversion.

pynamodb binds a model's table name when the class is created, and closedloop reads table names from the
environment on first use (never at import). So each model class is built by a cached factory taking the table
name, and a store asks for a model only when it first touches that table: a function never reads the variable
of a table it is not wired to.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import cached_property, lru_cache

from pynamodb.attributes import ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from closedloop.clock import isoformat, parse_instant
from closedloop.due import all_shards, shard_of
from closedloop.errors import ConcurrentUpdate, EmailTaken
from closedloop.profiles import Profile, ProfileChange
from closedloop.settings import Settings
from closedloop.suppression import Screen, Suppression
from closedloop.values import DueEntry, MessageStatus

SEND_RETENTION_DAYS = 400  # the send ledger outlives any retry and any yearly occasion key
_DUE = {"birthday": ("bday_shard", "bday_due_at", "birthday_due"), "idle": ("idle_shard", "idle_due_at", "idle_due")}


def _conditional_failed(error: Exception) -> bool:
    cause = getattr(error, "cause_response_code", None)
    return cause == "ConditionalCheckFailedException"


@lru_cache(maxsize=4)
def profile_model(table: str) -> type[Model]:
    class BirthdayDue(GlobalSecondaryIndex):
        class Meta:
            index_name = "birthday_due"
            projection = KeysOnlyProjection()

        bday_shard = UnicodeAttribute(hash_key=True)
        bday_due_at = UnicodeAttribute(range_key=True)

    class IdleDue(GlobalSecondaryIndex):
        class Meta:
            index_name = "idle_due"
            projection = KeysOnlyProjection()

        idle_shard = UnicodeAttribute(hash_key=True)
        idle_due_at = UnicodeAttribute(range_key=True)

    class ProfileModel(Model):
        class Meta:
            table_name = table

        profile_id = UnicodeAttribute(hash_key=True)
        email = UnicodeAttribute()
        status = UnicodeAttribute()
        attributes = MapAttribute(default=dict)
        interests = MapAttribute(default=dict)
        last_activity_at = UnicodeAttribute(null=True)
        created_at = UnicodeAttribute(null=True)
        updated_at = UnicodeAttribute(null=True)
        writes = NumberAttribute(null=True)
        consent = MapAttribute(null=True)
        event_counts = MapAttribute(default=dict)
        purchase_count = NumberAttribute(null=True)
        revenue = MapAttribute(default=dict)
        last_purchase_at = UnicodeAttribute(null=True)
        cart = MapAttribute(null=True)
        topics = ListAttribute(of=UnicodeAttribute, null=True)
        bday_shard = UnicodeAttribute(null=True)
        bday_due_at = UnicodeAttribute(null=True)
        idle_shard = UnicodeAttribute(null=True)
        idle_due_at = UnicodeAttribute(null=True)
        birthday_due = BirthdayDue()
        idle_due = IdleDue()

    return ProfileModel


@lru_cache(maxsize=4)
def ledger_model(table: str) -> type[Model]:
    class LedgerModel(Model):
        class Meta:
            table_name = table

        pk = UnicodeAttribute(hash_key=True)
        state = UnicodeAttribute(null=True)
        profile_id = UnicodeAttribute(null=True)  # email#<address>: the profile holding the address
        message_id = UnicodeAttribute(null=True)
        provider_message_id = UnicodeAttribute(null=True)
        at = UnicodeAttribute(null=True)
        body = UnicodeAttribute(null=True)
        reason = UnicodeAttribute(null=True)  # suppressed#<address>: why it is suppressed
        bounces = UnicodeSetAttribute(null=True)  # bounces#<address>: "<SES message id> <instant>" per bounce
        expires_at = NumberAttribute(null=True)

    return LedgerModel


def _to_profile(item: Model) -> Profile:
    return Profile(
        profile_id=item.profile_id,
        email=item.email,
        status=item.status,
        attributes=_plain(item.attributes),
        interests={k: int(v) for k, v in _plain(item.interests).items()},
        last_activity_at=item.last_activity_at,
        created_at=item.created_at,
        updated_at=item.updated_at,
        version=int(item.writes or 0),
        consent=_plain(item.consent) or None,
        event_counts={k: int(v) for k, v in _plain(item.event_counts).items()},
        purchase_count=int(item.purchase_count or 0),
        revenue={k: _number(v) for k, v in _plain(item.revenue).items()},
        last_purchase_at=item.last_purchase_at,
        cart=_cart(_plain(item.cart)),
        topics=list(item.topics) if item.topics is not None else None,
    )


def _number(value) -> int | float:
    number = float(value)
    return int(number) if number.is_integer() else number


def _cart(stored: dict) -> dict | None:
    """The open cart as the API shows it: items back from the text they are stored as."""
    if not stored:
        return None
    cart = {k: _number(v) if k == "total" else v for k, v in stored.items()}
    cart["items"] = json.loads(stored.get("items") or "[]")
    return cart


def _applied(existing: Profile | None, change: ProfileChange, stamp: str) -> Profile:
    """The profile a save leaves: what was read, with the change applied."""
    return Profile(
        profile_id=change.profile_id,
        email=change.email,
        status=change.status,
        attributes=dict(change.attributes),
        interests=dict(existing.interests) if existing else {},
        last_activity_at=existing.last_activity_at if existing else None,
        created_at=existing.created_at if existing else stamp,
        updated_at=stamp,
        version=(existing.version if existing else 0) + 1,
        consent=change.consent or (existing.consent if existing else None),
        event_counts=dict(existing.event_counts) if existing else {},
        purchase_count=existing.purchase_count if existing else 0,
        revenue=dict(existing.revenue) if existing else {},
        last_purchase_at=existing.last_purchase_at if existing else None,
        cart=existing.cart if existing else None,
        topics=list(change.topics) if change.topics is not None else (existing.topics if existing else None),
    )


def _plain(value: object) -> dict:
    if value is None:
        return {}
    return value.as_dict() if hasattr(value, "as_dict") else dict(value)


def forget_models() -> None:
    """Drop the model classes: each holds its pynamodb connection, and with it an endpoint (tests, local runtime)."""
    for factory in (profile_model, ledger_model):
        factory.cache_clear()


class DynamoProfileStore:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._connection = Connection()

    @cached_property
    def _m(self) -> type[Model]:
        return profile_model(self._settings.profiles_table)

    @cached_property
    def _claims(self) -> type[Model]:
        return ledger_model(self._settings.ledger_table)

    def save(self, change: ProfileChange, now: datetime, existing: Profile | None) -> tuple[Profile, bool]:
        """One transaction: the profile (if still the version read), its address claim, and the old claim's release.

        Transactions return no item, so the profile answered is `existing` with the change applied.
        """
        m, claims = self._m, self._claims
        stamp = isoformat(now)
        actions = [
            m.email.set(change.email),
            m.status.set(change.status),
            m.attributes.set(change.attributes),
            m.updated_at.set(stamp),
            m.created_at.set(m.created_at | stamp),
            # The maps an activity ADDs into must exist (closedloop.adapters.activity).
            m.interests.set(m.interests | {}),
            m.event_counts.set(m.event_counts | {}),
            m.revenue.set(m.revenue | {}),
            m.writes.add(1),
        ]
        if change.consent:
            actions.append(m.consent.set(change.consent))
        if change.topics is not None:
            actions.append(m.topics.set(list(change.topics)))
        if change.birthday_due:
            actions += [m.bday_shard.set(shard_of(change.profile_id, "bday")), m.bday_due_at.set(change.birthday_due)]
        else:
            actions += [m.bday_shard.remove(), m.bday_due_at.remove()]
        if change.idle_due:
            # A running silence clock keeps running: a profile sync is not activity.
            actions += [
                m.idle_shard.set(shard_of(change.profile_id, "idle")),
                m.idle_due_at.set(m.idle_due_at | change.idle_due),
            ]
        else:
            actions += [m.idle_shard.remove(), m.idle_due_at.remove()]
        if existing is None:
            condition = m.profile_id.does_not_exist()
        elif existing.version == 0:
            condition = m.profile_id.exists() & m.writes.does_not_exist()
        else:
            condition = m.writes == existing.version
        releases = bool(change.previous_email) and change.previous_email != change.email
        # Free, or already this profile's (profiles written before claims existed have none to release).
        free_or_mine = claims.pk.does_not_exist() | (claims.profile_id == change.profile_id)
        try:
            with TransactWrite(connection=self._connection) as transaction:
                if releases:
                    transaction.delete(claims(f"email#{change.previous_email}"), condition=free_or_mine)
                claim = claims(f"email#{change.email}", profile_id=change.profile_id)
                transaction.save(claim, condition=free_or_mine)
                transaction.update(m(change.profile_id), actions=actions, condition=condition)
        except TransactWriteError as error:
            # pynamodb sends deletes, then puts, then updates; the cancellation reasons follow that order.
            failed = [
                getattr(reason, "code", None) == "ConditionalCheckFailed" for reason in error.cancellation_reasons or []
            ]
            if len(failed) != 2 + releases:
                raise
            *release_failed, claim_failed, profile_failed = failed
            if claim_failed:
                raise EmailTaken("another profile holds this e-mail address") from error
            if profile_failed or any(release_failed):
                raise ConcurrentUpdate(f"profile {change.profile_id} changed since it was read") from error
            raise
        return _applied(existing, change, stamp), existing is None

    def find_by_email(self, email: str) -> Profile | None:
        try:
            claim = self._claims.get(f"email#{email}", consistent_read=True)
        except DoesNotExist:
            return None
        return self.get(claim.profile_id, consistent=True)

    def get(self, profile_id: str, consistent: bool = False) -> Profile | None:
        try:
            return _to_profile(self._m.get(profile_id, consistent_read=consistent))
        except DoesNotExist:
            return None

    def due(self, index: str, now_key: str) -> Iterator[DueEntry]:
        shard_attr, due_attr, index_name = _DUE[index]
        gsi = getattr(self._m, index_name)
        kind = "bday" if index == "birthday" else "idle"
        for shard in all_shards(kind):
            for item in gsi.query(shard, getattr(self._m, due_attr) <= now_key):
                yield DueEntry(item.profile_id, getattr(item, due_attr))

    def move_due(self, index: str, profile_id: str, seen: str, new: str | None) -> bool:
        shard_attr, due_attr, _ = _DUE[index]
        due = getattr(self._m, due_attr)
        actions = [due.set(new)] if new else [due.remove(), getattr(self._m, shard_attr).remove()]
        try:
            self._m(profile_id).update(actions=actions, condition=due == seen)
            return True
        except UpdateError as error:
            if _conditional_failed(error):
                return False
            raise

    def set_status(self, profile_id: str, status: str, now: datetime, consent: dict) -> bool:
        m = self._m
        actions = [m.status.set(status), m.consent.set(consent)]
        if status != "subscribed":
            actions += [m.bday_shard.remove(), m.bday_due_at.remove(), m.idle_shard.remove(), m.idle_due_at.remove()]
        return self._change_existing(profile_id, actions, now)

    def set_topics(self, profile_id: str, topics: tuple[str, ...], now: datetime) -> bool:
        return self._change_existing(profile_id, [self._m.topics.set(list(topics))], now)

    def _change_existing(self, profile_id: str, actions: list, now: datetime) -> bool:
        """A change the person or an integrator made: counted as a write (the version a PUT guards with); False
        if there is no such profile."""
        m = self._m
        try:
            m(profile_id).update(
                actions=[*actions, m.updated_at.set(isoformat(now)), m.writes.add(1)],
                condition=m.profile_id.exists(),
            )
            return True
        except UpdateError as error:
            if _conditional_failed(error):
                return False
            raise


class DynamoLedger:
    """Business keys (send#, threshold#) and message statuses (message#). Link sets share the table (links#) but
    have their own adapter (closedloop.adapters.activity), pynamodb-free for the click path."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._connection = Connection()

    @cached_property
    def _m(self) -> type[Model]:
        return ledger_model(self._settings.ledger_table)

    def reserve_send(self, send_key: str, message_id: str, now: datetime, profile_id: str | None = None) -> bool:
        expires = int(now.timestamp()) + SEND_RETENTION_DAYS * 86400
        item = self._m(
            f"send#{send_key}",
            state="reserved",
            message_id=message_id,
            at=isoformat(now),
            expires_at=expires,
            profile_id=profile_id,  # the by_profile index finds it for a GDPR export or erasure
        )
        return self._put_new(item)

    def release_send(self, send_key: str) -> None:
        try:
            self._m(f"send#{send_key}").delete(condition=self._m.state == "reserved")
        except DeleteError as error:
            if not _conditional_failed(error):
                raise  # a key already sent (or gone) stays as it is: only a reservation is ever released

    def mark_sent(self, send_key: str, status: MessageStatus) -> None:
        self._finish(send_key, "sent", status)

    def mark_possibly_sent(self, send_key: str, status: MessageStatus) -> None:
        self._finish(send_key, "possibly_sent", status)

    def _finish(self, send_key: str, state: str, status: MessageStatus) -> None:
        """The send key's final state and the message's status in one request (a transaction of two items)."""
        m = self._m
        with TransactWrite(connection=self._connection) as transaction:
            transaction.update(
                m(f"send#{send_key}"),
                actions=[
                    m.state.set(state),
                    m.provider_message_id.set(status.provider_message_id),
                    m.at.set(status.at),
                ],
            )
            transaction.save(self._status_item(status))

    def put_message_status(self, status: MessageStatus, *, only_if_new: bool = False) -> bool:
        item = self._status_item(status)
        if only_if_new:
            return self._put_new(item)
        item.save()
        return True

    def get_message_status(self, message_id: str) -> MessageStatus | None:
        try:
            item = self._m.get(f"message#{message_id}", consistent_read=True)
        except DoesNotExist:
            return None
        return MessageStatus(**json.loads(item.body))

    def _status_item(self, status: MessageStatus) -> Model:
        expires = int(parse_instant(status.at).timestamp()) + SEND_RETENTION_DAYS * 86400
        body = json.dumps(status._asdict(), separators=(",", ":"))
        return self._m(
            f"message#{status.message_id}",
            state=status.state,
            body=body,
            expires_at=expires,
            profile_id=status.profile_id,  # the by_profile index finds it for a GDPR export or erasure
        )

    def claim_threshold(self, rule_id: str, profile_id: str, now: datetime) -> str:
        key = f"threshold#{rule_id}#{profile_id}"
        if self._put_new(self._m(key, state="pending", at=isoformat(now), profile_id=profile_id)):
            return "claimed"
        item = self._m.get(key, consistent_read=True)
        return "published" if item.state == "published" else f"pending:{item.at}"

    def mark_threshold_published(self, rule_id: str, profile_id: str) -> None:
        self._m(f"threshold#{rule_id}#{profile_id}").update(actions=[self._m.state.set("published")])

    def _put_new(self, item: Model) -> bool:
        try:
            item.save(condition=self._m.pk.does_not_exist())
            return True
        except PutError as error:
            if _conditional_failed(error):
                return False
            raise


class DynamoSuppressions:
    """The suppression list in the ledger table: `suppressed#<address>` {reason, at}, and `bounces#<address>`,
    the transient bounces of the last 30 days as a string set (one ADD per bounce: idempotent by mail id, no read
    before the write; the item expires 30 days after its latest bounce)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @cached_property
    def _m(self) -> type[Model]:
        return ledger_model(self._settings.ledger_table)

    @cached_property
    def _client(self):
        from closedloop.adapters.activity import _client

        return _client()

    def get(self, address: str) -> Suppression | None:
        try:
            item = self._m.get(f"suppressed#{address}", consistent_read=True)
        except DoesNotExist:
            return None
        return Suppression(address, item.reason, item.at)

    def put(self, entry: Suppression, *, only_if_new: bool = False) -> bool:
        item = self._m(f"suppressed#{entry.address}", reason=entry.reason, at=entry.at)
        try:
            item.save(condition=self._m.pk.does_not_exist() if only_if_new else None)
            return True
        except PutError as error:
            if only_if_new and _conditional_failed(error):
                return False
            raise

    def delete(self, address: str) -> bool:
        try:
            self._m(f"suppressed#{address}").delete(condition=self._m.pk.exists())
            return True
        except DeleteError as error:
            if _conditional_failed(error):
                return False
            raise

    def screen(self, keys: Sequence[str]) -> Screen:
        """One strongly consistent BatchGetItem: `suppressed#<key>` for each key, and the sending pause."""
        from closedloop.adapters.pausing import STATE_KEY, pause_of

        wanted = [{"pk": {"S": f"suppressed#{key}"}} for key in keys] + [{"pk": {"S": STATE_KEY}}]
        found = batch_get(self._client, self._settings.ledger_table, wanted)
        entries = {item["pk"]["S"]: item for item in found}
        entry = next(
            (
                Suppression(key, entries[f"suppressed#{key}"]["reason"]["S"], entries[f"suppressed#{key}"]["at"]["S"])
                for key in keys
                if f"suppressed#{key}" in entries
            ),
            None,
        )
        return Screen(entry, pause_of(entries.get(STATE_KEY)))

    def suppressed_among(self, addresses: Sequence[str]) -> set[str]:
        """Eventually consistent (half the cost of the gate's read): a segment's audience, not a send."""
        unique = list(dict.fromkeys(addresses))
        found: set[str] = set()
        for start in range(0, len(unique), 100):
            keys = [{"pk": {"S": f"suppressed#{address}"}} for address in unique[start : start + 100]]
            items = batch_get(self._client, self._settings.ledger_table, keys, consistent=False)
            found |= {item["pk"]["S"].removeprefix("suppressed#") for item in items}
        return found

    def note_transient_bounce(self, address: str, mail_id: str, at: datetime, expires_at: int) -> dict[str, str]:
        m = self._m
        item = m(f"bounces#{address}")
        item.update(actions=[m.bounces.add({f"{mail_id} {isoformat(at)}"}), m.expires_at.set(expires_at)])
        seen: dict[str, str] = {}
        for entry in item.bounces or ():
            mail, _, instant = entry.rpartition(" ")
            seen[mail] = min(seen.get(mail, instant), instant)  # the same mail twice counts once, at its first
        return seen


def batch_get(client, table: str, keys: list[dict], *, consistent: bool = True) -> list[dict]:
    """Items (low-level form) under up to 100 keys of one table, strongly consistent unless asked otherwise, in one
    BatchGetItem (again only for keys DynamoDB leaves unprocessed under throttling)."""
    found, pending = [], {table: {"Keys": keys, "ConsistentRead": consistent}}
    while pending:
        response = client.batch_get_item(RequestItems=pending)
        found += response.get("Responses", {}).get(table, [])
        pending = response.get("UnprocessedKeys") or {}
    return found
