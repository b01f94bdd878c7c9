"""The stack's part of frequency caps and quiet hours: the deferred table, the per-minute tick and who may touch it."""

from __future__ import annotations

from infra import wiring
from tests.infra.test_stack_resources import _function_id, _of_type, _props, _refs, _table_actions


def test_the_deferred_table_is_write_sharded_by_due_instant_with_ttl_and_a_by_profile_index(synthesized, resources):
    props = _props(resources, synthesized.logical_id(synthesized.stack.data.tables["deferred"]))
    assert [(k["AttributeName"], k["KeyType"]) for k in props["KeySchema"]] == [("shard", "HASH"), ("due_key", "RANGE")]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    (index,) = props["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by_profile" and index["Projection"] == {"ProjectionType": "ALL"}
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["profile_id", "due_key"]


def test_the_tick_runs_every_minute_and_ends_before_the_next(synthesized, resources):
    (schedule,) = [
        s
        for s in _of_type(resources, "AWS::Scheduler::Schedule").values()
        if s["Target"]["Arn"] == {"Fn::GetAtt": [_function_id(synthesized, wiring.DEFERRALS), "Arn"]}
    ]
    assert schedule["ScheduleExpression"] == "rate(1 minute)"
    assert _props(resources, _function_id(synthesized, wiring.DEFERRALS))["Timeout"] < 60 + 1


def test_the_tick_reads_and_deletes_deferred_items_and_touches_no_other_table(synthesized, resources):
    actions = _table_actions(synthesized, resources, wiring.DEFERRALS, wiring.DEFERRED)
    assert {"dynamodb:Query", "dynamodb:DeleteItem"} <= actions
    for other in (wiring.PROFILES, wiring.LEDGER, wiring.ACTIVITY, wiring.HELD):
        assert _table_actions(synthesized, resources, wiring.DEFERRALS, other) == set()
    variables = _props(resources, _function_id(synthesized, wiring.DEFERRALS))["Environment"]["Variables"]
    assert {"DEFERRED_TABLE", "SEND_QUEUE_URL"} <= set(variables)
    assert _refs(variables["DEFERRED_TABLE"]) == {synthesized.logical_id(synthesized.stack.data.tables["deferred"])}


def test_the_sender_may_put_deferred_items_and_the_admin_api_find_and_erase_them(synthesized, resources):
    assert "dynamodb:PutItem" in _table_actions(synthesized, resources, wiring.SENDER, wiring.DEFERRED)
    admin = _table_actions(synthesized, resources, wiring.ADMIN, wiring.DEFERRED)
    assert {"dynamodb:Query", "dynamodb:BatchWriteItem"} <= admin
