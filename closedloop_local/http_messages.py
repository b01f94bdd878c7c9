"""The gateway's request and reply, as local routes and the API Gateway payload conversion see them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class Request:
    method: str
    path: str  # as sent, still percent-encoded, like API Gateway's rawPath
    raw_query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str

    def header(self, name: str, default: str = "") -> str:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ",".join(values) if values else default

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.raw_query, keep_blank_values=True))

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, status: int, value: Any) -> Reply:
        body = json.dumps(value, indent=1, default=str).encode()
        return cls(status, body, [("content-type", "application/json")])

    @classmethod
    def error(cls, status: int, code: str, message: str, **details: Any) -> Reply:
        """An error in the shape every closedloop error has: {"code", "message"}, plus any details."""
        return cls.json(status, {"code": code, "message": message, **details})

    @classmethod
    def html(cls, status: int, text: str, headers: list[tuple[str, str]] | None = None) -> Reply:
        return cls(status, text.encode(), [("content-type", "text/html; charset=utf-8"), *(headers or [])])
