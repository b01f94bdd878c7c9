"""Activity on the low-level client: recording clicks, opens and events, settling clicks, reading link sets.

The first click in a container reads its link set here, and recording an activity or settling a click is one
TransactWriteItems. All of it is written without pynamodb: the click path then neither imports it (cold start)
nor pays for its model conversion, which cost more than all the rest of a warm click (README "Performance").
Everything else uses closedloop.adapters.dynamo.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cached_property

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from closedloop import campaign_stats
from closedloop.adapters.campaign_stats import stats_update, transact
from closedloop.clock import isoformat, parse_instant
from closedloop.due import shard_of
from closedloop.errors import ProfileNotFound
from closedloop.settings import Settings
from closedloop.values import Activity, CampaignRef, ClickRecord, Link


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

        The effect is tried from the fullest to the barest: counters always apply; `last_activity_at` only moves
        forward (a retried older click must not rewind it) and only a subscribed profile re-enters the inactivity
        index; an event's latest-state fields (last purchase, open cart) move only if the event is newer than what
        they hold. The usual case succeeds at the first attempt.
        """
        put = {
            "Put": {
                "TableName": self._settings.activity_table,
                "Item": self._item(activity, expires_at),
                "ConditionExpression": "attribute_not_exists(sk)",
            }
        }
        return self._with_effects(put, activity, idle_due, "open")

    def put_click(self, activity: Activity, expires_at: int) -> bool:
        """Store a click as pending (or as a bot's, decided at the door); False if it was stored before."""
        item = {
            **self._item(activity, expires_at),
            "verdict": {"S": "bot" if activity.bot_reason else "pending"},
            "increments": {"S": json.dumps(activity.increments, separators=(",", ":"))},
        }
        put = {
            "TableName": self._settings.activity_table,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(sk)",
        }
        counted = self._counting(activity, "bot") if activity.bot_reason else []
        if counted:  # a campaign's click a machine made, decided at the door: counted with its record
            return self._first_holds(transact(self._client, [{"Put": put}, *counted]))
        try:
            self._client.put_item(**put)
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return False

    def clicks_of(self, profile_id: str, message_id: str) -> list[ClickRecord]:
        """Every stored click of one message by one profile (strongly consistent: the whole burst, just stored)."""
        clicks, start = [], None
        while True:
            page = self._client.query(
                TableName=self._settings.activity_table,
                KeyConditionExpression="profile_id = :p AND begins_with(sk, :prefix)",
                ExpressionAttributeValues={":p": {"S": profile_id}, ":prefix": {"S": f"click#{message_id}#"}},
                ProjectionExpression="sk, occurred_at, details, bot_reason",
                ConsistentRead=True,
                **({"ExclusiveStartKey": start} if start else {}),
            )
            for item in page.get("Items", []):
                clicks.append(
                    ClickRecord(
                        activity_id=item["sk"]["S"].rsplit("#", 1)[1],
                        occurred_at=parse_instant(item["occurred_at"]["S"]),
                        link_no=int(json.loads(item["details"]["S"]).get("link", -1)),
                        bot_reason=item.get("bot_reason", {}).get("S"),
                    )
                )
            start = page.get("LastEvaluatedKey")
            if not start:
                return clicks

    def settle_click(self, activity: Activity, bot_reason: str | None, idle_due: str | None) -> bool:
        """Turn a pending click into a person's (applying it to the profile, in one transaction) or a bot's (moving
        nothing). False if it was settled before."""
        names = {"#verdict": "verdict"}
        claim = {
            "TableName": self._settings.activity_table,
            "Key": {"profile_id": {"S": activity.profile_id}, "sk": {"S": activity.key}},
            "ConditionExpression": "#verdict = :pending",
            "ExpressionAttributeNames": names,
        }
        if bot_reason:
            claim["UpdateExpression"] = "SET #verdict = :bot, bot_reason = :reason"
            claim["ExpressionAttributeValues"] = {
                ":pending": {"S": "pending"},
                ":bot": {"S": "bot"},
                ":reason": {"S": bot_reason},
            }
            if counted := self._counting(activity, "bot"):
                return self._first_holds(transact(self._client, [{"Update": claim}, *counted]))
            try:
                self._client.update_item(**claim)
                return True
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                return False
        claim["UpdateExpression"] = "SET #verdict = :human"
        claim["ExpressionAttributeValues"] = {":pending": {"S": "pending"}, ":human": {"S": "human"}}
        return self._with_effects({"Update": claim}, activity, idle_due, "human")

    @staticmethod
    def _item(activity: Activity, expires_at: int) -> dict:
        item = {
            "profile_id": {"S": activity.profile_id},
            "sk": {"S": activity.key},
            "kind": {"S": activity.kind},
            "occurred_at": {"S": isoformat(activity.occurred_at)},
            "details": {"S": json.dumps(activity.details, separators=(",", ":"))},
            "expires_at": {"N": str(expires_at)},
        }
        if activity.bot_reason:
            item["bot_reason"] = {"S": activity.bot_reason}
        return item

    def _counting(self, activity: Activity, verdict: str) -> list[dict]:
        """The ADD on a campaign's statistics a reaction makes, as a transaction item ([] for no campaign)."""
        counted = campaign_stats.reaction_counts(activity, verdict)
        if counted is None:
            return []
        ref, counts = counted
        return [stats_update(self._settings.campaigns_table, ref, counts, activity.profile_id)]

    @staticmethod
    def _first_holds(codes: list[str | None]) -> bool:
        """A transaction whose first item is the business key: True committed, False counted before."""
        if not codes:
            return True
        if codes[0] == "ConditionalCheckFailed":
            return False
        raise RuntimeError(f"a reaction's transaction was cancelled: {codes}")

    def _with_effects(self, first: dict, activity: Activity, idle_due: str | None, verdict: str) -> bool:
        """`first` (the activity's own write, conditional), the activity's effect on the profile and its count in
        its campaign's statistics, in one transaction; False when `first`'s condition fails (recorded or settled
        before)."""
        counted = self._counting(activity, verdict)
        for expression in _effects(activity, idle_due):
            effect = {
                "TableName": self._settings.profiles_table,
                "Key": {"profile_id": {"S": activity.profile_id}},
                **expression,
            }
            kind = "Update" if "UpdateExpression" in effect else "ConditionCheck"
            codes = transact(self._client, [first, {kind: effect}, *counted])
            if not codes:
                return True
            if codes[0] == "ConditionalCheckFailed":
                return False
            if len(codes) < 2 or codes[1] != "ConditionalCheckFailed":
                raise RuntimeError(f"an activity's transaction was cancelled: {codes}")
        raise ProfileNotFound(f"profile {activity.profile_id} does not exist")


class _Names:
    """Placeholders for one expression: #n0 for attribute names, :v0 for values."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, dict] = {}

    def name(self, name: str) -> str:
        key = f"#n{len(self.names)}"
        self.names[key] = name
        return key

    def value(self, value: dict) -> str:
        key = f":v{len(self.values)}"
        self.values[key] = value
        return key

    def expression(self, adds: list[str], sets: list[str], removes: list[str], conditions: list[str]) -> dict:
        update = " ".join(
            f"{verb} {', '.join(parts)}" for verb, parts in (("ADD", adds), ("SET", sets), ("REMOVE", removes)) if parts
        )
        condition = " AND ".join(conditions)
        used = set(re.findall(r"[#:][nv]\d+", f"{update} {condition}"))
        expression = {"ConditionExpression": condition}
        if update:
            expression["UpdateExpression"] = update
        if names := {k: v for k, v in self.names.items() if k in used}:
            expression["ExpressionAttributeNames"] = names
        if values := {k: v for k, v in self.values.items() if k in used}:
            expression["ExpressionAttributeValues"] = values
        return expression


def _effects(activity: Activity, idle_due: str | None) -> Iterator[dict]:
    """The profile update of an activity, fullest first, each fallback keeping what still holds.

    A generator: the first expression almost always succeeds, so a click builds only that one."""
    p = _Names()
    occurred = p.value({"S": isoformat(activity.occurred_at)})
    adds = [f"interests.{p.name(k)} {p.value({'N': str(n)})}" for k, n in activity.increments.items()]
    latest_sets: list[str] = []
    latest_removes: list[str] = []
    latest_conditions: list[str] = []
    aggregates = activity.aggregates
    if aggregates:
        for attribute, key, amount in aggregates.counters:
            path = f"{attribute}.{p.name(key)}" if key is not None else attribute
            adds.append(f"{path} {p.value({'N': str(amount)})}")
        if aggregates.last_purchase_at:
            latest_sets.append(f"last_purchase_at = {occurred}")
            latest_conditions.append(f"(attribute_not_exists(last_purchase_at) OR last_purchase_at <= {occurred})")
        if aggregates.cart or aggregates.clears_cart:
            if aggregates.cart:
                latest_sets.append(f"cart = {p.value({'M': _typed(aggregates.cart)})}")
                # A cart from before the last purchase was closed by it: it must not open again.
                latest_conditions.append(f"(attribute_not_exists(last_purchase_at) OR last_purchase_at < {occurred})")
            else:
                latest_removes.append("cart")
            latest_conditions.append(f"(attribute_not_exists(cart) OR cart.updated_at <= {occurred})")
    exists = "attribute_exists(profile_id)"
    # A person's open or click also moves its behaviour aggregate (last_opened_at, last_clicked_at) forward, and a
    # campaign's click adds the campaign to clicked_campaigns (a string set: ADD is idempotent, no read, no list
    # growing by repeats).
    mark, marked = [], []
    reaction = {"open": "last_opened_at", "click": "last_clicked_at"}.get(activity.kind)
    if reaction and activity.bot_reason is None:
        r = p.name(reaction)
        mark = [f"{r} = {occurred}"]
        marked = [f"(attribute_not_exists({r}) OR {r} <= {occurred})"]
    campaign = activity.details.get("campaign") if activity.kind == "click" else None
    if campaign:
        adds.append(f"{p.name('clicked_campaigns')} {p.value({'SS': [campaign['id']]})}")
    variants = []  # (sets, moves last activity, moves the idle entry, latest fields)
    if activity.moves_last_activity and idle_due:
        newer = f"(attribute_not_exists(last_activity_at) OR last_activity_at <= {occurred})"
        # A click that moves last_activity_at is its newest click too (a click never sets last_clicked_at past
        # last_activity_at), so it needs no condition of its own there.
        last = f"last_activity_at = {occurred}"
        if activity.kind == "click":
            last = ", ".join([last, *mark])
        idle = [
            f"idle_due_at = {p.value({'S': idle_due})}",
            f"idle_shard = {p.value({'S': shard_of(activity.profile_id, 'idle')})}",
        ]
        subscribed = f"{p.name('status')} = {p.value({'S': 'subscribed'})}"
        variants += [
            ([last, *idle], [exists, newer, subscribed], True),
            ([last, *idle], [exists, newer, subscribed], False),
            ([last], [exists, newer], True),
            ([last], [exists, newer], False),
        ]
    if mark:  # an older click (or any open): its aggregate still moves if it is the newest of its kind
        variants += [(mark, [exists, *marked], True), (mark, [exists, *marked], False)]
    variants += [([], [exists], True), ([], [exists], False)]
    for sets, conditions, with_latest in variants:
        if with_latest and not latest_conditions:
            continue
        yield p.expression(
            adds,
            sets + (latest_sets if with_latest else []),
            latest_removes if with_latest else [],
            conditions + (latest_conditions if with_latest else []),
        )


def _typed(value: dict) -> dict:
    """A flat map of text and numbers in DynamoDB's typed form."""
    return {k: {"N": str(v)} if isinstance(v, (int, float)) else {"S": str(v)} for k, v in value.items()}


class DynamoLinkSets:
    """Content-addressed link sets in the ledger table (`links#<id>`); a container keeps every set it has read."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._known: dict[str, list[Link]] = {}
        self._campaigns: dict[str, CampaignRef | None] = {}

    @cached_property
    def _client(self):
        return _client()

    def put(self, link_set: str, links: list[Link], campaign: CampaignRef | None = None) -> None:
        if link_set in self._known:
            return
        body = json.dumps([[link.url, link.actions] for link in links], separators=(",", ":"))
        item = {"pk": {"S": f"links#{link_set}"}, "body": {"S": body}}
        if campaign is not None:
            item["campaign"] = {"S": json.dumps([campaign.id, campaign.stage, campaign.variant])}
        try:
            self._client.put_item(
                TableName=self._settings.ledger_table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise  # an existing set with this id is this set: its id is its hash
        self._known[link_set] = list(links)
        self._campaigns[link_set] = campaign

    def get(self, link_set: str) -> list[Link] | None:
        # Link sets never change (their id is their hash), so a container keeps every one it has read.
        if link_set not in self._known:
            item = self._client.get_item(
                TableName=self._settings.ledger_table, Key={"pk": {"S": f"links#{link_set}"}}
            ).get("Item")
            if item is None:
                return None
            self._known[link_set] = [Link(url, actions) for url, actions in json.loads(item["body"]["S"])]
            campaign = json.loads(item["campaign"]["S"]) if "campaign" in item else None
            self._campaigns[link_set] = CampaignRef(*campaign) if campaign else None
        return self._known[link_set]

    def campaign_of(self, link_set: str) -> CampaignRef | None:
        return self._campaigns.get(link_set)
