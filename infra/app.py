"""CDK entry point (cdk.json: `python3 -m infra.app`). cdk-nag's AWS Solutions checks fail synthesis on findings."""

from __future__ import annotations

import os
from pathlib import Path

from aws_cdk import App, Environment, Tags, Validations
from cdk_nag import AwsSolutionsChecks

from infra import layers
from infra.stack import ClosedloopStack

STACK_NAME = "closedloop"


def build_app(
    *, context: dict | None = None, outdir: str | None = None, content_root: Path = layers.ROOT
) -> tuple[App, ClosedloopStack]:
    """The app with its one stack and the nag checks, as the CLI and the tests synthesize it.

    `content_root` holds the templates/ and config/ to ship; broken content raises layers.ContentInvalid.
    """
    app = App(context=context, outdir=outdir)
    stack = ClosedloopStack(
        app,
        app.node.try_get_context("closedloop:stackName") or STACK_NAME,
        content_root=content_root,
        description="closedloop: serverless closed-loop marketing automation",
        env=Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")),
    )
    Tags.of(app).add("project", "closedloop")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def main() -> None:
    try:
        app, _ = build_app()
    except layers.ContentInvalid as error:
        # The marketer's mistake in one sentence, not a traceback through jsii.
        raise SystemExit(f"cdk synth stopped before shipping templates/ and config/: {error}") from None
    app.synth()


if __name__ == "__main__":
    main()
