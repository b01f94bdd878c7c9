"""DynamoDB through pynamodb: profiles (+ their due indexes), activity and the business-key ledger.

pynamodb binds a model's table name when the class is created, and closedloop reads table names from the
environment on first use (never at import). So each model class is built by a cached factory taking the table
name, and a store asks for a model only when it first touches that table: a function never reads the variable
of a table it is not wired to.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from functools import cached_property, lru_cache

from botocore.exceptions import ClientError
from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from closedloop.clock import isoformat, parse_instant
from closedloop.errors import ConcurrentUpdate, ProfileNotFound
from closedloop.ports import Activity, DueEntry, Link, MessageStatus
from closedloop.profiles import Profile, ProfileChange, all_shards, shard_of
from closedloop.settings import Settings

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
        message_id = UnicodeAttribute(null=True)
        provider_message_id = UnicodeAttribute(null=True)
        at = UnicodeAttribute(null=True)
        body = UnicodeAttribute(null=True)
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

    def save(self, change: ProfileChange, now: datetime, expected_version: int | None) -> tuple[Profile, bool]:
        m = self._m
        stamp = isoformat(now)
        actions = [
            m.email.set(change.email),
            m.status.set(change.status),
            m.attributes.set(change.attributes),
            m.updated_at.set(stamp),
            m.created_at.set(m.created_at | stamp),
            m.interests.set(m.interests | {}),
            m.writes.add(1),
        ]
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
        if expected_version is None:
            condition = m.profile_id.does_not_exist()
        elif expected_version == 0:
            condition = m.profile_id.exists() & m.writes.does_not_exist()
        else:
            condition = m.writes == expected_version
        # One round trip: the item comes back whole, and the write counter tells a create (1) from an update.
        item = m(change.profile_id)
        try:
            item.update(actions=actions, condition=condition)
        except UpdateError as error:
            if _conditional_failed(error):
                raise ConcurrentUpdate(f"profile {change.profile_id} changed since it was read") from error
            raise
        return _to_profile(item), expected_version is None

    def get(self, profile_id: str, consistent: bool = False) -> Profile | None:
        try:
            return _to_profile(self._m.get(profile_id, consistent_read=consistent))
        except DoesNotExist:
            return None

    def record_activity(self, activity: Activity, idle_due: str | None, expires_at: int) -> bool:
        """One TransactWriteItems: the activity (put if new) and its effect on the profile.

        Written with the low-level client rather than pynamodb models: this is the click path, and building the
        transaction through models cost more than all the rest of a warm click (see README "Performance").
        """
        occurred = isoformat(activity.occurred_at)
        put = {
            "Put": {
                "TableName": self._settings.activity_table,
                "Item": {
                    "profile_id": {"S": activity.profile_id},
                    # <kind>#<activity_id>: the business key that makes recording idempotent.
                    "sk": {"S": f"{activity.kind}#{activity.activity_id}"},
                    "kind": {"S": activity.kind},
                    "occurred_at": {"S": occurred},
                    "details": {"S": json.dumps(activity.details, separators=(",", ":"))},
                    "expires_at": {"N": str(expires_at)},
                },
                "ConditionExpression": "attribute_not_exists(sk)",
            }
        }
        names = {f"#c{n}": counter for n, counter in enumerate(activity.increments)}
        values = {f":c{n}": {"N": str(amount)} for n, amount in enumerate(activity.increments.values())}
        adds = ", ".join(f"interests.#c{n} :c{n}" for n in range(len(names)))
        attempts = []
        if activity.moves_last_activity and idle_due:
            # last_activity_at only moves forward (a retried older click must not rewind it), and only a subscribed
            # profile re-enters the inactivity index (we-miss-you is for people who still want mail). The usual
            # case succeeds at the first attempt; each fallback keeps what still holds.
            values |= {
                ":occurred": {"S": occurred},
                ":idle": {"S": idle_due},
                ":shard": {"S": shard_of(activity.profile_id, "idle")},
                ":subscribed": {"S": "subscribed"},
            }
            newer = (
                "attribute_exists(profile_id)"
                " AND (attribute_not_exists(last_activity_at) OR last_activity_at <= :occurred)"
            )
            moved = "SET last_activity_at = :occurred, idle_due_at = :idle, idle_shard = :shard"
            attempts += [
                (moved, f"{newer} AND #status = :subscribed", {"#status": "status"}),
                ("SET last_activity_at = :occurred", newer, {}),
            ]
        attempts.append(("", "attribute_exists(profile_id)", {}))
        for sets, condition, extra_names in attempts:
            expression = " ".join(part for part in (f"ADD {adds}" if adds else "", sets) if part)
            effect = {"TableName": self._settings.profiles_table, "Key": {"profile_id": {"S": activity.profile_id}}}
            effect["ConditionExpression"] = condition
            used_values = {k: v for k, v in values.items() if k in expression or k in condition}
            used_names = {**{k: v for k, v in names.items() if k in expression}, **extra_names}
            if used_names:
                effect["ExpressionAttributeNames"] = used_names
            if used_values:
                effect["ExpressionAttributeValues"] = used_values
            if expression:
                effect["UpdateExpression"] = expression
            try:
                self._connection.client.transact_write_items(
                    TransactItems=[put, {"Update" if expression else "ConditionCheck": effect}]
                )
                return True
            except ClientError as error:
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons") or []]
                if len(reasons) != 2:
                    raise
                if reasons[0] == "ConditionalCheckFailed":
                    return False  # this activity was recorded before
                if reasons[1] != "ConditionalCheckFailed":
                    raise
        raise ProfileNotFound(f"profile {activity.profile_id} does not exist")

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

    def set_status(self, profile_id: str, status: str, now: datetime) -> bool:
        m = self._m
        actions = [m.status.set(status), m.updated_at.set(isoformat(now)), m.writes.add(1)]
        if status != "subscribed":
            actions += [m.bday_shard.remove(), m.bday_due_at.remove(), m.idle_shard.remove(), m.idle_due_at.remove()]
        try:
            m(profile_id).update(actions=actions, condition=m.profile_id.exists())
            return True
        except UpdateError as error:
            if _conditional_failed(error):
                return False
            raise


class DynamoLedger:
    """Business keys (send#, threshold#), message statuses (message#) and content-addressed link sets (links#)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._connection = Connection()
        self._known_link_sets: set[str] = set()
        self._link_cache: dict[str, list[Link]] = {}

    @cached_property
    def _m(self) -> type[Model]:
        return ledger_model(self._settings.ledger_table)

    def reserve_send(self, send_key: str, message_id: str, now: datetime) -> bool:
        expires = int(now.timestamp()) + SEND_RETENTION_DAYS * 86400
        item = self._m(
            f"send#{send_key}", state="reserved", message_id=message_id, at=isoformat(now), expires_at=expires
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
        return self._m(f"message#{status.message_id}", state=status.state, body=body, expires_at=expires)

    def claim_threshold(self, rule_id: str, profile_id: str, now: datetime) -> str:
        key = f"threshold#{rule_id}#{profile_id}"
        if self._put_new(self._m(key, state="pending", at=isoformat(now))):
            return "claimed"
        item = self._m.get(key, consistent_read=True)
        return "published" if item.state == "published" else f"pending:{item.at}"

    def mark_threshold_published(self, rule_id: str, profile_id: str) -> None:
        self._m(f"threshold#{rule_id}#{profile_id}").update(actions=[self._m.state.set("published")])

    def put_link_set(self, link_set: str, links: list[Link]) -> None:
        if link_set in self._known_link_sets:
            return
        body = json.dumps([[link.url, link.actions] for link in links], separators=(",", ":"))
        self._put_new(self._m(f"links#{link_set}", body=body))  # content-addressed: an existing one is the same
        self._known_link_sets.add(link_set)

    def get_link_set(self, link_set: str) -> list[Link] | None:
        # Link sets never change (their id is their hash), so a container keeps every one it has read.
        if link_set not in self._link_cache:
            try:
                item = self._m.get(f"links#{link_set}")
            except DoesNotExist:
                return None
            self._link_cache[link_set] = [Link(url, actions) for url, actions in json.loads(item.body)]
        return self._link_cache[link_set]

    def _put_new(self, item: Model) -> bool:
        try:
            item.save(condition=self._m.pk.does_not_exist())
            return True
        except PutError as error:
            if _conditional_failed(error):
                return False
            raise
