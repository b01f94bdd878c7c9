"""The local runtime gives each function only its own variables, as Lambda does (closedloop_local.lambdas)."""

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
