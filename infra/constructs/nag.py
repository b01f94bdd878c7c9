"""cdk-nag acknowledgements in one shape: a rule id, a reason, the narrowest construct it applies to."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding (e.g. "AwsSolutions-L1", "AwsSolutions-IAM5[Resource::*]") on a construct."""
    if len(reason) < 20:
        raise ValueError(f"an acknowledgement of {rule} needs a real reason, got {reason!r}")
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


def arn_placeholder(resource: IConstruct) -> str:
    """How cdk-nag prints a resource's ARN inside a finding id: <LogicalId.Arn>."""
    stack = Stack.of(resource)
    logical_id = stack.resolve(stack.get_logical_id(resource.node.default_child))
    return f"<{logical_id}.Arn>"
