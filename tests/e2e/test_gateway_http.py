"""The gateway's HTTP framing over raw sockets: chunked bodies, bad Content-Lengths, malformed requests.

Every exchange has a socket timeout well above the gateway's read timeout, so a gateway that waits for good fails
the test instead of hanging it.
"""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import pytest

from closedloop_local.client import LocalClient
from closedloop_local.gateway import READ_TIMEOUT_S

pytestmark = pytest.mark.e2e

CLIENT_TIMEOUT_S = READ_TIMEOUT_S + 10


def exchange(base_url: str, raw: bytes) -> bytes:
    """Send `raw` on a fresh connection and read until the gateway closes it."""
    address = urlsplit(base_url)
    with socket.create_connection((address.hostname, address.port), timeout=CLIENT_TIMEOUT_S) as connection:
        connection.sendall(raw)
        received = []
        while chunk := connection.recv(65536):  # a gateway that never answers raises TimeoutError here
            received.append(chunk)
    return b"".join(received)


def responses(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Every HTTP response in `raw`, as (status, lower-cased headers, body)."""
    parsed = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = dict((k.strip().lower(), v.strip()) for k, _, v in (line.partition(":") for line in header_lines))
        length = int(headers.get("content-length", len(rest)))
        parsed.append((int(status_line.split()[1]), headers, rest[:length]))
        raw = rest[length:]
    return parsed


def request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"


def test_a_chunked_body_reaches_the_handler_and_is_not_read_as_a_second_request(client: LocalClient):
    body = json.dumps({"email": "chunky@example.net", "status": "subscribed", "attributes": {"first_name": "Chu"}})
    middle = len(body) // 2
    raw = request(
        "PUT",
        "/v1/profiles/p-chunked",
        {
            "Authorization": f"Bearer {client.api_key}",
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
            "Connection": "keep-alive",
        },
        chunked(body[:middle].encode(), body[middle:].encode()),
    )

    answers = responses(exchange(client.base_url, raw))

    assert [status for status, _, _ in answers] == [201]
    assert client.profile("p-chunked")["email"] == "chunky@example.net"


def test_a_content_length_longer_than_the_body_is_answered_400_after_the_read_timeout(client: LocalClient):
    raw = request("POST", "/_local/clock", {"Content-Length": "100"}, b'{"now": "')
    started = time.monotonic()

    (status, headers, body) = responses(exchange(client.base_url, raw))[0]

    assert status == 400
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["code"] == "incomplete_body"
    assert time.monotonic() - started < READ_TIMEOUT_S + 5


@pytest.mark.parametrize("length", ["-5", "ten", "5, 5x", "1e3"])
def test_a_content_length_that_is_not_a_number_of_bytes_is_answered_400_at_once(client: LocalClient, length: str):
    raw = request("POST", "/_local/clock", {"Content-Length": length}, b"{}")
    started = time.monotonic()

    (status, _, body) = responses(exchange(client.base_url, raw))[0]

    assert status == 400
    assert json.loads(body)["code"] == "invalid_content_length"
    assert time.monotonic() - started < READ_TIMEOUT_S


def test_conflicting_content_lengths_are_answered_400(client: LocalClient):
    raw = request("POST", "/_local/clock", {"Content-Length": "2"}, b"").replace(
        b"\r\n\r\n", b"\r\nContent-Length: 3\r\n\r\n{}", 1
    )

    (status, _, body) = responses(exchange(client.base_url, raw))[0]

    assert status == 400
    assert json.loads(body)["code"] == "invalid_content_length"


def test_a_transfer_coding_other_than_chunked_is_refused(client: LocalClient):
    raw = request("POST", "/_local/clock", {"Transfer-Encoding": "gzip, chunked"}, chunked(b"{}"))

    (status, _, body) = responses(exchange(client.base_url, raw))[0]

    assert status == 501
    assert json.loads(body)["code"] == "unsupported_transfer_encoding"


def test_a_malformed_chunk_is_answered_400(client: LocalClient):
    raw = request("POST", "/_local/clock", {"Transfer-Encoding": "chunked"}, b"zz\r\n{}\r\n0\r\n\r\n")

    (status, _, body) = responses(exchange(client.base_url, raw))[0]

    assert status == 400
    assert json.loads(body)["code"] == "invalid_chunked_body"


def test_a_malformed_request_line_is_answered_with_a_json_error(client: LocalClient):
    # A space in the path: four words on the request line.
    (status, headers, body) = responses(exchange(client.base_url, b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n"))[0]

    assert status == 400
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["code"] == "bad_request"
