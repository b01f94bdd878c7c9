"""An AWS endpoint on 127.0.0.1 that answers at once, so a handler's own cost shows instead of moto's.

botocore talks to it as to AWS (HTTP/1.1, keep-alive), so a client serialises, signs, sends and parses exactly as
it would against the real service. DynamoDB `TransactWriteItems` is answered with `{}` (what DynamoDB returns when
no capacity or metrics are asked for) without reading the request any further; anything else is passed on to moto,
so a first click can still read its secret and its link set. SQS `SendMessage` (the click's one call: the click
to the reactions queue) is answered with a fixed message id the same way. Every request is counted by its
`X-Amz-Target`: that
is how the bench shows a warm click makes exactly one call, and that both handlers make one each while timed.

The server parses no more HTTP than it must (request line, headers, a Content-Length body) and sends each answer in
one write with Nagle off: `http.server` costs ~0.1 ms more per request, and a body sent apart from its headers
waits ~40 ms for the client's delayed ACK. Either would hide the handler's own cost, which is what is measured.
"""

from __future__ import annotations

import http.client
import socketserver
import threading
from collections import Counter
from contextlib import contextmanager
from urllib.parse import urlsplit

TRANSACT_WRITE_ITEMS = "DynamoDB_20120810.TransactWriteItems"
SEND_MESSAGE = "AmazonSQS.SendMessage"
CANNED = {
    TRANSACT_WRITE_ITEMS: b"{}",
    SEND_MESSAGE: b'{"MessageId":"00000000-0000-0000-0000-000000000000","MD5OfMessageBody":"0"}',
}
# Headers not to copy between the two connections: each side frames and keeps alive its own.
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "server", "date"}


def _answer(status: int, reason: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers if name.lower() not in _HOP_BY_HOP]
    lines += [f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


_CANNED_ANSWERS = {
    target: _answer(200, "OK", [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", "instant")], body)
    for target, body in CANNED.items()
}


class InstantBackend:
    """`with InstantBackend(moto_endpoint) as backend:` serves on `backend.endpoint` until the block ends."""

    def __init__(self, forward_to: str) -> None:
        self._forward = urlsplit(forward_to)
        self._lock = threading.Lock()
        self.requests: Counter = Counter()  # X-Amz-Target (or "METHOD path") -> requests received
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.endpoint = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="instant-backend", daemon=True)

    def __enter__(self) -> InstantBackend:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    @contextmanager
    def counting(self):
        """Yield a Counter holding only the requests received inside the block."""
        with self._lock:
            before = Counter(self.requests)
        delta: Counter = Counter()
        yield delta
        with self._lock:
            delta.update(self.requests - before)

    def _count(self, target: str) -> None:
        with self._lock:
            self.requests[target] += 1

    def _pass_on(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
        connection = http.client.HTTPConnection(self._forward.hostname, self._forward.port, timeout=60)
        try:
            sent = {name: value for name, value in headers if name.lower() not in _HOP_BY_HOP}
            connection.request(method, path, body=body, headers=sent)
            answer = connection.getresponse()
            return _answer(answer.status, answer.reason, answer.getheaders(), answer.read())
        finally:
            connection.close()

    def _handler_class(self) -> type[socketserver.StreamRequestHandler]:
        backend = self

        class Handler(socketserver.StreamRequestHandler):
            disable_nagle_algorithm = True

            def handle(self) -> None:
                while True:  # one keep-alive connection, request after request
                    request_line = self.rfile.readline(65537)
                    if not request_line.strip():
                        return
                    method, path, _ = request_line.decode("latin-1").split(" ", 2)
                    headers, length, target = [], 0, None
                    while (line := self.rfile.readline(65537)) not in (b"\r\n", b"\n", b""):
                        name, _, value = line.decode("latin-1").partition(":")
                        name, value = name.strip(), value.strip()
                        headers.append((name, value))
                        lowered = name.lower()
                        if lowered == "content-length":
                            length = int(value)
                        elif lowered == "x-amz-target":
                            target = value
                    body = self.rfile.read(length) if length else b""
                    target = target or f"{method} {path.split('?', 1)[0]}"
                    answer = _CANNED_ANSWERS.get(target)
                    backend._count(target)
                    if answer is None:
                        answer = backend._pass_on(method, path, headers, body)
                    self.wfile.write(answer)

        return Handler
