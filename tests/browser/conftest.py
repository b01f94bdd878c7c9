"""Real-browser tests of the pages a person uses: Debian's chromium driven by playwright (no browser download).

The local runtime runs once per module, as in tests/e2e. Every page visited is saved as a screenshot into one
directory, named at the end of the test output, so a person can look at what the tests saw.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from closedloop_local.client import LocalClient
from closedloop_local.runtime import Runtime

CONTENT_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "content"
_shots: list[Path] = []


@pytest.fixture(scope="module")
def runtime():
    with Runtime(quiet=True, content_dir=CONTENT_DIR) as running:
        yield running


@pytest.fixture(scope="module")
def client(runtime: Runtime) -> LocalClient:
    return LocalClient(runtime.base_url, runtime.api_key)


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(executable).exists(), "chromium is not installed: `make test` installs it (apt-get install chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 800, "height": 900}, java_script_enabled=False)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def shoot(page, screenshot_dir, request):
    """shoot("name"): a full-page screenshot of the page as it is now."""

    def take(name: str) -> Path:
        path = screenshot_dir / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        _shots.append(path)
        return path

    return take


def pytest_terminal_summary(terminalreporter):
    if _shots:
        terminalreporter.write_line(f"browser screenshots ({len(_shots)}): {_shots[0].parent}")
