"""Handlers as plain functions, run the way Lambda runs them: one invocation at a time per execution environment.

Lambda never runs two invocations in one environment at once, and handlers rely on that: module-level state such
as a Powertools resolver's `current_event` belongs to the invocation in flight. So locally:

- `Environments` (the default) gives each function a pool of worker processes, spawned on demand (a cold start)
  and reused (warm), each running one invocation at a time. Concurrent requests get concurrent environments,
  so races between invocations happen in DynamoDB, as in the cloud, never inside one interpreter.
- `InProcess` runs handlers in this process, one invocation per function at a time: handy under a debugger.

A worker inherits the runtime's environment variables; the runtime's clock reaches it with every invocation.
With a batch handler's result comes why it failed each record it failed (`record_errors`), for the pump's
dead-letter reasons.
"""

from __future__ import annotations

import importlib
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

from infra import wiring

from . import record_errors
from .aws import ACCOUNT_ID, REGION

MAX_ENVIRONMENTS = 4  # per function: real concurrency for bursts of clicks; each one is a cold start to pay

Handler = Callable[[Any, Any], Any]


@dataclass
class LambdaContext:
    """The fields of the Lambda context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_s: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class HandlerError(Exception):
    """A handler raised (in whichever environment ran it); the message carries its traceback."""

    def __init__(self, message: str, summary: str | None = None, record_errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.summary = summary or message  # the error's last line: `ErrorType: message`
        # A batch processor that failed every record raises; what it collected per record before that.
        self.record_errors = record_errors or {}


@dataclass(frozen=True)
class Invocation:
    """A handler's return value, and the error of each record its batch processor failed (by record id)."""

    result: Any
    record_errors: dict[str, str] = field(default_factory=dict)


def failure_reasons(error: BaseException, record_ids: list[str] | set[str]) -> dict[str, str]:
    """Why each record of a failed invocation failed: its own error if the batch processor saw one, else the
    invocation's."""
    if not isinstance(error, HandlerError):
        return dict.fromkeys(record_ids, record_errors.last_line(error))
    return {record: error.record_errors.get(record, error.summary) for record in record_ids}


def load_handler(function: wiring.Function) -> Handler:
    """The function's `handler` (imported on first use, like a Lambda cold start)."""
    return importlib.import_module(function.handler_module).handler


def call(function: wiring.Function, event: Any) -> Any:
    """Call the function's handler once in this process with a fresh context; exceptions propagate."""
    context = LambdaContext(
        function_name=function.name, memory_limit_in_mb=function.memory_mb, timeout_s=function.timeout_s
    )
    return load_handler(function)(event, context)


# --- in this process ------------------------------------------------------------------------------------------


class InProcess:
    """One environment per function, in this process: invocations of one function take turns."""

    def __init__(self, clock: Any = None, quiet: bool = False) -> None:
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        record_errors.install()

    def invoke(self, function: wiring.Function, event: Any) -> Any:
        return self.invoke_batch(function, event).result

    def invoke_batch(self, function: wiring.Function, event: Any) -> Invocation:
        with self._locks[function.name], record_errors.collecting() as errors:
            try:
                result = call(function, event)
            except Exception as error:
                summary = record_errors.last_line(error)
                raise HandlerError(
                    f"{function.name}: {summary}\n{traceback.format_exc()}", summary=summary, record_errors=dict(errors)
                ) from error
        return Invocation(result, dict(errors))

    def close(self) -> None:
        pass


# --- in worker processes --------------------------------------------------------------------------------------


def _worker(function_name: str, connection: Any) -> None:
    """An execution environment: import the handler once, then run one invocation per message until told to stop."""
    import signal

    from closedloop import services
    from closedloop.clock import ShiftedClock

    (function,) = [f for f in wiring.FUNCTIONS if f.name == function_name]
    clock = ShiftedClock()
    services.use_clock(clock)
    record_errors.install()
    # Ctrl-C reaches the whole process group; the runtime stops its environments itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            message = connection.recv()
        except EOFError:  # the runtime went away
            return
        if message is None:
            return
        event, now = message
        clock.set(datetime.fromisoformat(now))
        with record_errors.collecting() as errors:
            try:
                answer = ("ok", call(function, event), errors)
            except Exception as error:  # reported to the caller, as Lambda reports a function error
                answer = ("error", (record_errors.last_line(error), traceback.format_exc()), errors)
        connection.send(answer)


def own_environment(function: wiring.Function, environ: Mapping[str, str]) -> dict[str, str]:
    """The runtime's variables less the resources this function is not wired to: what its Lambda would see.

    The runtime sets every function's variables in its own process; a worker gets only its function's, so a
    handler reaching for a resource it has no grant for fails here as it would in the cloud.
    """
    everyone = {name for f in wiring.FUNCTIONS for name in wiring.environment_names(f)}
    foreign = everyone - set(wiring.environment_names(function))
    return {name: value for name, value in environ.items() if name not in foreign}


class _Environment:
    """A worker interpreter (`python -m closedloop_local.lambdas <function> <fd>`) and a socket to it.

    A plain subprocess rather than multiprocessing: spawn would re-import the caller's __main__, and fork would
    copy a process full of server threads.
    """

    def __init__(self, function: wiring.Function, quiet: bool) -> None:
        ours, theirs = socket.socketpair()
        environment = dict(
            own_environment(function, os.environ), PYTHONPATH=os.pathsep.join(p or os.getcwd() for p in sys.path)
        )
        self._process = subprocess.Popen(
            [sys.executable, "-m", "closedloop_local.lambdas", function.name, str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            env=environment,
            # Quiet: the handler's stdout (JSON logs, EMF metrics) is dropped; its stderr (tracebacks) is kept.
            stdout=subprocess.DEVNULL if quiet else None,
        )
        theirs.close()
        self._connection = Connection(ours.detach())

    def invoke(self, event: Any, now: str) -> tuple[str, Any, Any]:
        self._connection.send((event, now))
        try:
            return self._connection.recv()
        except (EOFError, OSError) as error:
            raise HandlerError(f"the execution environment exited (code {self._process.poll()})") from error

    def close(self) -> None:
        self.ask_to_stop()
        self.wait()

    def ask_to_stop(self) -> None:
        try:
            self._connection.send(None)
        except OSError:
            pass

    def wait(self) -> None:
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=5)
        self._connection.close()


class _Pool:
    def __init__(self, function: wiring.Function, size: int, quiet: bool) -> None:
        self._function = function
        self._quiet = quiet
        self._slots = threading.BoundedSemaphore(size)
        self._idle: queue.LifoQueue[_Environment] = queue.LifoQueue()
        self._all: list[_Environment] = []
        self._lock = threading.Lock()

    def invoke(self, event: Any, now: str) -> Invocation:
        with self._slots:
            try:
                environment = self._idle.get_nowait()
            except queue.Empty:
                environment = _Environment(self._function, self._quiet)  # a cold start
                with self._lock:
                    self._all.append(environment)
            try:
                status, value, detail = environment.invoke(event, now)
            except HandlerError:
                with self._lock:
                    self._all.remove(environment)
                environment.close()
                raise
            self._idle.put(environment)
        if status == "error":
            summary, trace = value
            raise HandlerError(f"{self._function.name}: {summary}\n{trace}", summary=summary, record_errors=detail)
        return Invocation(value, detail)

    def close(self) -> list[_Environment]:
        """Ask every environment to stop; the caller waits for them (all pools stop at once)."""
        with self._lock:
            environments, self._all = self._all, []
        for environment in environments:
            environment.ask_to_stop()
        return environments


class Environments:
    """Per function, a pool of worker processes (spawned on demand, reused), one invocation at a time each."""

    def __init__(self, clock: Any, size: int = MAX_ENVIRONMENTS, quiet: bool = False) -> None:
        self._clock = clock
        self._size = size
        self._quiet = quiet
        self._pools: dict[str, _Pool] = {}
        self._lock = threading.Lock()

    def invoke(self, function: wiring.Function, event: Any) -> Any:
        return self.invoke_batch(function, event).result

    def invoke_batch(self, function: wiring.Function, event: Any) -> Invocation:
        with self._lock:
            pool = self._pools.get(function.name)
            if pool is None:
                pool = self._pools[function.name] = _Pool(function, self._size, self._quiet)
        return pool.invoke(event, self._clock.now().isoformat())

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        stopping = [environment for pool in pools for environment in pool.close()]
        for environment in stopping:
            environment.wait()


def report(error: BaseException, where: str) -> None:
    """Log a failed invocation to stderr the way CloudWatch would show it."""
    print(f"[{where}] {error if isinstance(error, HandlerError) else ''}", file=sys.stderr)
    if not isinstance(error, HandlerError):
        traceback.print_exception(error)


if __name__ == "__main__":
    _worker(sys.argv[1], Connection(int(sys.argv[2])))
