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
QUIET_HOURS_ZONE = "Europe/Berlin"  # [birthday] default_timezone of the fixture content: quiet hours' zone


@pytest.fixture(scope="module")
def runtime():
    with Runtime(quiet=True, content_dir=CONTENT_DIR) as running:
        yield running


@pytest.fixture(scope="module")
def client(runtime: Runtime) -> LocalClient:
    return LocalClient(runtime.base_url, runtime.api_key)


@pytest.fixture
def morning(client: LocalClient) -> str:
    """Moves the runtime clock to 09:00 Berlin time, the next such morning: campaign mail is capped, and in the
    recipients' quiet hours (21:00-08:00 in their zone, Europe/Berlin when they have none) it waits, so a campaign
    test that ran on the real time of day would pass by day and fail by night."""
    return client.advance_to_local_hour(9, QUIET_HOURS_ZONE)
