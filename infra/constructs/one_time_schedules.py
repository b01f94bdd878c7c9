"""One-time EventBridge Scheduler schedules (a campaign's send_at, A/B wait, stages): per wiring.OneTimeSchedules a
schedule group and the role its schedules assume to put their job on the target queue. Functions that create
schedules get scheduler:CreateSchedule/DeleteSchedule on that group's schedules and iam:PassRole on that role only.
"""

from __future__ import annotations

from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import wiring
from infra.constructs.nag import acknowledge


class OneTimeScheduleGroups(Construct):
    def __init__(self, scope: Construct, id: str, *, queues: dict[str, sqs.IQueue]) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.groups: dict[str, scheduler.CfnScheduleGroup] = {}
        self.roles: dict[str, iam.Role] = {}
        for spec in wiring.ONE_TIME_SCHEDULES:
            group = scheduler.CfnScheduleGroup(self, f"{spec.id}-group", name=f"{stack.stack_name}-{spec.id}")
            role = iam.Role(
                self,
                f"{spec.id}-role",
                description=f"EventBridge Scheduler: put the {spec.id} one-time schedules' jobs on {spec.target.id}",
                assumed_by=iam.ServicePrincipal(
                    "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
                ),
            )
            queues[spec.target.id].grant_send_messages(role)
            self.groups[spec.id], self.roles[spec.id] = group, role

    def environment(self, queues: dict[str, sqs.IQueue]) -> dict[str, str]:
        """The variables wiring.environment_names gives a function that creates schedules."""
        values: dict[str, str] = {}
        for spec in wiring.ONE_TIME_SCHEDULES:
            values[spec.group_env] = self.groups[spec.id].ref  # Ref: the group's name
            values[spec.role_env] = self.roles[spec.id].role_arn
            values[spec.target_arn_env] = queues[spec.target.id].queue_arn
        return values

    def grant(self, spec: wiring.Function, function: lambda_.Function) -> None:
        stack = Stack.of(self)
        for group_spec in spec.creates_schedules:
            group = self.groups[group_spec.id]
            schedules = f"arn:{Aws.PARTITION}:scheduler:{Aws.REGION}:{Aws.ACCOUNT_ID}:schedule/{group.ref}/*"
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["scheduler:CreateSchedule", "scheduler:DeleteSchedule"], resources=[schedules]
                )
            )
            function.add_to_role_policy(
                iam.PolicyStatement(actions=["iam:PassRole"], resources=[self.roles[group_spec.id].role_arn])
            )
            acknowledge(
                function.role,
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:"
                f"schedule/<{stack.resolve(stack.get_logical_id(group))}>/*]",
                f"Create and delete one-time schedules in the {group_spec.id} schedule group only (names are made "
                "per campaign at run time).",
            )
