"""Cold-start imports of the click handler against `import boto3` alone, each in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROUNDS = 9

FLOOR = "import boto3"
HANDLER = "import functions.click.handler"
# Everything the first click loads: the handler, then what its first call imports lazily.
CLICK_PATH = (HANDLER + "; import closedloop.adapters.dynamo, closedloop.adapters.aws; "
              "from aws_lambda_powertools.utilities import parameters")


def _time(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    env = {**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'layers/shared/python'}", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_LAMBDA_FUNCTION_NAME": "click", "POWERTOOLS_SERVICE_NAME": "closedloop",
           "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def measure() -> dict:
    """Best of ROUNDS, interleaved so a noisy moment hits all three alike."""
    best = {FLOOR: float("inf"), HANDLER: float("inf"), CLICK_PATH: float("inf")}
    for _ in range(ROUNDS):
        for statement in best:
            best[statement] = min(best[statement], _time(statement))
    return {
        "import_boto3_s": round(best[FLOOR], 4),
        "click_handler_import_s": round(best[HANDLER], 4),
        "click_path_imports_s": round(best[CLICK_PATH], 4),
        "click_handler_import_ratio": round(best[HANDLER] / best[FLOOR], 3),
        "click_path_imports_ratio": round(best[CLICK_PATH] / best[FLOOR], 3),
    }
