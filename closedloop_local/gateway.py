"""The local API Gateway: HTTP requests in, payload format 2.0 events to the wiring handlers, their answers out.

Both wiring APIs (tracking and admin) are served on one host and port; their paths do not collide. Local-only
routes (/_local/...) are plain Python callables registered by the runtime. The HTTP side is Werkzeug's threaded
WSGI server (one thread per request): it de-chunks chunked bodies and closes every connection after its answer,
so a body is never read as a next request; `request_body` holds clients to Content-Length, and a socket timeout
bounds every wait for a client.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from threading import Thread
from typing import Any
from urllib.parse import unquote, urlsplit

from werkzeug.serving import WSGIRequestHandler, make_server

from infra import wiring

from . import lambdas
from .http_messages import Reply, Request
from .payload import from_result, to_event
from .request_body import MAX_BODY_BYTES, BodyRefused, read_body

READ_TIMEOUT_S = 5  # a client that stops sending (a short body, a half-sent request) is answered or dropped then
_RAW_TARGET = "closedloop.raw_target"  # the request target as sent: API Gateway's rawPath is not decoded
_RAW_HEADERS = "closedloop.raw_headers"  # every header as sent: WSGI's environ joins repeats and drops some

LocalHandler = Callable[..., Reply]


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    route_key: str
    function: wiring.Function | None = None
    api: wiring.Api | None = None
    local: LocalHandler | None = None
    max_body: int | None = None  # a local route's own body limit (the S3 stand-in takes files); None: API Gateway's


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


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


class Gateway:
    """Routes of the wiring APIs plus local routes, served by Werkzeug's threaded WSGI server."""

    def __init__(self, *, clock, invoker, host: str = "127.0.0.1", port: int = 0, log_requests: bool = False) -> None:
        self._clock = clock
        self._invoker = invoker
        self._routes: list[_Route] = []
        self._server = make_server(host, port, self.wsgi, threaded=True, request_handler=_handler(log_requests))
        self._thread: Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

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

    def add_local_route(self, method: str, path: str, handler: LocalHandler, *, max_body: int | None = None) -> None:
        """A route that exists only locally; `handler(request, **path_parameters)` returns a Reply."""
        self._routes.append(
            _Route(
                method=method,
                pattern=path_pattern(path),
                route_key=f"{method} {path}",
                local=handler,
                max_body=max_body,
            )
        )

    def _body_limit(self, method: str, target: str) -> int:
        path = target.partition("?")[0] if target.startswith("/") else urlsplit(target).path
        for route in self._routes:
            if route.max_body and route.method == method and route.pattern.match(path):
                return route.max_body
        return MAX_BODY_BYTES

    def start(self) -> None:
        self._thread = Thread(target=self._server.serve_forever, name="gateway", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits for serve_forever, which never ran otherwise
            self._server.shutdown()
            self._thread = None
        self._server.server_close()

    # --- requests -----------------------------------------------------------------------------------------------

    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        reply = self._answer(environ)
        headers = [(n, v) for n, v in reply.headers if n.lower() not in ("content-length", "connection")]
        headers.append(("Content-Length", str(len(reply.body))))
        start_response(_status_line(reply.status), headers)
        return [b"" if environ["REQUEST_METHOD"] == "HEAD" else reply.body]

    def _answer(self, environ: dict[str, Any]) -> Reply:
        headers = list(environ[_RAW_HEADERS])
        try:
            body = read_body(
                environ["wsgi.input"], headers, self._body_limit(environ["REQUEST_METHOD"], environ[_RAW_TARGET])
            )
        except BodyRefused as refused:
            return Reply.error(refused.status, refused.code, str(refused))
        target = environ[_RAW_TARGET]
        if not target.startswith("/"):  # absolute form: http://host/path?query
            parts = urlsplit(target)
            target = f"{parts.path or '/'}?{parts.query}"
        path, _, raw_query = target.partition("?")
        request = Request(
            method=environ["REQUEST_METHOD"],
            path=path,
            raw_query=raw_query,
            headers=headers,
            body=body,
            source_ip=environ.get("REMOTE_ADDR", ""),
        )
        return self.handle(request)

    def handle(self, request: Request) -> Reply:
        for route in self._routes:
            match = route.pattern.match(request.path)
            if match and route.method == request.method:
                parameters = {k: unquote(v) for k, v in match.groupdict().items()}
                try:
                    if route.local is not None:
                        return route.local(request, **parameters)
                    return self._invoke(route, request, parameters)
                except Exception as error:  # API Gateway answers 500 whatever went wrong
                    lambdas.report(error, f"gateway {route.route_key}")
                    return Reply.error(500, "internal_error", "Internal Server Error")
        return Reply.error(404, "route_not_found", f"no route for {request.method} {request.path}")

    def _invoke(self, route: _Route, request: Request, parameters: dict[str, str]) -> Reply:
        event = to_event(
            request,
            route_key=route.route_key,
            api_id=route.api.id if route.api else "local",
            path_parameters=parameters,
            now=self._clock.now(),
        )
        return from_result(self._invoker.invoke(route.function, event))


def _handler(log_requests: bool) -> type[WSGIRequestHandler]:
    class _Handler(WSGIRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = READ_TIMEOUT_S  # socketserver applies it to the connection: every read and write is bounded

        def make_environ(self) -> dict[str, Any]:
            environ = super().make_environ()
            environ[_RAW_TARGET] = self.path
            environ[_RAW_HEADERS] = self.headers.items()
            return environ

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """Malformed requests (bad request line, too many headers) get JSON like every other error."""
            try:
                status = HTTPStatus(code)
            except ValueError:
                status = HTTPStatus.BAD_REQUEST
            body = json.dumps(
                {"code": status.phrase.lower().replace(" ", "_"), "message": message or status.phrase}
            ).encode()
            self.log_error("code %d, message %s", code, message)
            self.send_response(code, status.phrase)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(body)

        def log(self, type: str, message: str, *args: Any) -> None:  # Werkzeug's signature
            if log_requests:
                sys.stderr.write(f"[gateway] {self.address_string()} {message % args}\n")

    return _Handler
