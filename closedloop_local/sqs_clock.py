"""SQS delays on the runtime clock: a message sent with DelaySeconds becomes visible when the runtime's clock (not
the wall clock) passes its delay.

The local runtime's clock can be moved (`POST /_local/clock`); whatever is delayed in the cloud — a click's settle
step, a throttled send coming back — must follow it, so a test or the demo moves the clock past the delay and calls
`/_local/drain` instead of waiting. The clock keeps running, so without a move a delay ends in real time, as in
SQS. Only delays are moved: visibility timeouts (a failed delivery's backoff) stay on the wall clock, because the
pump's retries must not depend on where a test set the clock. Only the local runtime installs this.
"""

from __future__ import annotations

from collections.abc import Callable

from moto.sqs.models import Message

from closedloop.clock import Clock


def follow(clock: Clock) -> Callable[[], None]:
    """Make moto's SQS delays follow `clock`; returns the function that puts moto's own back."""
    original_delay, original_delayed = Message.delay, Message.delayed

    def now_ms() -> float:
        return clock.now().timestamp() * 1000

    def delay(self: Message, delay_seconds: int) -> None:
        self.delayed_until = now_ms() + int(delay_seconds) * 1000

    def delayed(self: Message) -> bool:
        return now_ms() < self.delayed_until

    Message.delay = delay
    Message.delayed = property(delayed)

    def undo() -> None:
        Message.delay = original_delay
        Message.delayed = original_delayed

    return undo
