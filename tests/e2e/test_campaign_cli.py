"""`closedloop campaigns` and `closedloop stats CAMPAIGN` exactly as the README shows them: the console script, in its
own process, from a directory outside the repository, against a running local runtime with --url and --key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from closedloop_local.client import LocalClient, link_containing
from closedloop_local.runtime import Runtime
from tests.e2e.conftest import QUIET_HOURS_ZONE

pytestmark = pytest.mark.e2e

CLOSEDLOOP = Path(sys.executable).parent / "closedloop"


@pytest.fixture(scope="module")
def campaign_id(client: LocalClient) -> str:
    """A sent campaign of two variants to four people, one of whom clicked the travel link of their mail."""
    client.advance_to_local_hour(9, QUIET_HOURS_ZONE)  # campaign mail waits out the recipients' quiet hours
    for n in range(4):
        client.put_profile(f"cli-{n}", f"cli.{n}@example.com", group="cli")
    definition = {
        "name": "CLI spring sale",
        "template": "newsletter-demo",
        "variants": [{"id": "a", "subject": "Spring A"}, {"id": "b", "subject": "Spring B"}],
        "rules": {"field": "attributes.group", "op": "==", "value": "cli"},
    }
    campaign_id = client.ok("POST", "/v1/campaigns", definition)["campaign_id"]
    client.ok("POST", f"/v1/campaigns/{campaign_id}/send")
    client.drain()
    (mail,) = client.outbox(to="cli.0@example.com")
    client.click(link_containing(mail["html"], "Australia", base_url=client.base_url))
    client.settle()
    assert client.ok("GET", f"/v1/campaigns/{campaign_id}")["status"] == "sent"
    return campaign_id


def closedloop(runtime: Runtime, cwd: Path, *arguments: str) -> subprocess.CompletedProcess:
    """The console script with the runtime's URL and key as flags (and nothing in the environment to fall back on)."""
    environment = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CLOSEDLOOP_URL", "CLOSEDLOOP_API_KEY")
    }
    command = [str(CLOSEDLOOP), *arguments, "--url", runtime.base_url, "--key", runtime.api_key]
    return subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=120)


def rows(table: str) -> dict[str, list[str]]:
    """A printed table's lines by their first cell (the metric, or the id), the other cells after it."""
    return {cells[0]: cells[1:] for line in table.splitlines() if (cells := line.split())}


def test_closedloop_campaigns_lists_the_campaign_with_its_status_targeted_and_sent(
    runtime, client, campaign_id, tmp_path
):
    done = closedloop(runtime, tmp_path, "campaigns")

    assert done.returncode == 0, done.stderr
    header, rule = done.stdout.splitlines()[:2]
    assert header.split() == ["id", "name", "status", "created", "targeted", "sent"] and set(rule) == {"-", " "}
    listed = rows(done.stdout)[campaign_id]
    assert listed[:4] == ["CLI", "spring", "sale", "sent"] and listed[-2:] == ["4", "4"]  # targeted, sent
    created = client.ok("GET", f"/v1/campaigns/{campaign_id}")["created_at"]  # e.g. 2026-03-10T08:00:04Z
    assert listed[-4:-2] == [created[:10], created[11:16]]  # shown as "2026-03-10 08:00" (UTC)


def test_closedloop_stats_shows_the_counters_per_stage_and_variant(runtime, campaign_id, tmp_path):
    done = closedloop(runtime, tmp_path, "stats", campaign_id)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"campaign {campaign_id}  CLI spring sale  (sent)"
    table = rows(done.stdout)
    header = next(line.split() for line in done.stdout.splitlines()[1:] if line.strip())
    assert header == ["campaign", "main", "main/a", "main/b"]
    assert table["targeted"] == ["4", "4", "2", "2"]
    assert table["sent"] == ["4", "4", "2", "2"]
    clicked = table["clicks_human"]
    assert clicked[:2] == ["1", "1"] and sorted(clicked[2:]) == ["0", "1"]  # cli-0 got a or b
    assert table["clicks_human_unique"][:2] == ["1", "1"]
    assert table["https://travel.example.com/australia"][:2] == ["1", "1"]


def test_closedloop_stats_of_an_unknown_campaign_says_so_and_exits_2(runtime, tmp_path):
    done = closedloop(runtime, tmp_path, "stats", "c_nope")

    assert done.returncode == 2
    assert "HTTP 404 campaign_not_found" in done.stderr
    assert done.stdout == ""
