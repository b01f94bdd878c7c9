"""Deployer choices from cdk.json context: sender identity, configuration set, a custom tracking domain."""

from __future__ import annotations

import pytest
from aws_cdk import App, assertions

from infra import wiring
from infra.app import build_app
from infra.stack import DeploySettings
from tests.infra.conftest import cdk_json_context

Match = assertions.Match

CUSTOM = {
    "closedloop:sender": "news@mail.example.org",
    "closedloop:senderDomain": "mail.example.org",
    "closedloop:configurationSet": "closedloop-prod",
    "closedloop:trackingDomain": "t.example.org",
    "closedloop:trackingCertificateArn": "arn:aws:acm:eu-central-1:111122223333:certificate/0000-1111",
}


@pytest.fixture(scope="module")
def custom(tmp_path_factory: pytest.TempPathFactory) -> assertions.Template:
    app, stack = build_app(context={**cdk_json_context(), **CUSTOM}, outdir=str(tmp_path_factory.mktemp("custom")))
    app.synth()  # cdk-nag passes with the optional resources too
    return assertions.Template.from_stack(stack)


def test_a_sender_domain_becomes_an_ses_identity_with_easy_dkim(custom):
    custom.has_resource_properties(
        "AWS::SES::EmailIdentity",
        {"EmailIdentity": "mail.example.org", "DkimSigningAttributes": Match.absent()},
    )


def test_the_configuration_set_takes_its_name_from_context(custom):
    custom.has_resource_properties("AWS::SES::ConfigurationSet", {"Name": "closedloop-prod"})


def test_a_tracking_domain_is_mapped_and_used_for_links(custom):
    custom.has_resource_properties("AWS::ApiGatewayV2::DomainName", {"DomainName": "t.example.org"})
    custom.resource_count_is("AWS::ApiGatewayV2::ApiMapping", 1)
    custom.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Description": wiring.SENDER.description,
            "Environment": {"Variables": Match.object_like({"TRACKING_BASE_URL": "https://t.example.org"})},
        },
    )


def test_the_sender_may_send_from_its_domain_identity(custom):
    custom.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": ["ses:SendEmail", "ses:SendRawEmail"],
                                "Resource": Match.array_with(
                                    [
                                        {
                                            "Fn::Join": [
                                                "",
                                                Match.array_with([":identity/mail.example.org"]),
                                            ]
                                        }
                                    ]
                                ),
                            }
                        )
                    ]
                )
            }
        },
    )


def test_defaults_apply_without_context():
    settings = DeploySettings.from_context(App())
    assert settings == DeploySettings()
    assert settings.sender == "newsletter@example.com"
    assert settings.configuration_set == "closedloop"


@pytest.mark.parametrize(
    "context",
    [
        {"closedloop:sender": "Newsletter <news@example.org>"},
        {"closedloop:sender": "news@example.org\r\nBcc: x@example.org"},
        {"closedloop:sender": "not-an-address"},
        {"closedloop:sender": "news@example.org", "closedloop:senderDomain": "example.com"},
    ],
)
def test_an_unusable_sender_is_refused_before_anything_is_built(context):
    with pytest.raises(ValueError, match="closedloop:sender"):
        DeploySettings.from_context(App(context=context))
