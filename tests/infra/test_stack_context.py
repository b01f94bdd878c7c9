"""Deployer choices from cdk.json context: sender identity, configuration set, a custom tracking domain."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, assertions

from infra import wiring
from infra.app import build_app
from infra.stack import DeploySettings
from tests.infra.conftest import cdk_json_context

Match = assertions.Match

CUSTOM = {
    "closedloop:sender": '"Example News" <news@mail.example.org>',
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


def test_mail_is_sent_from_the_whole_from_value_display_name_included(custom):
    custom.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Description": wiring.SENDER.description,
            "Environment": {
                "Variables": Match.object_like({"SENDER_ADDRESS": '"Example News" <news@mail.example.org>'})
            },
        },
    )


def test_ses_permissions_name_the_address_never_the_display_name(custom):
    (statement,) = [
        statement
        for policy in custom.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == ["ses:SendEmail", "ses:SendRawEmail"]
    ]
    identities = [
        "".join(part for part in resource["Fn::Join"][1] if isinstance(part, str)).rpartition(":identity/")[2]
        for resource in statement["Resource"]
        if ":identity/" in json.dumps(resource)
    ]
    assert identities == ["news@mail.example.org", "mail.example.org"]


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
    assert settings.sender_address == "newsletter@example.com"
    assert settings.configuration_set == "closedloop"


@pytest.mark.parametrize(
    "sender",
    [
        "newsletter@example.com",
        '"closedloop" <newsletter@example.com>',
        "closedloop <newsletter@example.com>",
        '"closedloop, the shop" <newsletter@example.com>',
        "Ünïcode Läden <newsletter@example.com>",
    ],
)
def test_a_sender_may_carry_a_display_name(sender):
    settings = DeploySettings.from_context(
        App(context={"closedloop:sender": sender, "closedloop:senderDomain": "example.com"})
    )
    assert settings.sender == sender
    assert settings.sender_address == "newsletter@example.com"


def test_the_sender_domain_is_compared_with_the_address_not_the_display_name():
    context = {"closedloop:sender": "example.com <news@example.org>", "closedloop:senderDomain": "example.com"}
    with pytest.raises(ValueError, match="'news@example.org' is not an address of closedloop:senderDomain"):
        DeploySettings.from_context(App(context=context))


@pytest.mark.parametrize(
    "sender",
    [
        "news@example.org\r\nBcc: x@example.org",
        "closedloop\n <news@example.org>",
        "closed\u2028loop <news@example.org>",  # a line separator: str.splitlines() splits on it
        "closed\x85loop <news@example.org>",  # NEL, likewise
        "closed\x0bloop <news@example.org>",  # vertical tab, likewise
        "not-an-address",
        "closedloop",
        "closedloop <>",
        "closedloop news@example.org",
        "closedloop <news@example.org",
        "closedloop <news@example.org> trailing",
        "news@example.org, other@example.org",
        "a <news@example.org>, b <news@example.org>",
        "closedloop <news@localhost>",
    ],
)
def test_an_unusable_sender_is_refused_before_anything_is_built(sender):
    with pytest.raises(ValueError, match="closedloop:sender"):
        DeploySettings.from_context(App(context={"closedloop:sender": sender}))


def test_a_sender_outside_the_sender_domain_is_refused():
    context = {"closedloop:sender": "news@example.org", "closedloop:senderDomain": "example.com"}
    with pytest.raises(ValueError, match="closedloop:sender 'news@example.org' is not an address of"):
        DeploySettings.from_context(App(context=context))
