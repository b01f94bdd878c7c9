"""The click path's DynamoDB access on the low-level client: recording an activity, reading a link set.

A click makes one TransactWriteItems, and the first click in a container also reads its link set. Both are written
here without pynamodb: a click then neither imports it (cold start) nor pays for its model conversion, which cost
more than all the rest of a warm click (README "Performance"). Everything else uses closedloop.adapters.dynamo.
"""

from __future__ import annotations

import json
from functools import cached_property

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from closedloop.clock import isoformat
from closedloop.due import shard_of
from closedloop.errors import ProfileNotFound
from closedloop.settings import Settings
from closedloop.values import Activity, Link


def _client():
    """A DynamoDB client without botocore's parameter validation (as pynamodb's): the requests here are built by
    tested code, and validating the nested transaction was a tenth of a warm click's AWS call."""
    return boto3.client("dynamodb", config=Config(parameter_validation=False))


class DynamoActivityLog:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @cached_property
    def _client(self):
        return _client()

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
                self._client.transact_write_items(
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


class DynamoLinkSets:
    """Content-addressed link sets in the ledger table (`links#<id>`); a container keeps every set it has read."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._known: dict[str, list[Link]] = {}

    @cached_property
    def _client(self):
        return _client()

    def put(self, link_set: str, links: list[Link]) -> None:
        if link_set in self._known:
            return
        body = json.dumps([[link.url, link.actions] for link in links], separators=(",", ":"))
        try:
            self._client.put_item(
                TableName=self._settings.ledger_table,
                Item={"pk": {"S": f"links#{link_set}"}, "body": {"S": body}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise  # an existing set with this id is this set: its id is its hash
        self._known[link_set] = list(links)

    def get(self, link_set: str) -> list[Link] | None:
        # Link sets never change (their id is their hash), so a container keeps every one it has read.
        if link_set not in self._known:
            item = self._client.get_item(
                TableName=self._settings.ledger_table, Key={"pk": {"S": f"links#{link_set}"}}
            ).get("Item")
            if item is None:
                return None
            self._known[link_set] = [Link(url, actions) for url, actions in json.loads(item["body"]["S"])]
        return self._known[link_set]
