"""A request's body, read by the rules the local gateway holds every client to.

The body is framed by a Content-Length of digits or by chunked transfer coding, and is at most API Gateway's
10 MiB. Anything else is refused with a status and a sentence, and a client that announces more bytes than it
sends is answered when the socket's read timeout fires, never waited on for good.
"""

from __future__ import annotations

import re
from typing import IO

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
_DIGITS = re.compile(r"[0-9]+")
_READ_SIZE = 1 << 20


class BodyRefused(Exception):
    """The body cannot be read as sent; `status` and `code` say how to answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _values(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in headers if key.lower() == name]


def read_body(stream: IO[bytes], headers: list[tuple[str, str]], limit: int = MAX_BODY_BYTES) -> bytes:
    """The body of a request with these raw headers; `stream` is already de-chunked when the request is chunked."""
    codings = [c.strip().lower() for value in _values(headers, "transfer-encoding") for c in value.split(",")]
    codings = [coding for coding in codings if coding]
    if codings:
        if codings != ["chunked"]:
            raise BodyRefused(
                501,
                "unsupported_transfer_encoding",
                f"Transfer-Encoding {', '.join(codings)!r} is not supported: send chunked or a Content-Length",
            )
        # Chunked wins over any Content-Length (RFC 9112, 6.3): read up to the limit, one byte more to notice it.
        body = _read(stream, limit + 1)
        if len(body) > limit:
            raise BodyRefused(413, "payload_too_large", f"the body is over {limit} bytes")
        return body

    lengths = {value.strip() for value in _values(headers, "content-length")}
    if not lengths:
        return b""
    if len(lengths) > 1:
        raise BodyRefused(400, "invalid_content_length", f"conflicting Content-Length headers: {sorted(lengths)}")
    (text,) = lengths
    if not _DIGITS.fullmatch(text):
        raise BodyRefused(400, "invalid_content_length", f"Content-Length must be a number of bytes, not {text!r}")
    length = int(text)
    if length > limit:
        raise BodyRefused(413, "payload_too_large", f"the body is {length} bytes, over the limit of {limit}")
    body = _read(stream, length)
    if len(body) < length:
        raise BodyRefused(
            400, "incomplete_body", f"the body ended after {len(body)} of the {length} bytes Content-Length announced"
        )
    return body


def _read(stream: IO[bytes], most: int) -> bytes:
    """Up to `most` bytes, fewer if the stream ends; a read timeout or a broken chunk is a refusal."""
    chunks: list[bytes] = []
    total = 0
    try:
        while total < most:
            chunk = stream.read(min(most - total, _READ_SIZE))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except TimeoutError:
        raise BodyRefused(400, "incomplete_body", f"the body stopped arriving after {total} bytes") from None
    except (OSError, ValueError) as error:  # werkzeug's de-chunker raises OSError for a malformed chunk
        raise BodyRefused(400, "invalid_chunked_body", f"the chunked body is malformed: {error}") from None
    return b"".join(chunks)
