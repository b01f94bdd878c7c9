"""An API Gateway HTTP API per wiring.Api (tracking: public; admin: key checked in the function)."""

from __future__ import annotations

import json

from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import wiring
from infra.constructs.nag import acknowledge

# Fields of the JSON access log. No source IP, user agent or raw path: the path holds the signed token, and the
# rest is personal data we do not need (principle 9). The route key names the route without its parameters.
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "latencyMs": "$context.responseLatency",
    "integrationLatencyMs": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
}
# Stage-wide defaults; a burst of scanner clicks fits, a flood is turned away before it reaches Lambda.
THROTTLE = {wiring.TRACKING_API.id: (500, 1000), wiring.ADMIN_API.id: (100, 200)}
DEFAULT_THROTTLE = (100, 200)

_AUTHORIZATION_REASONS = {
    True: "Public by design: recipients follow these links from e-mail without credentials. Every token is "
    "HMAC-SHA256 signed with a key id and checked in the function; a bad token gets 404.",
    False: "Authenticated in the function: it compares the bearer API key from the api-key secret in constant "
    "time and answers 401 for a missing or wrong key, identically in the cloud and in the local runtime.",
}


class HttpApi(Construct):
    """One HTTP API with a logged, throttled $default stage; `add_route` integrates a function (payload 2.0)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: wiring.Api,
        domain_name: str | None = None,
        certificate_arn: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.spec = spec
        domain_mapping = None
        if domain_name and certificate_arn:
            self.domain = apigwv2.DomainName(
                self,
                "Domain",
                domain_name=domain_name,
                certificate=acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn),
            )
            domain_mapping = apigwv2.DomainMappingOptions(domain_name=self.domain)
        self.api = apigwv2.HttpApi(
            self,
            "Api",
            description=f"closedloop {spec.id} API",
            create_default_stage=True,
            default_domain_mapping=domain_mapping,
        )
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=logs.RetentionDays.ONE_MONTH)
        rate, burst = THROTTLE.get(spec.id, DEFAULT_THROTTLE)
        stage: apigwv2.CfnStage = self.api.default_stage.node.default_child
        stage.access_log_settings = apigwv2.CfnStage.AccessLogSettingsProperty(
            destination_arn=self.access_logs.log_group_arn, format=json.dumps(ACCESS_LOG_FORMAT)
        )
        stage.default_route_settings = apigwv2.CfnStage.RouteSettingsProperty(
            throttling_rate_limit=rate, throttling_burst_limit=burst
        )
        # Links point at the custom domain when there is one, so they survive re-creating the API.
        self.url = f"https://{domain_name}" if domain_name else self.api.api_endpoint
        self._integrations: dict[str, integrations.HttpLambdaIntegration] = {}

    def add_route(
        self, route: wiring.Route, spec: wiring.Function, function: lambda_.IFunction
    ) -> list[apigwv2.HttpRoute]:
        """Route method+path to the function; one integration per function, shared by its routes."""
        key = spec.name
        if key not in self._integrations:
            self._integrations[key] = integrations.HttpLambdaIntegration(
                f"{key}-integration", function, payload_format_version=apigwv2.PayloadFormatVersion.VERSION_2_0
            )
        routes = self.api.add_routes(
            path=route.path,
            methods=[apigwv2.HttpMethod(route.method)],
            integration=self._integrations[key],
        )
        for http_route in routes:
            acknowledge(http_route, "AwsSolutions-APIG4", _AUTHORIZATION_REASONS[self.spec.public])
        return routes
