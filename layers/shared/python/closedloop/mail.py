"""A rendered message ready for the provider, and the header rules every message obeys."""

from __future__ import annotations

from dataclasses import dataclass, field

from closedloop.errors import HeaderInjection

MAX_SUBJECT = 998  # RFC 5322 line limit


def header_value(name: str, value: str) -> str:
    """Refuse CR, LF and NUL in a header value: they would let content inject headers."""
    if any(c in value for c in "\r\n\x00"):
        raise HeaderInjection(f"header {name} contains a line break")
    if len(value) > MAX_SUBJECT:
        raise HeaderInjection(f"header {name} is longer than {MAX_SUBJECT} characters")
    return value


@dataclass(frozen=True)
class OutgoingMail:
    message_id: str
    profile_id: str
    sender: str
    to: str
    subject: str
    html: str
    text: str
    headers: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, value in {"From": self.sender, "To": self.to, "Subject": self.subject, **self.headers}.items():
            header_value(name, value)
