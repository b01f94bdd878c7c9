"""A rendered message ready for the provider, the header rules every message obeys, and its MIME form.

The MIME message is built before the send is reserved in the ledger, so a message that cannot be built fails
without leaving a reservation behind. Structured headers (List-Unsubscribe above all) are written verbatim:
mailbox providers read `List-Unsubscribe: <https://…>` as plain ASCII, and an RFC 2047 encoded word there (what
the `email` package's default policy makes of a long header without spaces) hides the one-click link from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from closedloop.errors import HeaderInjection
from closedloop.validation import has_line_break

MAX_HEADER = 998  # RFC 5322 line limit
# Lines may be 998 characters long (RFC 5322), so no header of ours is ever folded into an encoded word; bodies
# go quoted-printable, whose lines stay short whatever the HTML looks like.
WIRE = SMTP.clone(max_line_length=MAX_HEADER)


def header_value(name: str, value: str) -> str:
    """Refuse what the `email` package would split a header on (every str.splitlines() break) and NUL."""
    if has_line_break(value) or "\x00" in value:
        raise HeaderInjection(f"header {name} contains a line break or NUL")
    if len(value) > MAX_HEADER - len(name) - 2:
        raise HeaderInjection(f"header {name} is longer than a mail header line may be")
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

    def mime(self, date: datetime) -> bytes:
        """The message as sent: multipart/alternative with a text and an HTML part, CRLF line ends.

        Raises HeaderInjection for anything the `email` package refuses to write.
        """
        message = EmailMessage(policy=WIRE)
        try:
            message["From"] = self.sender
            message["To"] = self.to
            message["Subject"] = self.subject
            message["Date"] = format_datetime(date)
            for name, value in self.headers.items():
                message[name] = value
            message.set_content(self.text, cte="quoted-printable")
            message.add_alternative(self.html, subtype="html", cte="quoted-printable")
            return message.as_bytes()
        except (ValueError, TypeError, IndexError) as error:
            raise HeaderInjection(f"the message cannot be written as MIME: {error}") from error
