"""`closedloop local` exactly as the README starts it: the console script, from a directory outside the repository.

The runtime runs in its own process and is driven over HTTP only: a profile, a newsletter, a click on its tracked
link, the counter that click moved; then SIGTERM, which must stop it cleanly.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from closedloop_local import cli
from closedloop_local.client import LocalClient, link_containing
from closedloop_local.runtime import Runtime

pytestmark = pytest.mark.e2e

CLOSEDLOOP = Path(sys.executable).parent / "closedloop"
CONTENT_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "content"
API_KEY = "console-script-key"
BOUND_URL = re.compile(r"closedloop local runtime at (http://\S+)")
START_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> dict:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    stdout, stderr = elsewhere / "stdout.txt", elsewhere / "stderr.txt"
    # Nothing on PYTHONPATH: the console script must find closedloop, infra and functions by itself.
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"CLOSEDLOOP_API_KEY": API_KEY}
    with stdout.open("w") as out, stderr.open("w") as err:
        process = subprocess.Popen(
            [str(CLOSEDLOOP), "local", "--port", "0", "--quiet", "--content-dir", str(CONTENT_DIR)],
            cwd=elsewhere,
            env=environment,
            stdout=out,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (found := BOUND_URL.search(stdout.read_text())):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"closedloop local did not start (exit {process.poll()}):\n{stderr.read_text()}")
            time.sleep(0.2)
        yield {"process": process, "url": found.group(1), "stderr": stderr}
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_console_script_runs_the_loop_from_any_directory(console: dict):
    client = LocalClient(console["url"], API_KEY)
    client.put_profile("p-console", "ada@example.net", first_name="Ada")  # status "subscribed" is sent explicitly
    client.send("p-console", "newsletter-demo", "console-newsletter")
    client.drain()
    (newsletter,) = client.outbox(to="ada@example.net")
    click = client.click(link_containing(newsletter["html"], "Australia", base_url=console["url"]))
    client.settle()

    assert click.status == 302
    assert click.location.startswith("https://")
    assert client.profile("p-console")["interests"] == {"travel": 1}


def test_sigterm_stops_the_console_script_with_exit_code_0(console: dict):
    console["process"].send_signal(signal.SIGTERM)

    assert console["process"].wait(timeout=60) == 0, console["stderr"].read_text()


def test_a_host_other_than_loopback_is_refused_unless_asked_twice(capsys):
    refused = cli.main(["local", "--host", "0.0.0.0", "--port", "0"])

    assert refused == 2
    assert "no authentication" in capsys.readouterr().err
    assert cli.exposure_refusal("0.0.0.0", expose=True) is None
    assert cli.exposure_refusal("::1", expose=False) is None
    assert cli.exposure_refusal("localhost", expose=False) is None


def test_closedloop_import_runs_a_file_against_the_runtime_as_the_readme_shows_it(tmp_path: Path):
    # `closedloop import` against `closedloop local`, exactly as the README shows it: URL and key from the environment.
    csv = tmp_path / "people.csv"
    csv.write_text("email,first_name,birthday\ncli-ada@example.com,Ada,1990-06-15\nnot-an-address,Bob,\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with Runtime(quiet=True, content_dir=CONTENT_DIR) as runtime:
        env |= {"CLOSEDLOOP_URL": runtime.base_url, "CLOSEDLOOP_API_KEY": runtime.api_key}
        command = [str(CLOSEDLOOP), "import", str(csv), "--status", "subscribed", "--consent-source", "fair"]
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        refused = subprocess.run(
            [str(CLOSEDLOOP), "import", str(csv), "--status", "subscribed"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        ada = LocalClient(runtime.base_url, runtime.api_key).ok("GET", "/v1/profiles?email=cli-ada@example.com")

    assert done.returncode == 1, done.stderr  # done, with a failed row
    assert re.search(r"created\s+1\b", done.stdout) and re.search(r"failed\s+1\b", done.stdout), done.stdout
    assert "line       3" in done.stdout and "email" in done.stdout
    assert "100%" in done.stdout
    assert ada["consent"]["detail"] == "fair"
    assert refused.returncode == 2
    assert "consent_source" in refused.stderr
