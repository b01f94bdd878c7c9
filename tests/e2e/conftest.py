"""The local runtime, started in-process on free ports once per test module, and a client that drives it over HTTP.

Module scope keeps the suite fast while keeping modules independent; moto's state is process-global, so a module's
runtime is stopped (and the environment restored) before the next starts, and before any other suite runs.
The runtime reads the tests' own copy of templates/ and config/ (tests/fixtures/content), so marketers editing the
shipped content cannot break the suite.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from closedloop_local.client import LocalClient
from closedloop_local.runtime import Runtime

CONTENT_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "content"


@pytest.fixture(scope="module")
def runtime():
    with Runtime(quiet=True, content_dir=CONTENT_DIR) as running:
        yield running


@pytest.fixture(scope="module")
def client(runtime: Runtime) -> LocalClient:
    return LocalClient(runtime.base_url, runtime.api_key)
