"""cfn-lint finds nothing in the synthesized template (`make lint` runs this file: -k cfn_lint)."""

from __future__ import annotations

from cfnlint.api import ManualArgs, lint_file

from tests.infra.conftest import Synthesized

# W3005 (redundant DependsOn): CDK adds an explicit DependsOn from each function to its role and role policy
# next to the GetAtt; it is CDK's construction order, not ours to change.
IGNORED = ["W3005"]


def test_cfn_lint_finds_nothing_in_the_synthesized_template(synthesized: Synthesized):
    config = ManualArgs(ignore_checks=IGNORED, regions=["us-east-1", "eu-central-1"])
    matches = lint_file(synthesized.template_file, config=config)
    assert [f"{m.rule.id} {m.message} ({m.path_string})" for m in matches] == []
