"""Settings read from the environment once, on first use, into a small typed object.

The variable names are declared in infra/wiring.py; a missing one is a deployment error, reported by name.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


class MissingSetting(RuntimeError):
    pass


class _Variable:
    """A setting read from one environment variable on first access, then kept on the instance."""

    def __init__(self, name: str, convert: Callable[[str], Any] = str, required: bool = True) -> None:
        self.name, self.convert, self.required = name, convert, required

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.attribute = attribute

    def __get__(self, instance: object, owner: type) -> Any:
        if instance is None:
            return self
        raw = os.environ.get(self.name)
        if not raw and self.required:
            raise MissingSetting(f"environment variable {self.name} is not set; see infra/wiring.py")
        value = self.convert(raw) if raw else None
        instance.__dict__[self.attribute] = value  # shadows this (non-data) descriptor from now on
        return value


class Settings:
    """Lazily read: a function only needs the variables of the resources it uses."""

    profiles_table: str = _Variable("PROFILES_TABLE")
    activity_table: str = _Variable("ACTIVITY_TABLE")
    ledger_table: str = _Variable("LEDGER_TABLE")
    held_table: str = _Variable("HELD_TABLE")
    campaigns_table: str = _Variable("CAMPAIGNS_TABLE")
    deferred_table: str = _Variable("DEFERRED_TABLE")
    send_queue_url: str = _Variable("SEND_QUEUE_URL")
    reactions_queue_url: str = _Variable("REACTIONS_QUEUE_URL")
    release_queue_url: str = _Variable("RELEASE_QUEUE_URL")
    import_chunks_queue_url: str = _Variable("IMPORT_CHUNKS_QUEUE_URL")
    dispatch_queue_url: str = _Variable("DISPATCH_QUEUE_URL")
    dispatch_queue_arn: str = _Variable("DISPATCH_QUEUE_ARN")
    schedule_group: str = _Variable("SCHEDULE_GROUP")
    schedule_role_arn: str = _Variable("SCHEDULE_ROLE_ARN")
    imports_bucket: str = _Variable("IMPORTS_BUCKET")
    event_bus_name: str = _Variable("EVENT_BUS_NAME")
    tracking_keys_secret: str = _Variable("TRACKING_KEYS_SECRET")
    api_key_secret: str = _Variable("API_KEY_SECRET")
    erasure_key_secret: str = _Variable("ERASURE_KEY_SECRET")
    tracking_base_url: str = _Variable("TRACKING_BASE_URL", lambda url: url.rstrip("/"))
    sender_address: str = _Variable("SENDER_ADDRESS")
    configuration_set: str | None = _Variable("SES_CONFIGURATION_SET", required=False)
    # Folder holding templates/ and config/: /opt/content in Lambda, the repository root locally.
    content_dir: Path = _Variable("CONTENT_DIR", Path)
