"""The local runtime: moto, resources from wiring, the gateway, the pump, the scheduler and the outbox, started
and stopped as one. `Runtime` is used by the CLI (`closedloop local`), the demo and the e2e tests alike.

Configuration reaches the handlers exactly as in Lambda: through process environment variables (the ones
infra/wiring.py names), so the runtime patches os.environ while it runs and restores it on stop.

The content (templates/ and config/) is checked before anything starts, so a broken file stops the runtime with
one sentence instead of failing a recipient's mail later. moto always listens on the loopback interface: it has
no authentication, whatever host the gateway is asked to serve on.
"""

from __future__ import annotations

import logging
import os
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from closedloop.clock import ShiftedClock

from . import aws, lambdas, local_routes, moto_speedups, outbox, s3_proxy, sqs_clock
from .gateway import Gateway
from .pump import Pump, sources_from
from .scheduler import Scheduler

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


def check_content(content_dir: Path) -> None:
    """Raise closedloop's ConfigError naming the first problem in the templates and configuration."""
    from closedloop.content import check_content as check

    check(content_dir)


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
        self._content_dir = Path(content_dir or REPO_ROOT).resolve()
        self._api_key, self._sender = api_key, sender
        self._in_process = in_process
        self.invoker: lambdas.Environments | lambdas.InProcess | None = None
        self._env = _Environment()
        self._moto = None
        self._moto_endpoint: str | None = None
        self.gateway: Gateway | None = None
        self.pump: Pump | None = None
        self.scheduler: Scheduler | None = None
        self.resources: aws.Resources | None = None
        self._undo: list[Callable[[], None]] = []  # what start patched into moto, to take out again

    @property
    def content_dir(self) -> Path:
        """The folder holding the templates/ and config/ the functions read."""
        return self._content_dir

    # --- lifecycle ----------------------------------------------------------------------------------------------

    def start(self) -> Runtime:
        """Start every part; if one fails, stop those already running and raise."""
        check_content(self._content_dir)
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> Runtime:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every AWS call otherwise
        self.invoker = (lambdas.InProcess if self._in_process else lambdas.Environments)(self.clock, quiet=self._quiet)
        self.gateway = Gateway(
            clock=self.clock, invoker=self.invoker, host=self._host, port=self._port, log_requests=self._log_requests
        )
        outbox.capture_tags()
        self._undo += [moto_speedups.install(), sqs_clock.follow(self.clock)]
        self._moto, endpoint = aws.start_moto("127.0.0.1", remember_dispatch=True)
        self._moto_endpoint = endpoint
        # One moto per process: its backends are module globals, so start from a clean slate.
        _reset_moto(endpoint)
        self._env.set(aws.aws_environment(endpoint))
        self.resources = aws.create_resources(endpoint, sender=self._sender, api_key=self._api_key)
        self._env.set(self.resources.function_environment(base_url=self.base_url, content_dir=str(self._content_dir)))
        # S3 through the gateway (closedloop_local.s3_proxy): presigned upload URLs then lead to the runtime's port.
        self._env.set({"AWS_ENDPOINT_URL_S3": f"{self.base_url}{s3_proxy.PREFIX}"})
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
        self.scheduler.sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=aws.REGION)
        self.gateway.add_function_routes()
        local_routes.add(self.gateway, self)
        s3_proxy.add(self.gateway, endpoint)
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
            _reset_moto(self._moto_endpoint)
            self._moto.stop()
            self._moto = None
        while self._undo:
            self._undo.pop()()
        try:
            _reset_domain()
        finally:
            self._env.restore()

    def __enter__(self) -> Runtime:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def address(self) -> str:
        """Where the runtime was asked to listen (host:port), for messages about it."""
        return f"{self._host}:{self._port}"

    @property
    def base_url(self) -> str:
        assert self.gateway is not None, "start() first"
        return self.gateway.base_url

    @property
    def api_key(self) -> str:
        assert self.resources is not None, "start() first"
        return self.resources.api_key

    def urls(self) -> dict[str, str]:
        return local_routes.urls(self)
