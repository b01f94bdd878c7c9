"""Settings read from the environment once, on first use, into a small typed object.

The variable names are declared in infra/wiring.py; a missing one is a deployment error, reported by name.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path


class MissingSetting(RuntimeError):
    pass


def _require(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise MissingSetting(f"environment variable {name} is not set; see infra/wiring.py")
    return value


class Settings:
    """Lazily read: a function only needs the variables of the resources it uses."""

    @cached_property
    def profiles_table(self) -> str:
        return _require("PROFILES_TABLE")

    @cached_property
    def activity_table(self) -> str:
        return _require("ACTIVITY_TABLE")

    @cached_property
    def ledger_table(self) -> str:
        return _require("LEDGER_TABLE")

    @cached_property
    def send_queue_url(self) -> str:
        return _require("SEND_QUEUE_URL")

    @cached_property
    def activity_queue_url(self) -> str:
        return _require("ACTIVITY_QUEUE_URL")

    @cached_property
    def event_bus_name(self) -> str:
        return _require("EVENT_BUS_NAME")

    @cached_property
    def tracking_keys_secret(self) -> str:
        return _require("TRACKING_KEYS_SECRET")

    @cached_property
    def api_key_secret(self) -> str:
        return _require("API_KEY_SECRET")

    @cached_property
    def tracking_base_url(self) -> str:
        return _require("TRACKING_BASE_URL").rstrip("/")

    @cached_property
    def sender_address(self) -> str:
        return _require("SENDER_ADDRESS")

    @cached_property
    def configuration_set(self) -> str | None:
        return os.environ.get("SES_CONFIGURATION_SET") or None

    @cached_property
    def content_dir(self) -> Path:
        """Folder holding templates/ and config/: /opt/content in Lambda, the repository root locally."""
        return Path(_require("CONTENT_DIR"))
