"""The stack's part of the sending pause and of GDPR: SES reputation alarms that notify and pause, the rule that
carries their state change, the held table, the release queue, the by_profile index and the erasure key."""

from __future__ import annotations

from closedloop import pause
from infra import metrics, wiring
from tests.infra.test_stack_resources import _function_id, _of_type, _rule_for


def _reputation_alarms(resources: dict) -> dict[str, dict]:
    alarms = _of_type(resources, "AWS::CloudWatch::Alarm").values()
    return {a["MetricName"]: a for a in alarms if a.get("Namespace") == "AWS/SES"}


def test_ses_bounce_and_complaint_rates_have_alarms_at_4_and_0_08_percent(resources):
    alarms = _reputation_alarms(resources)
    assert {name: a["Threshold"] for name, a in alarms.items()} == {
        "Reputation.BounceRate": 0.04,
        "Reputation.ComplaintRate": 0.0008,
    }
    for alarm in alarms.values():
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert "Dimensions" not in alarm  # the account-level metric
        assert (alarm["EvaluationPeriods"], alarm["TreatMissingData"]) == (1, "notBreaching")
        assert "paused" in alarm["AlarmDescription"] and "/v1/sending/resume" in alarm["AlarmDescription"]


def test_the_reputation_alarms_notify_the_alarm_topic(synthesized, resources):
    topic = {"Ref": synthesized.logical_id(synthesized.stack.alarm_topic.topic)}
    for alarm in _reputation_alarms(resources).values():
        assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic]


def test_an_alarm_going_into_alarm_reaches_the_pausing_function_from_the_default_bus(synthesized, template):
    rule = _rule_for(synthesized, template, wiring.REPUTATION_ALARM)
    assert "EventBusName" not in rule  # CloudWatch puts alarm state changes on the default bus
    assert rule["EventPattern"] == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {"state": {"value": ["ALARM"]}},
    }


def test_the_function_pauses_for_exactly_the_metrics_the_stack_alarms_on():
    assert {a.metric for a in metrics.REPUTATION_ALARMS} == set(pause.REPUTATION_METRICS)
    assert metrics.SES_NAMESPACE == pause.SES_NAMESPACE


def test_the_pausing_function_may_write_the_ledger_and_nothing_else(synthesized, resources):
    function = resources[_function_id(synthesized, wiring.REPUTATION_ALARM)]["Properties"]
    role = function["Role"]["Fn::GetAtt"][0]
    role_policies = [
        p for p in _of_type(resources, "AWS::IAM::Policy").values() if any(r["Ref"] == role for r in p["Roles"])
    ]
    text = str(role_policies)
    ledger = synthesized.logical_id(synthesized.stack.data.tables["ledger"])
    assert ledger in text
    for other in ("profiles", "activity", "held"):
        assert synthesized.logical_id(synthesized.stack.data.tables[other]) not in text


def test_the_ledger_finds_a_persons_records_through_a_by_profile_index(synthesized, resources):
    ledger = resources[synthesized.logical_id(synthesized.stack.data.tables["ledger"])]["Properties"]
    (index,) = ledger["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by_profile"
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["profile_id", "pk"]


def test_held_messages_are_kept_per_profile_and_released_by_a_queue_job(synthesized, resources):
    held = resources[synthesized.logical_id(synthesized.stack.data.tables["held"])]["Properties"]
    assert [k["AttributeName"] for k in held["KeySchema"]] == ["profile_id", "send_key"]
    assert wiring.consumer_of(wiring.RELEASE_QUEUE) is wiring.RELEASE
    assert wiring.RELEASE_QUEUE in wiring.ADMIN.sends_to and wiring.HELD in wiring.SENDER.writes


def test_the_erasure_key_is_a_generated_secret_read_only_where_an_erased_address_must_be_recognised():
    # confirm: the person's own double opt-in lifts their erasure, found by the keyed hash of their address;
    # import-chunks: an erased person is not imported again.
    readers = {f.name for f in wiring.FUNCTIONS if wiring.ERASURE_KEY in f.secrets}
    assert readers == {"sender", "admin-api", "confirm", "import-chunks"}
