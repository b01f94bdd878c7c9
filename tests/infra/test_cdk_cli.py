"""The CDK CLI synthesizes the app through cdk.json from the repository root, as `make synth` does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_npx_cdk_synth_succeeds_from_the_repository_root(tmp_path: Path):
    # Given the project's pinned CLI (make: node_modules/.installed runs npm install)
    assert (ROOT / "node_modules" / ".bin" / "cdk").exists(), "run `npm install` (make infra / make test do)"
    assert shutil.which("npx"), "Node.js and npm are needed for the CDK CLI"
    # and this interpreter first on PATH, as the Makefile puts .venv/bin first
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    }

    # When
    result = subprocess.run(
        ["npx", "--no-install", "cdk", "synth", "--quiet", "--output", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    # Then
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tmp_path / "closedloop.template.json").is_file()
