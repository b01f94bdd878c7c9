"""cdk-nag (AWS Solutions) runs at synthesis and fails it on any finding that is not acknowledged with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App, Validations

from infra.app import build_app
from tests.infra.conftest import Synthesized, cdk_json_context

ACKNOWLEDGED = Validations.ACKNOWLEDGED_RULES_METADATA_KEY


def acknowledgements(app: App) -> list[tuple[str, str, str]]:
    """(construct path, rule id, reason) of every acknowledgement in the app."""
    found = []
    for construct in app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == ACKNOWLEDGED:
                for rule, reason in entry.data.items():
                    found.append((construct.node.path, rule.removeprefix("Annotation::"), reason))
    return found


def violations(outdir: Path) -> list[str]:
    report = json.loads((outdir / "validation-report.json").read_text())
    return [v["ruleName"] for plugin in report["pluginReports"] for v in plugin["violations"]]


def test_the_app_synthesizes_with_no_unacknowledged_finding(synthesized: Synthesized):
    # The session fixture's synth would have raised; the report confirms there is nothing left over.
    assert violations(synthesized.outdir) == []


def test_every_acknowledgement_names_an_aws_solutions_rule_and_a_reason(synthesized: Synthesized):
    found = acknowledgements(synthesized.app)
    assert found
    for path, rule, reason in found:
        assert rule.startswith("AwsSolutions-"), (path, rule)
        assert len(reason.split()) >= 8, (path, rule, reason)


def test_no_acknowledgement_covers_the_whole_stack_or_a_whole_concern(synthesized: Synthesized):
    stack = synthesized.stack
    too_broad = {synthesized.app.node.path, stack.node.path, *(child.node.path for child in stack.node.children)}
    assert [(path, rule) for path, rule, _ in acknowledgements(synthesized.app) if path in too_broad] == []


def test_an_unacknowledged_finding_fails_synthesis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Given the stack without its acknowledgement of manual secret rotation
    from infra.constructs import data

    original = data.acknowledge

    def all_but_smg4(construct, rule: str, reason: str) -> None:
        if rule != "AwsSolutions-SMG4":
            original(construct, rule, reason)

    monkeypatch.setattr(data, "acknowledge", all_but_smg4)
    app, _ = build_app(context=cdk_json_context(), outdir=str(tmp_path))

    # When it is synthesized, then cdk-nag fails it and names the rule
    with pytest.raises(RuntimeError, match="AwsSolutions-SMG4"):
        app.synth()
    assert set(violations(tmp_path)) == {"AwsSolutions-SMG4"}
