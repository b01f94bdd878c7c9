"""Alarms reach a person through the encrypted alarm topic; business metrics are alarmed on and on the dashboard."""

from __future__ import annotations

import json

import pytest

from closedloop import sending
from closedloop.observability import metrics as emitted
from infra import metrics, wiring
from tests.infra.conftest import Synthesized


def _of_type(resources: dict, type_: str) -> dict[str, dict]:
    return {key: r.get("Properties", {}) for key, r in resources.items() if r["Type"] == type_}


def _topic_id(synthesized: Synthesized) -> str:
    return synthesized.logical_id(synthesized.stack.alarm_topic.topic)


def _statements(resources: dict, type_: str, document: str = "PolicyDocument") -> list[dict]:
    return [s for props in _of_type(resources, type_).values() for s in props[document]["Statement"]]


def _dashboard_body(resources: dict) -> dict:
    """The dashboard JSON with CloudFormation references (region, alarm ARNs) replaced by a placeholder."""
    (props,) = _of_type(resources, "AWS::CloudWatch::Dashboard").values()
    body = props["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    return json.loads("".join(part if isinstance(part, str) else "REF" for part in parts))


def _graphs(resources: dict) -> dict[str, list[str]]:
    """Title -> metric names of each dashboard graph of the closedloop namespace."""
    graphs = {}
    for widget in _dashboard_body(resources)["widgets"]:
        lines = widget["properties"].get("metrics", [])
        names = [line[1] for line in lines if line[0] == metrics.NAMESPACE]
        if names:
            graphs[widget["properties"]["title"]] = names
    return graphs


# --- the alarm topic --------------------------------------------------------------------------------------------


def test_every_alarm_notifies_the_alarm_topic(synthesized, resources):
    alarms = _of_type(resources, "AWS::CloudWatch::Alarm")
    assert len(alarms) == len(synthesized.stack.monitoring.alarms)
    for key, props in alarms.items():
        assert props["AlarmActions"] == [{"Ref": _topic_id(synthesized)}], key


def test_alarms_report_recovery_except_those_that_each_need_a_person(synthesized, resources):
    alarms = _of_type(resources, "AWS::CloudWatch::Alarm").values()
    silent_on_ok = {a["MetricName"] for a in alarms if "OKActions" not in a}
    assert silent_on_ok == {metrics.SENDS.name("possibly_sent")}
    for props in alarms:
        if "OKActions" in props:
            assert props["OKActions"] == [{"Ref": _topic_id(synthesized)}]


def test_the_alarm_topic_is_encrypted_with_a_rotated_key_of_its_own(synthesized, resources):
    topic = resources[_topic_id(synthesized)]["Properties"]
    key = synthesized.logical_id(synthesized.stack.alarm_topic.key)
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
    assert resources[key]["Properties"]["EnableKeyRotation"] is True


def test_the_alarm_topic_refuses_plain_http(synthesized, resources):
    topic = {"Ref": _topic_id(synthesized)}
    (policy,) = [p for p in _of_type(resources, "AWS::SNS::TopicPolicy").values() if p["Topics"] == [topic]]
    denials = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert [s["Condition"] for s in denials] == [{"Bool": {"aws:SecureTransport": "false"}}]


def test_only_cloudwatch_alarms_of_this_account_may_publish_to_the_topic(synthesized, resources):
    allowed = [s for s in _statements(resources, "AWS::SNS::TopicPolicy") if s["Effect"] == "Allow"]
    (statement,) = allowed
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statement["Action"] == "sns:Publish"
    assert statement["Resource"] == {"Ref": _topic_id(synthesized)}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert ":alarm:*" in json.dumps(statement["Condition"]["ArnLike"]["aws:SourceArn"])


def test_cloudwatch_may_use_the_topic_key_or_notifications_would_be_dropped(resources):
    granted = [
        s
        for s in _statements(resources, "AWS::KMS::Key", document="KeyPolicy")
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert [sorted(s["Action"]) for s in granted] == [["kms:Decrypt", "kms:GenerateDataKey*"]]


def test_the_alarm_topic_arn_is_a_stack_output(synthesized):
    outputs = json.loads(synthesized.template_file.read_text())["Outputs"]
    (output,) = [o for key, o in outputs.items() if key.startswith("alarmtopic")]
    assert output["Value"] == {"Ref": _topic_id(synthesized)}
    assert "subscribe" in output["Description"]


# --- technical alarms -------------------------------------------------------------------------------------------


def test_every_dead_letter_queue_and_function_has_an_alarm(resources):
    alarms = _of_type(resources, "AWS::CloudWatch::Alarm").values()
    dlq_alarms = [a for a in alarms if a["MetricName"] == "ApproximateNumberOfMessagesVisible"]
    error_alarms = [a for a in alarms if a["MetricName"] == "Errors"]
    dlqs = [key for key, props in _of_type(resources, "AWS::SQS::Queue").items() if "RedrivePolicy" not in props]
    assert len(dlq_alarms) == len(dlqs)
    assert len(error_alarms) == len(wiring.FUNCTIONS)


# --- business metrics -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Clicks_lost", "Opens_lost", "Send_possibly_sent"])
def test_a_single_lost_click_or_open_or_possibly_sent_mail_raises_an_alarm(resources, name):
    (alarm,) = [a for a in _of_type(resources, "AWS::CloudWatch::Alarm").values() if a["MetricName"] == name]
    assert alarm["Namespace"] == "closedloop"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "closedloop"}]
    assert alarm["Statistic"] == "Sum"
    assert alarm["Period"] == 300
    assert alarm["EvaluationPeriods"] == 1
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmDescription"]


def test_the_possibly_sent_alarm_says_what_to_do(resources):
    (alarm,) = [
        a for a in _of_type(resources, "AWS::CloudWatch::Alarm").values() if a["MetricName"] == "Send_possibly_sent"
    ]
    assert "will not be retried" in alarm["AlarmDescription"]
    assert "log group" in alarm["AlarmDescription"]


def test_the_dashboard_shows_the_business_next_to_the_technical_graphs(resources):
    graphs = _graphs(resources)
    assert graphs["Mail sent"] == ["Send_sent"]
    assert graphs["Mail skipped, by reason"] == [
        "Send_skipped_no_profile",
        "Send_skipped_no_consent",
        "Send_skipped_topic",
        "Send_skipped_suppressed",
        "Send_skipped_duplicate",
        "Send_skipped_cancelled",
    ]
    assert graphs["Mail failed, by reason"] == ["Send_failed_render", "Send_failed_rejected"]
    assert graphs["Mail possibly sent (each needs a look)"] == ["Send_possibly_sent"]
    assert graphs["Mail throttled by SES (deferred)"] == ["Send_deferred_throttled"]
    assert graphs["Clicks: people, machines (by reason), lost"] == [
        "Clicks_human",
        "Clicks_bot_head",
        "Clicks_bot_honeypot",
        "Clicks_bot_user_agent",
        "Clicks_bot_sweep",
        "Clicks_bot_burst",
        "Clicks_lost",
    ]
    assert graphs["Opens recorded / lost"] == ["Opens_recorded", "Opens_lost"]
    titles = {w["properties"].get("title") for w in _dashboard_body(resources)["widgets"]}
    assert {"closedloop alarms", "Invocations", "Duration p95"} <= titles


def test_business_graphs_read_the_service_dimension_the_handlers_emit(resources):
    body = _dashboard_body(resources)
    lines = [line for w in body["widgets"] for line in w["properties"].get("metrics", [])]
    business = [line for line in lines if line[0] == metrics.NAMESPACE]
    assert business
    assert all(line[2:4] == ["service", "closedloop"] for line in business), business


def test_the_sender_outcomes_named_here_are_exactly_those_the_send_gate_reports():
    assert set(metrics.SENDS.outcomes) == {outcome.value for outcome in sending.Outcome}


def test_the_handlers_emit_into_the_namespace_and_service_the_alarms_watch():
    assert (emitted.namespace, emitted.service) == (metrics.NAMESPACE, metrics.SERVICE)


def test_a_metric_name_for_an_outcome_that_does_not_exist_is_refused():
    with pytest.raises(KeyError, match="possibly_lost"):
        metrics.SENDS.name("possibly_lost")
