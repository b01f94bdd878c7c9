"""Every resource declared in infra/wiring.py exists in the template, shaped as the wiring says."""

from __future__ import annotations

import json

import pytest
from aws_cdk import assertions

from infra import wiring
from infra.constructs.functions import SERVICE_ENV
from tests.infra.conftest import role_statements

Match = assertions.Match


def _props(resources: dict, logical_id: str) -> dict:
    return resources[logical_id]["Properties"]


def _of_type(resources: dict, type_: str) -> dict[str, dict]:
    return {key: r.get("Properties", {}) for key, r in resources.items() if r["Type"] == type_}


def _function_id(synthesized, spec: wiring.Function) -> str:
    return synthesized.logical_id(synthesized.stack.functions.by_name[spec.name])


def _refs(value) -> set[str]:
    """Logical ids a template fragment refers to (Ref and Fn::GetAtt)."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value:
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        for item in value.values():
            found |= _refs(item)
    elif isinstance(value, list):
        for item in value:
            found |= _refs(item)
    return found


# --- functions ----------------------------------------------------------------------------------------------


def test_there_is_one_lambda_per_wiring_function(template):
    template.resource_count_is("AWS::Lambda::Function", len(wiring.FUNCTIONS))


@pytest.mark.parametrize("spec", wiring.FUNCTIONS, ids=lambda f: f.name)
def test_each_function_runs_python313_on_arm64_traced_with_json_logs(synthesized, resources, spec):
    props = _props(resources, _function_id(synthesized, spec))
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "handler.handler"
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
    assert props["MemorySize"] == spec.memory_mb
    assert props["Timeout"] == spec.timeout_s
    assert props["Description"] == spec.description


@pytest.mark.parametrize("spec", wiring.FUNCTIONS, ids=lambda f: f.name)
def test_each_function_logs_to_its_own_group_kept_for_a_month(synthesized, resources, spec):
    log_group = _props(resources, _function_id(synthesized, spec))["LoggingConfig"]["LogGroup"]["Ref"]
    assert resources[log_group]["Type"] == "AWS::Logs::LogGroup"
    assert resources[log_group]["Properties"]["RetentionInDays"] == 30


@pytest.mark.parametrize("spec", wiring.FUNCTIONS, ids=lambda f: f.name)
def test_each_function_receives_exactly_its_wiring_variables(synthesized, resources, spec):
    variables = _props(resources, _function_id(synthesized, spec))["Environment"]["Variables"]
    expected = {*wiring.environment_names(spec), *wiring.COMMON_ENV, *SERVICE_ENV}
    assert set(variables) == expected
    assert variables["CONTENT_DIR"] == "/opt/content"
    assert variables["SENDER_ADDRESS"] == "newsletter@example.com"
    assert variables["POWERTOOLS_SERVICE_NAME"] == "closedloop"


@pytest.mark.parametrize("spec", wiring.FUNCTIONS, ids=lambda f: f.name)
def test_resource_variables_point_at_the_resources_they_name(synthesized, resources, spec):
    stack = synthesized.stack
    variables = _props(resources, _function_id(synthesized, spec))["Environment"]["Variables"]
    owners = {
        **{t.env: stack.data.tables[t.id] for t in wiring.TABLES},
        **{q.env: stack.sending.queues[q.id] for q in wiring.QUEUES},
        **{s.env: stack.data.secrets[s.id] for s in wiring.SECRETS},
        **{b.env: stack.buckets.buckets[b.id] for b in wiring.BUCKETS},
        **{a.url_env: stack.apis[a.id].api for a in wiring.APIS if a.url_env},
        wiring.BUS_ENV: stack.bus.bus,
        **{g.group_env: stack.one_time_schedules.groups[g.id] for g in wiring.ONE_TIME_SCHEDULES},
        **{g.role_env: stack.one_time_schedules.roles[g.id] for g in wiring.ONE_TIME_SCHEDULES},
        **{g.target_arn_env: stack.sending.queues[g.target.id] for g in wiring.ONE_TIME_SCHEDULES},
    }
    for name in wiring.environment_names(spec):
        owner = owners[name]
        # An L1 resource (the one-time schedule group) is its own CloudFormation resource.
        expected = stack.resolve(stack.get_logical_id(owner)) if owner.node.default_child is None else None
        assert _refs(variables[name]) == {expected or synthesized.logical_id(owner)}, name


@pytest.mark.parametrize("spec", wiring.FUNCTIONS, ids=lambda f: f.name)
def test_only_content_users_get_the_content_layer(synthesized, resources, spec):
    content = synthesized.logical_id(synthesized.stack.functions._layers.content)
    layers = {layer["Ref"] for layer in _props(resources, _function_id(synthesized, spec))["Layers"]}
    assert len(layers) == 2 + spec.uses_content + spec.uses_pydantic
    assert (content in layers) == spec.uses_content


@pytest.mark.parametrize("spec", wiring.FUNCTIONS, ids=lambda f: f.name)
def test_only_the_admin_api_gets_the_pydantic_layer(synthesized, resources, spec):
    pydantic = synthesized.logical_id(synthesized.stack.functions._layers.pydantic)
    layers = {layer["Ref"] for layer in _props(resources, _function_id(synthesized, spec))["Layers"]}
    assert (pydantic in layers) == (spec.name == "admin-api")


def test_only_the_admin_api_uses_pydantic():
    # The public click path must stay lean: pydantic ships to the admin function alone.
    assert [f.name for f in wiring.FUNCTIONS if f.uses_pydantic] == ["admin-api"]


def test_exactly_the_functions_that_read_templates_or_config_use_content():
    # click and open read config too (the bot rules); threshold-follow-up's event carries
    # the template name and unsubscribe's pages are built in code.
    assert {f.name for f in wiring.FUNCTIONS if f.uses_content} == {
        "click",
        "open",
        "admin-api",
        "sender",
        "reactions",
        "threshold-crossings",
        "birthday",
        "we-miss-you",
        "subscribe",
        "confirm",
        "preferences",
        "import-chunks",  # config: the due dates of the profiles it writes
        "dispatch",  # config: [campaigns] scan segments and page size
    }


def test_no_function_is_told_the_admin_api_url(resources):
    for props in _of_type(resources, "AWS::Lambda::Function").values():
        assert "ADMIN_BASE_URL" not in props["Environment"]["Variables"]
    assert wiring.ADMIN_API.url_env is None


def test_a_function_cannot_know_the_url_of_an_api_without_a_url_variable():
    with pytest.raises(ValueError, match="admin API's URL"):
        wiring.Function(name="x", folder="x", description="x", knows_urls=(wiring.ADMIN_API,))


def test_layers_are_built_for_python313_on_arm64(template):
    template.resource_count_is("AWS::Lambda::LayerVersion", 4)  # shared, dependencies, content, pydantic
    template.all_resources_properties(
        "AWS::Lambda::LayerVersion",
        {"CompatibleRuntimes": ["python3.13"], "CompatibleArchitectures": ["arm64"]},
    )


@pytest.mark.parametrize("spec", wiring.FUNCTIONS, ids=lambda f: f.name)
def test_each_function_can_touch_exactly_the_tables_it_declares(synthesized, resources, spec):
    statements = role_statements(synthesized, resources, spec)
    tables = {synthesized.logical_id(synthesized.stack.data.tables[t.id]): t for t in wiring.TABLES}
    reached = {
        table_id
        for statement in statements
        if any(str(action).startswith("dynamodb:") for action in statement["Action"])
        for table_id in _refs(statement["Resource"]) & set(tables)
    }
    streamed = {spec.stream_trigger.table} if spec.stream_trigger else set()
    assert {tables[t].id for t in reached} == {t.id for t in {*spec.reads, *spec.writes, *streamed}}


# Functions that record activity (closedloop.tracking.record): their transaction may carry a ConditionCheck on the
# profile, which IAM authorises as dynamodb:ConditionCheckItem (part of read grants, not of write grants).
RECORDERS = (wiring.OPEN, wiring.REACTIONS, wiring.ADMIN)


@pytest.mark.parametrize("spec", RECORDERS, ids=lambda f: f.name)
def test_functions_that_record_activity_may_condition_check_profiles(synthesized, resources, spec):
    statements = role_statements(synthesized, resources, spec)
    profiles = synthesized.logical_id(synthesized.stack.data.tables[wiring.PROFILES.id])
    allowed = {
        action
        for statement in statements
        if profiles in _refs(statement["Resource"])
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    }
    assert {"dynamodb:ConditionCheckItem", "dynamodb:UpdateItem"} <= allowed or (
        spec is wiring.OPEN and "dynamodb:ConditionCheckItem" in allowed
    )


def _table_actions(synthesized, resources, spec: wiring.Function, table: wiring.Table) -> set[str]:
    """The DynamoDB actions the function's role allows on the table."""
    statements = role_statements(synthesized, resources, spec)
    table_id = synthesized.logical_id(synthesized.stack.data.tables[table.id])
    return {
        action
        for statement in statements
        if table_id in _refs(statement["Resource"])
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    }


def test_the_admin_function_reads_and_writes_message_status_records_in_the_ledger(synthesized, resources):
    allowed = _table_actions(synthesized, resources, wiring.ADMIN, wiring.LEDGER)
    assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"} <= allowed
    variables = _props(resources, _function_id(synthesized, wiring.ADMIN))["Environment"]["Variables"]
    assert _refs(variables["LEDGER_TABLE"]) == {synthesized.logical_id(synthesized.stack.data.tables["ledger"])}


def test_the_admin_api_answers_a_message_status_by_id(synthesized, resources):
    api_id = synthesized.logical_id(synthesized.stack.apis[wiring.ADMIN_API.id].api)
    routes = {
        props["RouteKey"]
        for props in _of_type(resources, "AWS::ApiGatewayV2::Route").values()
        if props["ApiId"] == {"Ref": api_id}
    }
    assert "GET /v1/messages/{message_id}" in routes


def test_only_the_sender_may_send_email_and_never_on_a_wildcard(resources):
    senders = []
    for key, props in _of_type(resources, "AWS::IAM::Policy").items():
        for statement in props["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(action.startswith("ses:") and action != "ses:GetAccount" for action in actions):
                senders.append(key)
                assert "*" not in json.dumps(statement["Resource"])
    assert len(senders) == len([f for f in wiring.FUNCTIONS if f.sends_email])


# --- tables ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", wiring.TABLES, ids=lambda t: t.id)
def test_each_table_is_on_demand_with_point_in_time_recovery(synthesized, resources, spec):
    props = _props(resources, synthesized.logical_id(synthesized.stack.data.tables[spec.id]))
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    keys = {key["AttributeName"]: key["KeyType"] for key in props["KeySchema"]}
    assert keys == {spec.partition_key: "HASH", **({spec.sort_key: "RANGE"} if spec.sort_key else {})}


@pytest.mark.parametrize("spec", wiring.TABLES, ids=lambda t: t.id)
def test_each_table_has_the_declared_indexes_and_ttl(synthesized, resources, spec):
    props = _props(resources, synthesized.logical_id(synthesized.stack.data.tables[spec.id]))
    indexes = {
        index["IndexName"]: (
            {key["AttributeName"]: key["KeyType"] for key in index["KeySchema"]},
            index["Projection"]["ProjectionType"],
        )
        for index in props.get("GlobalSecondaryIndexes", [])
    }
    assert indexes == {
        index.name: ({index.partition_key: "HASH", index.sort_key: "RANGE"}, index.projection) for index in spec.indexes
    }
    if spec.ttl_attribute:
        assert props["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in props


def test_the_profiles_table_outlives_the_stack(synthesized, resources):
    table = resources[synthesized.logical_id(synthesized.stack.data.tables[wiring.PROFILES.id])]
    assert table["DeletionPolicy"] == "Retain"


# --- queues ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", wiring.QUEUES, ids=lambda q: q.id)
def test_each_queue_parks_poison_messages_in_its_dlq(synthesized, resources, spec):
    queue = synthesized.stack.sending.queues[spec.id]
    props = _props(resources, synthesized.logical_id(queue))
    dlq = synthesized.logical_id(synthesized.stack.sending.dead_letter_queues[spec.id])
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
        "maxReceiveCount": spec.max_receive_count,
    }


@pytest.mark.parametrize("spec", wiring.QUEUES, ids=lambda q: q.id)
def test_each_queue_stays_invisible_through_six_consumer_timeouts(synthesized, resources, spec):
    props = _props(resources, synthesized.logical_id(synthesized.stack.sending.queues[spec.id]))
    assert props["VisibilityTimeout"] >= wiring.VISIBILITY_TIMEOUT_FACTOR * wiring.consumer_of(spec).timeout_s
    assert wiring.VISIBILITY_TIMEOUT_FACTOR >= 6


def test_every_queue_is_encrypted_and_refuses_plain_http(template, resources):
    queues = _of_type(resources, "AWS::SQS::Queue")
    assert all(props.get("SqsManagedSseEnabled") for props in queues.values())
    tls_only = set()
    for props in _of_type(resources, "AWS::SQS::QueuePolicy").values():
        for statement in props["PolicyDocument"]["Statement"]:
            denies_http = statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
            if denies_http and statement["Effect"] == "Deny":
                tls_only |= _refs(props["Queues"])
    assert tls_only == set(queues)


@pytest.mark.parametrize("spec", [f for f in wiring.FUNCTIONS if f.queue_trigger], ids=lambda f: f.name)
def test_each_queue_consumer_reports_partial_batch_failures_with_bounded_concurrency(synthesized, template, spec):
    trigger = spec.queue_trigger
    queue = synthesized.logical_id(synthesized.stack.sending.queues[trigger.queue.id])
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [queue, "Arn"]},
            "FunctionName": {"Ref": _function_id(synthesized, spec)},
            "BatchSize": trigger.batch_size,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": trigger.max_concurrency},
        },
    )


@pytest.mark.parametrize("spec", [f for f in wiring.FUNCTIONS if f.stream_trigger], ids=lambda f: f.name)
def test_each_stream_consumer_retries_in_order_then_parks_the_batch(synthesized, template, spec):
    trigger = spec.stream_trigger
    table = synthesized.logical_id(synthesized.stack.data.tables[trigger.table.id])
    dlq = synthesized.logical_id(synthesized.stack.streams.dead_letters)
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [table, "StreamArn"]},
            "FunctionName": {"Ref": _function_id(synthesized, spec)},
            "BatchSize": trigger.batch_size,
            "MaximumRetryAttempts": trigger.max_retries,
            "ParallelizationFactor": 1,
            "BisectBatchOnFunctionError": True,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "StartingPosition": "TRIM_HORIZON",
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [dlq, "Arn"]}}},
        },
    )


@pytest.mark.parametrize("spec", wiring.TABLES, ids=lambda t: t.id)
def test_a_table_has_a_stream_exactly_when_declared(synthesized, resources, spec):
    props = _props(resources, synthesized.logical_id(synthesized.stack.data.tables[spec.id]))
    assert props.get("StreamSpecification") == ({"StreamViewType": spec.stream} if spec.stream else None)


def test_there_is_one_event_source_mapping_per_queue_or_stream_trigger(template):
    template.resource_count_is(
        "AWS::Lambda::EventSourceMapping", len([f for f in wiring.FUNCTIONS if f.queue_trigger or f.stream_trigger])
    )


# --- bus, schedules -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [f for f in wiring.FUNCTIONS if f.rule_trigger], ids=lambda f: f.name)
def test_each_rule_delivers_its_detail_types_to_its_function_with_a_dlq(synthesized, template, spec):
    on_own_bus = spec.rule_trigger.bus == wiring.CLOSEDLOOP_BUS
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            # No EventBusName: the account's default bus.
            "EventBusName": {"Ref": synthesized.logical_id(synthesized.stack.bus.bus)}
            if on_own_bus
            else Match.absent(),
            "EventPattern": {"source": [spec.rule_trigger.source], "detail-type": list(spec.rule_trigger.detail_types)},
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {"Fn::GetAtt": [_function_id(synthesized, spec), "Arn"]},
                        "DeadLetterConfig": Match.object_like({"Arn": Match.any_value()}),
                        "RetryPolicy": Match.object_like({"MaximumRetryAttempts": Match.any_value()}),
                    }
                )
            ],
        },
    )


def _rule_for(synthesized, template, spec: wiring.Function) -> dict:
    target = {"Fn::GetAtt": [_function_id(synthesized, spec), "Arn"]}
    (rule,) = [
        r
        for r in template.find_resources("AWS::Events::Rule").values()
        if r["Properties"]["Targets"][0]["Arn"] == target
    ]
    return rule["Properties"]


def test_the_threshold_follow_up_listens_for_threshold_crossed(synthesized, template):
    rule = _rule_for(synthesized, template, wiring.THRESHOLD_FOLLOW_UP)
    assert rule["EventPattern"] == {"source": ["closedloop"], "detail-type": ["threshold.crossed"]}
    assert rule["EventBusName"] == {"Ref": synthesized.logical_id(synthesized.stack.bus.bus)}


def test_ses_feedback_reaches_the_feedback_function_from_the_default_bus(synthesized, template):
    rule = _rule_for(synthesized, template, wiring.FEEDBACK)
    # SES publishes configuration-set events to the default bus only: a rule on closedloop's bus would hear nothing.
    assert "EventBusName" not in rule
    assert rule["EventPattern"] == {
        "source": ["aws.ses"],
        "detail-type": [
            "Email Bounced",
            "Email Complaint Received",
            "Email Delivered",
            "Email Rejected",
            "Email Delivery Delayed",
        ],
    }


def test_a_rule_names_a_known_bus():
    with pytest.raises(ValueError, match="bus must be"):
        wiring.RuleTrigger(id="x", detail_types=("y",), bus="elsewhere")


@pytest.mark.parametrize("spec", [f for f in wiring.FUNCTIONS if f.schedule], ids=lambda f: f.name)
def test_each_schedule_invokes_its_function_in_its_time_zone(synthesized, template, spec):
    template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": spec.schedule.expression,
            "ScheduleExpressionTimezone": spec.schedule.timezone,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": Match.object_like(
                {
                    "Arn": {"Fn::GetAtt": [_function_id(synthesized, spec), "Arn"]},
                    "Input": json.dumps({"schedule": spec.schedule.name}, separators=(",", ":")),
                    "DeadLetterConfig": {"Arn": Match.any_value()},
                    "RetryPolicy": Match.object_like({"MaximumRetryAttempts": Match.any_value()}),
                }
            ),
        },
    )


def test_there_is_one_schedule_per_scheduled_function(template):
    template.resource_count_is("AWS::Scheduler::Schedule", len(wiring.schedules()))


# --- secrets ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", wiring.SECRETS, ids=lambda s: s.id)
def test_each_secret_is_generated_in_its_declared_shape(synthesized, resources, spec):
    props = _props(resources, synthesized.logical_id(synthesized.stack.data.secrets[spec.id]))
    assert props["GenerateSecretString"] == {
        "SecretStringTemplate": spec.template,
        "GenerateStringKey": spec.generated_key,
        "ExcludePunctuation": True,
        "PasswordLength": 48,
    }


# --- HTTP APIs -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("api", wiring.APIS, ids=lambda a: a.id)
def test_each_api_has_exactly_the_wiring_routes(synthesized, resources, api):
    api_id = synthesized.logical_id(synthesized.stack.apis[api.id].api)
    routes = {
        props["RouteKey"]
        for props in _of_type(resources, "AWS::ApiGatewayV2::Route").values()
        if props["ApiId"] == {"Ref": api_id}
    }
    assert routes == {f"{r.method} {r.path}" for f in wiring.FUNCTIONS for r in f.routes if r.api == api}


@pytest.mark.parametrize("api", wiring.APIS, ids=lambda a: a.id)
def test_each_route_reaches_its_function_with_payload_v2(synthesized, resources, api):
    integrations = _of_type(resources, "AWS::ApiGatewayV2::Integration")
    for spec in wiring.FUNCTIONS:
        for route in (r for r in spec.routes if r.api == api):
            (props,) = [
                p
                for p in _of_type(resources, "AWS::ApiGatewayV2::Route").values()
                if p["RouteKey"] == f"{route.method} {route.path}"
                and p["ApiId"] == {"Ref": synthesized.logical_id(synthesized.stack.apis[api.id].api)}
            ]
            integration = integrations[props["Target"]["Fn::Join"][1][1]["Ref"]]
            assert integration["PayloadFormatVersion"] == "2.0"
            assert _refs(integration["IntegrationUri"]) == {_function_id(synthesized, spec)}


def test_both_apis_log_access_as_json_and_throttle(resources):
    stages = _of_type(resources, "AWS::ApiGatewayV2::Stage")
    assert len(stages) == len(wiring.APIS)
    for props in stages.values():
        assert props["StageName"] == "$default"
        assert json.loads(props["AccessLogSettings"]["Format"])["routeKey"] == "$context.routeKey"
        assert props["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0


def test_the_sender_links_point_at_the_tracking_api(synthesized, resources):
    variables = _props(resources, _function_id(synthesized, wiring.SENDER))["Environment"]["Variables"]
    assert variables["TRACKING_BASE_URL"] == {
        "Fn::GetAtt": [synthesized.logical_id(synthesized.stack.apis[wiring.TRACKING_API.id].api), "ApiEndpoint"]
    }


# --- SES ------------------------------------------------------------------------------------------------------


def test_mail_goes_through_the_configured_configuration_set(template):
    template.has_resource_properties("AWS::SES::ConfigurationSet", {"Name": "closedloop"})
    template.has_resource_properties(
        "AWS::SES::ConfigurationSetEventDestination",
        {"EventDestination": Match.object_like({"MatchingEventTypes": Match.array_with(["bounce", "complaint"])})},
    )


def test_the_feedback_function_may_touch_only_profiles_and_the_ledger(synthesized, resources):
    statements = role_statements(synthesized, resources, wiring.FEEDBACK)
    actions = {
        str(action)
        for statement in statements
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    }
    services = {action.split(":")[0] for action in actions}
    # X-Ray and logs come with every function; SQS only to park failed asynchronous invocations in the bus's DLQ.
    assert services <= {"dynamodb", "xray", "logs", "sqs"}, services
    assert {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:DeleteItem"} <= actions
    assert not {a for a in actions if a.startswith("sqs:") and a.startswith(("sqs:Receive", "sqs:Delete"))}
