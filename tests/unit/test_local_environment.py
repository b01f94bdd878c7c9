"""The local runtime gives each function only its own variables, as Lambda does (closedloop_local.lambdas)."""

import pytest

from closedloop_local.lambdas import own_environment
from infra import wiring

EVERYTHING = {
    **{name: "x" for function in wiring.FUNCTIONS for name in wiring.environment_names(function)},
    "SENDER_ADDRESS": "news@example.com",
    "PATH": "/usr/bin",
}


def test_a_function_sees_its_own_resources_and_the_common_variables():
    seen = own_environment(wiring.SENDER, EVERYTHING)
    assert set(wiring.environment_names(wiring.SENDER)) <= set(seen)
    assert {"SENDER_ADDRESS", "PATH"} <= set(seen)


def test_a_function_does_not_see_resources_it_is_not_wired_to():
    seen = own_environment(wiring.ADMIN, EVERYTHING)
    assert "TRACKING_KEYS_SECRET" not in seen and "REACTIONS_QUEUE_URL" not in seen
    assert {"API_KEY_SECRET", "EVENT_BUS_NAME"}.isdisjoint(own_environment(wiring.CLICK, EVERYTHING))


def test_a_progress_bar_whose_total_is_not_known_yet_waits_at_zero_rather_than_claiming_done():
    import io

    from closedloop_local.progress import Bar

    out = io.StringIO()
    bar = Bar("importing", out=out)
    bar.show(0, 0)
    bar.show(3, 3)
    assert out.getvalue().splitlines() == [
        "   importing [..............................]   0%  0/?",
        "   importing [##############################] 100%  3/3",
    ]


class _CountsReadOneAfterAnother:
    """An SQS client whose queue counts are read at different instants, as moto reads them: the one message's
    backoff ends between the visible count and the in-flight count of the first reading, so that reading finds it
    in neither; after that it waits, visible, for a receive."""

    def __init__(self) -> None:
        self.readings = 0

    def receive_message(self, **_: object) -> dict:
        return {}

    def get_queue_attributes(self, **_: object) -> dict:
        self.readings += 1
        visible = 0 if self.readings == 1 else 1
        return {
            "Attributes": {
                "ApproximateNumberOfMessages": str(visible),
                "ApproximateNumberOfMessagesNotVisible": "0",
                "ApproximateNumberOfMessagesDelayed": "0",
            }
        }


def test_drain_does_not_call_a_queue_quiet_on_one_reading_that_missed_a_message_between_its_counts():
    from closedloop_local.aws import QueueRef
    from closedloop_local.pump import DrainTimeout, Pump, Source

    queue = QueueRef(name="send", url="http://127.0.0.1/send", arn="arn:send", dlq_url="http://127.0.0.1/send-dlq")
    source = Source(name="send", queue=queue, function=wiring.SENDER, batch_size=10, eventbridge=False)
    pump = Pump(_CountsReadOneAfterAnother(), [source], invoker=None)

    with pytest.raises(DrainTimeout) as still_busy:
        pump.drain(timeout_s=0)
    assert still_busy.value.left == {"send": {"visible": 1, "in_flight": 0}}
