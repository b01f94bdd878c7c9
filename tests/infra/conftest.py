"""Synthesize the closedloop app once per session, with cdk.json's context and the cdk-nag checks on.

Synthesis is slow (a jsii round trip per construct), so every infra test shares this one assembly.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from aws_cdk import App, Stack, assertions  # noqa: E402
from aws_cdk.cx_api import CloudAssembly  # noqa: E402

from infra import wiring  # noqa: E402
from infra.app import build_app  # noqa: E402
from infra.stack import ClosedloopStack  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def cdk_json_context() -> dict:
    """The context a deploy uses, so the tests synthesize what `cdk synth` does."""
    return json.loads((ROOT / "cdk.json").read_text())["context"]


@dataclass(frozen=True)
class Synthesized:
    app: App
    stack: ClosedloopStack
    assembly: CloudAssembly
    outdir: Path

    @property
    def template_file(self) -> Path:
        return self.outdir / self.stack.template_file

    def logical_id(self, construct) -> str:
        """The template's logical id of an L2 construct's CloudFormation resource."""
        stack = Stack.of(construct)
        return stack.resolve(stack.get_logical_id(construct.node.default_child))


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app, stack = build_app(context=cdk_json_context(), outdir=str(outdir))
    # Raises if cdk-nag reports an unacknowledged finding.
    assembly = app.synth()
    return Synthesized(app=app, stack=stack, assembly=assembly, outdir=outdir)


@pytest.fixture(scope="session")
def template(synthesized: Synthesized) -> assertions.Template:
    return assertions.Template.from_stack(synthesized.stack)


@pytest.fixture(scope="session")
def resources(synthesized: Synthesized) -> dict:
    """The synthesized template's Resources section as plain JSON."""
    return json.loads(synthesized.template_file.read_text())["Resources"]


def role_statements(synthesized, resources: dict, function: wiring.Function) -> list[dict]:
    """Every statement a function's role is given: its default policy and, when that grows past IAM's size limit,
    the managed overflow policies CDK splits the rest into."""
    role = synthesized.stack.functions.by_name[function.name].role
    policies = [child for child in role.node.children if child.node.id.startswith(("DefaultPolicy", "OverflowPolicy"))]
    return [
        statement
        for policy in policies
        for statement in resources[synthesized.logical_id(policy)]["Properties"]["PolicyDocument"]["Statement"]
    ]
