"""The local runtime: moto, resources from wiring, the gateway, the pump, the scheduler and the outbox, started
and stopped as one. `Runtime` is used by the CLI (`closedloop local`), the demo and the e2e tests alike.

Configuration reaches the handlers exactly as in Lambda: through process environment variables (the ones
infra/wiring.py names), so the runtime patches os.environ while it runs and restores it on stop.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from pathlib import Path
from typing import Any

import boto3

from closedloop.clock import ShiftedClock, isoformat, parse_instant

from . import aws, lambdas, outbox
from .gateway import Gateway, Reply, Request
from .pump import DrainTimeout, Pump, sources_from
from .scheduler import Scheduler, UnknownSchedule

REPO_ROOT = Path(__file__).resolve().parent.parent


class _Environment:
    """os.environ changes that can be undone."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def set(self, values: dict[str, str | None]) -> None:
        for name, value in values.items():
            self._saved.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def restore(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved.clear()


def _services():
    """closedloop.services: the domain's wiring point (use_clock, reset)."""
    import closedloop.services

    return closedloop.services


def _reset_domain() -> None:
    """Forget every cached collaborator (pynamodb models included), so clients bind to this runtime's endpoint."""
    _services().reset()


def _reset_moto(endpoint: str | None) -> None:
    if endpoint:
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).read()
    outbox.forget()


class Runtime:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ticker: bool = False,
        quiet: bool = False,
        log_requests: bool = False,
        content_dir: Path | None = None,
        api_key: str | None = None,
        sender: str | None = None,
        in_process: bool = False,
    ) -> None:
        self.clock = ShiftedClock()
        self._host, self._port = host, port
        self._ticker = ticker
        self._quiet = quiet
        self._log_requests = log_requests
        self._content_dir = Path(content_dir or REPO_ROOT)
        self._api_key, self._sender = api_key, sender
        self._in_process = in_process
        self.invoker: lambdas.Environments | lambdas.InProcess | None = None
        self._env = _Environment()
        self._moto = None
        self.gateway: Gateway | None = None
        self.pump: Pump | None = None
        self.scheduler: Scheduler | None = None
        self.resources: aws.Resources | None = None

    # --- lifecycle ----------------------------------------------------------------------------------------------

    def start(self) -> Runtime:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every AWS call otherwise
        self.invoker = (lambdas.InProcess if self._in_process else lambdas.Environments)(self.clock, quiet=self._quiet)
        self.gateway = Gateway(
            clock=self.clock, invoker=self.invoker, host=self._host, port=self._port, log_requests=self._log_requests
        )
        outbox.capture_tags()
        self._moto, endpoint = aws.start_moto(self._host)
        # One moto per process: its backends are module globals, so start from a clean slate.
        _reset_moto(endpoint)
        self._env.set(aws.aws_environment(endpoint))
        self.resources = aws.create_resources(endpoint, sender=self._sender, api_key=self._api_key)
        self._env.set(self.resources.function_environment(base_url=self.base_url, content_dir=str(self._content_dir)))
        self._env.set(
            {
                "POWERTOOLS_SERVICE_NAME": "closedloop",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_NAMESPACE": "closedloop",
                **({"POWERTOOLS_LOG_LEVEL": "WARNING"} if self._quiet else {}),
            }
        )
        _reset_domain()
        _services().use_clock(self.clock)

        self.pump = Pump(
            boto3.client("sqs", endpoint_url=endpoint, region_name=aws.REGION),
            sources_from(self.resources),
            invoker=self.invoker,
        )
        self.scheduler = Scheduler(self.clock, self.invoker)
        self.gateway.add_function_routes()
        self._add_local_routes(self.gateway)
        self.gateway.start()
        self.pump.start()
        if self._ticker:
            self.scheduler.start()
        return self

    def stop(self) -> None:
        for part in (self.scheduler, self.pump, self.gateway):
            if part is not None:
                part.stop()
        if self.invoker is not None:
            self.invoker.close()
        if self._moto is not None:
            # moto's backends outlive its server (module globals): leave a clean slate for whoever comes next.
            _reset_moto(self.resources.endpoint if self.resources else None)
            self._moto.stop()
            self._moto = None
        try:
            _reset_domain()
        finally:
            self._env.restore()

    def __enter__(self) -> Runtime:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self.gateway is not None, "start() first"
        return self.gateway.base_url

    @property
    def api_key(self) -> str:
        assert self.resources is not None, "start() first"
        return self.resources.api_key

    # --- /_local routes ------------------------------------------------------------------------------------------

    def _add_local_routes(self, gateway: Gateway) -> None:
        gateway.add_local_route("GET", "/_local", self._index)
        gateway.add_local_route("GET", "/_local/clock", self._get_clock)
        gateway.add_local_route("POST", "/_local/clock", self._set_clock)
        gateway.add_local_route("POST", "/_local/drain", self._drain)
        gateway.add_local_route("POST", "/_local/schedules/{name}/run", self._run_schedule)
        gateway.add_local_route("GET", "/_local/outbox", self._outbox)
        gateway.add_local_route("GET", "/_local/outbox.html", self._outbox_page)

    def urls(self) -> dict[str, str]:
        base = self.base_url
        return {
            "api": base,
            "outbox": f"{base}/_local/outbox.html",
            "outbox (JSON)": f"{base}/_local/outbox",
            "clock": f"{base}/_local/clock",
            "drain": f"{base}/_local/drain",
            **{f"schedule {name}": f"{base}/_local/schedules/{name}/run" for name in self.scheduler.schedules},
        }

    def _index(self, request: Request) -> Reply:
        return Reply.json(200, {"urls": self.urls(), "now": isoformat(self.clock.now())})

    def _get_clock(self, request: Request) -> Reply:
        return Reply.json(200, {"now": isoformat(self.clock.now())})

    def _set_clock(self, request: Request) -> Reply:
        try:
            self.clock.set(parse_instant(str(request.json()["now"])))
        except (KeyError, TypeError, ValueError) as error:
            return Reply.json(400, {"message": f'send {{"now": "<ISO 8601 with zone>"}}: {error}'})
        return Reply.json(200, {"now": isoformat(self.clock.now())})

    def _drain(self, request: Request) -> Reply:
        timeout = float(request.query.get("timeout", 30))
        failures_before = self.pump.failures
        try:
            processed = self.pump.drain(timeout_s=timeout)
        except DrainTimeout as timeout_error:
            return Reply.json(
                504,
                {"message": str(timeout_error), "processed": timeout_error.processed, "left": timeout_error.left},
            )
        return Reply.json(
            200,
            {
                "processed": processed,
                "failed": self.pump.failures - failures_before,
                "dead_letters": self.pump.dead_letters(),
            },
        )

    def _run_schedule(self, request: Request, name: str) -> Reply:
        try:
            result = self.scheduler.run(name)
        except UnknownSchedule:
            return Reply.json(
                404, {"message": f"no schedule named {name!r}", "schedules": sorted(self.scheduler.schedules)}
            )
        return Reply(200, json.dumps(result, default=str).encode(), [("content-type", "application/json")])

    def _outbox(self, request: Request) -> Reply:
        if "text/html" in request.header("accept"):
            return self._outbox_page(request)
        return Reply.json(200, outbox.messages(request.query.get("to"), request.query.get("template")))

    def _outbox_page(self, request: Request) -> Reply:
        links = {"JSON": "/_local/outbox", "clock": "/_local/clock"}
        entries = outbox.messages(request.query.get("to"), request.query.get("template"))
        return Reply.html(200, outbox.page(entries, links=links))
