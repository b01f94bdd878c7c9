"""Handlers as plain functions: import a wiring function's module and call it with a Lambda-like context."""

from __future__ import annotations

import importlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from infra import wiring

from .aws import ACCOUNT_ID, REGION

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


def load_handler(function: wiring.Function) -> Handler:
    """The function's `handler` (imported on first use, like a Lambda cold start)."""
    return importlib.import_module(function.handler_module).handler


def invoke(function: wiring.Function, event: Any) -> Any:
    """Call the function's handler once with `event` and a fresh context; exceptions propagate."""
    context = LambdaContext(
        function_name=function.name, memory_limit_in_mb=function.memory_mb, timeout_s=function.timeout_s
    )
    return load_handler(function)(event, context)
