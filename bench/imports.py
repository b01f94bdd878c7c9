"""Cold-start imports of the click handler against `import boto3` alone, each in a fresh interpreter.

Two figures: the handler module's own import, and every module a real first click loads (the handler plus what
its first call imports lazily: boto3, pynamodb, ...). The second set is recorded by running one click in a clean
interpreter against the embedded AWS, then timed on its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROUNDS = 9
FLOOR = "import boto3"
HANDLER = "import functions.click.handler"
# Packages only the admin function ships (its own layer): the click path must never load them.
NEVER_ON_THE_CLICK_PATH = ("pydantic", "pydantic_core")

_RECORD = """
import json, sys
before = set(sys.modules)
import functions.click.handler as click

class Context:
    function_name, memory_limit_in_mb, aws_request_id = "click", 512, "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:click"
    def get_remaining_time_in_millis(self):
        return 5000

answer = click.handler(json.loads(sys.argv[1]), Context())
assert answer["statusCode"] == 302, answer
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def _env() -> dict:
    return {
        **os.environ,
        "PYTHONPATH": f"{REPO}:{REPO / 'layers/shared/python'}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "click",
        "POWERTOOLS_SERVICE_NAME": "closedloop",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def first_click_modules(click_event: dict) -> list[str]:
    """The modules one real first click loads in a fresh interpreter (call inside the embedded AWS)."""
    out = subprocess.run(
        [sys.executable, "-c", _RECORD, json.dumps(click_event)],
        env=_env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    modules = json.loads(out.stdout.strip().splitlines()[-1])
    heavy = sorted({m.split(".")[0] for m in modules} & set(NEVER_ON_THE_CLICK_PATH))
    if heavy:
        raise AssertionError(f"a first click loads {', '.join(heavy)}: only the admin function may")
    return modules


def _time(statement: str) -> float:
    code = f"import time\nt = time.perf_counter()\n{statement}\nprint(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], env=_env(), cwd=REPO, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def measure(click_modules: list[str]) -> dict:
    """Best of ROUNDS, interleaved so a noisy moment hits all three alike."""
    importable = [m for m in click_modules if not m.startswith("__")]
    click_path = (
        "import importlib\nfor m in "
        + repr(importable)
        + ":\n    try: importlib.import_module(m)\n    except Exception: pass"
    )
    best = {FLOOR: float("inf"), HANDLER: float("inf"), click_path: float("inf")}
    for _ in range(ROUNDS):
        for statement in best:
            best[statement] = min(best[statement], _time(statement))
    return {
        "import_boto3_s": round(best[FLOOR], 4),
        "click_handler_import_s": round(best[HANDLER], 4),
        "first_click_imports_s": round(best[click_path], 4),
        "first_click_modules": len(importable),
        "click_handler_import_ratio": round(best[HANDLER] / best[FLOOR], 3),
        "first_click_imports_ratio": round(best[click_path] / best[FLOOR], 3),
    }
