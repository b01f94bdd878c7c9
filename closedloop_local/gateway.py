"""The local API Gateway: HTTP requests in, payload format 2.0 events to the wiring handlers, their answers out.

Both wiring APIs (tracking and admin) are served on one host and port; their paths do not collide. Local-only
routes (/_local/...) are plain Python callables registered by the runtime. Each request runs on its own thread.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any
from urllib.parse import parse_qsl, unquote

from infra import wiring

from . import lambdas
from .aws import ACCOUNT_ID

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}


@dataclass
class Request:
    method: str
    path: str
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
    def html(cls, status: int, text: str) -> Reply:
        return cls(status, text.encode(), [("content-type", "text/html; charset=utf-8")])


LocalHandler = Callable[..., Reply]


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    route_key: str
    function: wiring.Function | None = None
    api: wiring.Api | None = None
    local: LocalHandler | None = None


def path_pattern(template: str) -> re.Pattern[str]:
    """API Gateway path syntax as a regex: {name} is one segment, {name+} is the rest of the path."""
    regex = ""
    for part in re.split(r"(\{[^}]+\})", template):
        if part.startswith("{") and part.endswith("+}"):
            regex += f"(?P<{part[1:-2]}>.+)"
        elif part.startswith("{"):
            regex += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            regex += re.escape(part)
    return re.compile(f"^{regex}$")


def to_event(request: Request, route: _Route, path_parameters: dict[str, str], *, now_ms: int, time_text: str) -> dict:
    """The API Gateway HTTP API payload format 2.0 event for `request`."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        name = name.lower()
        if name in _HOP_BY_HOP:
            continue
        if name == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(request.raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    host = headers.get("host", "127.0.0.1")
    api_id = route.api.id if route.api else "local"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.path,
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": api_id,
            "domainName": host.split(":")[0],
            "domainPrefix": host.split(".")[0].split(":")[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route.route_key,
            "stage": "$default",
            "time": time_text,
            "timeEpoch": now_ms,
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if request.body:
        try:
            event["body"] = request.body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(request.body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def from_result(result: Any) -> Reply:
    """A handler's return value as API Gateway turns it into HTTP (format 2.0, incl. the inferred shape)."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # No statusCode: API Gateway assumes 200 and JSON; a string is the body as is.
        body = result if isinstance(result, str) else json.dumps(result)
        return Reply(200, body.encode(), [("content-type", "application/json")])
    headers: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        headers.append((name, str(value)))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((name, str(v)) for v in values)
    for cookie in result.get("cookies") or []:
        headers.append(("set-cookie", cookie))
    body = result.get("body") or ""
    payload = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    if payload and not any(n.lower() == "content-type" for n, _ in headers):
        headers.append(("content-type", "application/json"))
    return Reply(int(result["statusCode"]), payload, headers)


class Gateway:
    """Routes of the wiring APIs plus local routes, served by a ThreadingHTTPServer."""

    def __init__(self, *, clock, invoker, host: str = "127.0.0.1", port: int = 0, log_requests: bool = False) -> None:
        self._clock = clock
        self._invoker = invoker
        self._routes: list[_Route] = []
        self._log_requests = log_requests
        self._server = _Server((host, port), _make_handler(self))
        self._thread: Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add_function_routes(self, functions: tuple[wiring.Function, ...] = wiring.FUNCTIONS) -> None:
        for function in functions:
            for route in function.routes:
                self._routes.append(
                    _Route(
                        method=route.method,
                        pattern=path_pattern(route.path),
                        route_key=f"{route.method} {route.path}",
                        function=function,
                        api=route.api,
                    )
                )

    def add_local_route(self, method: str, path: str, handler: LocalHandler) -> None:
        """A route that exists only locally; `handler(request, **path_parameters)` returns a Reply."""
        self._routes.append(
            _Route(method=method, pattern=path_pattern(path), route_key=f"{method} {path}", local=handler)
        )

    def start(self) -> None:
        self._thread = Thread(target=self._server.serve_forever, name="gateway", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(self, request: Request) -> Reply:
        for route in self._routes:
            match = route.pattern.match(request.path)
            if match and route.method == request.method:
                parameters = {k: unquote(v) for k, v in match.groupdict().items()}
                try:
                    if route.local is not None:
                        return route.local(request, **parameters)
                    return self._invoke(route, request, parameters)
                except Exception as error:  # noqa: BLE001 - API Gateway answers 500 whatever went wrong
                    lambdas.report(error, f"gateway {route.route_key}")
                    return Reply.json(500, {"message": "Internal Server Error"})
        return Reply.json(404, {"message": "Not Found"})

    def _invoke(self, route: _Route, request: Request, parameters: dict[str, str]) -> Reply:
        now = self._clock.now()
        event = to_event(
            request,
            route,
            parameters,
            now_ms=int(now.timestamp() * 1000),
            time_text=now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        )
        return from_result(self._invoker.invoke(route.function, event))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # bursts of concurrent clicks must not overflow the listen backlog


def _make_handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "closedloop-local"

        def _serve(self) -> None:
            path, _, raw_query = self.path.partition("?")
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY_BYTES:
                self._discard(length)
                self.close_connection = True
                reply = Reply.json(413, {"message": "Request Entity Too Large"})
            else:
                request = Request(
                    method=self.command,
                    path=path,
                    raw_query=raw_query,
                    headers=list(self.headers.items()),
                    body=self.rfile.read(length) if length else b"",
                    source_ip=self.client_address[0],
                )
                reply = gateway.handle(request)
            self.send_response(reply.status)
            for name, value in reply.headers:
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("content-length", str(len(reply.body)))
            if self.close_connection:
                self.send_header("connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)

        def _discard(self, length: int) -> None:
            # Read what the client sends anyway (bounded), so it sees the 413 instead of a broken pipe.
            left = min(length, 8 * MAX_BODY_BYTES)
            while left > 0:
                chunk = self.rfile.read(min(left, 1 << 20))
                if not chunk:
                    break
                left -= len(chunk)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            if gateway._log_requests:
                sys.stderr.write(f"[gateway] {self.address_string()} {format % args}\n")

    return _Handler
