"""Data at rest: the DynamoDB tables and the Secrets Manager secrets declared in infra/wiring.py."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import wiring
from infra.constructs.nag import acknowledge

# Tables whose loss is the loss of the business: kept when the stack is deleted. The others hold derived,
# TTL-bound data (activity, the idempotency ledger) and go with the stack.
RETAINED_TABLES = frozenset({wiring.PROFILES.id})

_PROJECTIONS = {
    "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
    "ALL": dynamodb.ProjectionType.ALL,
}

SECRET_LENGTH = 48

# Why each secret is rotated by hand (README "Rotating keys" says how); a new secret must state its own reason here.
_MANUAL_ROTATION = {
    wiring.TRACKING_KEYS.id: "Rotated by hand on purpose: the secret holds keys by key id, so an operator adds a "
    "new key, makes it current and removes the old one once its links have aged out. An automatic rotation would "
    "replace the key in place and turn every link already sent into a 404.",
    wiring.API_KEY.id: "Rotated by hand on purpose: integrators (shop, CRM) hold this key; an automatic rotation "
    "would lock them out without notice. The operator rotates it together with them (README, 'Rotating keys').",
    wiring.ERASURE_KEY.id: "Rotated by hand on purpose: erased addresses stay on the suppression list as HMACs under "
    "this key; an automatic rotation would replace the key in place and let every erased person be imported and "
    "mailed again. An operator adds a key id and makes it current, and keeps every old id for good.",
}


def _string_key(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class Data(Construct):
    """Tables (on demand, point-in-time recovery) and generated secrets, keyed by their wiring ids."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        tables: Sequence[wiring.Table] = wiring.TABLES,
        secrets: Sequence[wiring.Secret] = wiring.SECRETS,
    ) -> None:
        super().__init__(scope, id)
        self.tables: dict[str, dynamodb.Table] = {table.id: self._table(table) for table in tables}
        self.secrets: dict[str, secretsmanager.Secret] = {secret.id: self._secret(secret) for secret in secrets}

    def _table(self, spec: wiring.Table) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            spec.id,
            partition_key=_string_key(spec.partition_key),
            sort_key=_string_key(spec.sort_key) if spec.sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=spec.ttl_attribute,
            stream=dynamodb.StreamViewType[spec.stream] if spec.stream else None,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN if spec.id in RETAINED_TABLES else RemovalPolicy.DESTROY,
        )
        for index in spec.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_string_key(index.partition_key),
                sort_key=_string_key(index.sort_key),
                projection_type=_PROJECTIONS[index.projection],
            )
        return table

    def _secret(self, spec: wiring.Secret) -> secretsmanager.Secret:
        secret = secretsmanager.Secret(
            self,
            spec.id,
            description=f"closedloop {spec.id}: JSON {spec.template} plus the generated key {spec.generated_key!r}",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=spec.template,
                generate_string_key=spec.generated_key,
                exclude_punctuation=True,
                password_length=SECRET_LENGTH,
            ),
        )
        acknowledge(secret, "AwsSolutions-SMG4", _MANUAL_ROTATION[spec.id])
        return secret
