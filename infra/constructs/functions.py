"""The Lambda functions of infra/wiring.py and their layers, with the defaults every function shares set once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import AssetHashType, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import layers as layer_builds
from infra import metrics, wiring
from infra.constructs.nag import acknowledge

FUNCTIONS_DIR = layer_builds.ROOT / "functions"
CONTENT_DIR = "/opt/content"
RUNTIME = lambda_.Runtime.PYTHON_3_13
# The namespace and `service` dimension the business alarms and graphs expect (infra/metrics.py).
SERVICE_ENV = {"POWERTOOLS_SERVICE_NAME": metrics.SERVICE, "POWERTOOLS_METRICS_NAMESPACE": metrics.NAMESPACE}

# Every function: Python 3.13 on Graviton, JSON logs into its own log group, X-Ray active tracing.
LAMBDA_DEFAULTS = dict(
    runtime=RUNTIME,
    architecture=lambda_.Architecture.ARM_64,
    handler="handler.handler",
    tracing=lambda_.Tracing.ACTIVE,
    logging_format=lambda_.LoggingFormat.JSON,
    application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
    system_log_level_v2=lambda_.SystemLogLevel.WARN,
)
LOG_RETENTION = logs.RetentionDays.ONE_MONTH


class Layers(Construct):
    """Shared code (the closedloop package), third-party dependencies, pydantic (the admin API only), and content
    (templates, config).

    The content is checked as it is staged: broken content stops synthesis with the checker's sentence.
    """

    def __init__(self, scope: Construct, id: str, *, content_root: Path = layer_builds.ROOT) -> None:
        super().__init__(scope, id)
        common = dict(compatible_runtimes=[RUNTIME], compatible_architectures=[lambda_.Architecture.ARM_64])
        self.shared = lambda_.LayerVersion(
            self,
            "Shared",
            description="closedloop domain package (/opt/python/closedloop)",
            code=lambda_.Code.from_asset(str(layer_builds.shared_code()), exclude=layer_builds.ASSET_EXCLUDES),
            **common,
        )
        self.dependencies = lambda_.LayerVersion(
            self,
            "Dependencies",
            description="Powertools, PynamoDB, Jinja2, tzdata for python3.13 arm64 (layers/requirements.txt)",
            # Hashing 12 MB on every synth is wasted work: the requirements hash names the content.
            code=lambda_.Code.from_asset(
                str(layer_builds.build_dependencies()),
                asset_hash_type=AssetHashType.CUSTOM,
                asset_hash=layer_builds.requirements_hash(),
            ),
            **common,
        )
        self.pydantic = lambda_.LayerVersion(
            self,
            "Pydantic",
            description="pydantic for python3.13 arm64, the admin API only (layers/requirements-pydantic.txt)",
            code=lambda_.Code.from_asset(
                str(layer_builds.build_pydantic()),
                asset_hash_type=AssetHashType.CUSTOM,
                asset_hash=layer_builds.pydantic_requirements_hash(),
            ),
            **common,
        )
        self.content = lambda_.LayerVersion(
            self,
            "Content",
            description="templates/ and config/ (/opt/content)",
            code=lambda_.Code.from_asset(str(layer_builds.build_content(root=content_root))),
            **common,
        )


class Functions(Construct):
    """One function per wiring.Function, each with its own role and log group; `by_name` keyed by wiring name."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        layers: Layers,
        environment: Mapping[str, str],
        specs: Sequence[wiring.Function] = wiring.FUNCTIONS,
    ) -> None:
        super().__init__(scope, id)
        self._layers = layers
        self._environment = environment
        self.by_name: dict[str, lambda_.Function] = {spec.name: self._function(spec) for spec in specs}

    def _function(self, spec: wiring.Function) -> lambda_.Function:
        folder = FUNCTIONS_DIR / spec.folder
        if not folder.is_dir():
            raise FileNotFoundError(f"functions/{spec.folder}/ is missing: wiring declares {spec.name!r} there")
        scope = Construct(self, spec.name)
        log_group = logs.LogGroup(scope, "Logs", retention=LOG_RETENTION)
        role = iam.Role(
            scope,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"closedloop {spec.name}: only what infra/wiring.py declares",
        )
        # Instead of the AWSLambdaBasicExecutionRole managed policy: write to its own log group only.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]
            )
        )
        function = lambda_.Function(
            scope,
            "Function",
            **LAMBDA_DEFAULTS,
            code=lambda_.Code.from_asset(str(folder), exclude=layer_builds.ASSET_EXCLUDES),
            description=spec.description,
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_s),
            role=role,
            log_group=log_group,
            layers=self._layers_for(spec),
            environment=self._environment_for(spec),
        )
        acknowledge(
            function,
            "AwsSolutions-L1",
            "Pinned to python3.13 by design: the dependency layer is built for cp313/arm64 and the code is tested "
            "on it; moving to a newer runtime is a deliberate change of layers/requirements.txt and this pin.",
        )
        wildcard = "X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords take no resource ARN."
        if spec.stream_trigger:
            wildcard += " The stream event source's dynamodb:ListStreams has no resource-level permissions either."
        if spec.reads_send_quota:
            wildcard += " ses:GetAccount (the account's send quota) has no resource-level permissions either."
        acknowledge(role.node.find_child("DefaultPolicy"), "AwsSolutions-IAM5[Resource::*]", wildcard)
        return function

    def _layers_for(self, spec: wiring.Function) -> list[lambda_.ILayerVersion]:
        chosen = [self._layers.dependencies, self._layers.shared]
        if spec.uses_content:
            chosen.append(self._layers.content)
        if spec.uses_pydantic:
            chosen.append(self._layers.pydantic)
        return chosen

    def _environment_for(self, spec: wiring.Function) -> dict[str, str]:
        names = {**wiring.environment_names(spec), **{name: name for name in wiring.COMMON_ENV}}
        missing = sorted(set(names) - set(self._environment))
        if missing:
            raise KeyError(f"{spec.name}: no value for {', '.join(missing)}; the stack must resolve every variable")
        return {**SERVICE_ENV, **{name: self._environment[name] for name in sorted(names)}}
