"""Unit tests: pure domain with fakes. No sockets: a test that reaches the network fails."""

import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from closedloop.config import load_config
from closedloop.tokens import TokenSigner, TrackingKeys

REPO = Path(__file__).resolve().parents[2]
# The tests' own config and templates: a marketer's edit of config/ or templates/ never turns the suite red.
CONTENT = REPO / "tests" / "fixtures" / "content"


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("unit tests must not open sockets")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def config():
    return load_config(CONTENT)


@pytest.fixture
def signer():
    return TokenSigner(TrackingKeys.from_secret({"current": "k1", "k1": "unit-test-secret-one"}))


@pytest.fixture
def now():
    return datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
