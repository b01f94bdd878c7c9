import pytest

from closedloop import thresholds
from tests.fakes import FakeLedger, FakePublisher


@pytest.mark.parametrize(
    "old, new, fired",
    [
        ({"travel": 2}, {"travel": 3}, ["travel-offers"]),
        ({}, {"travel": 5}, ["travel-offers"]),  # jumped past the mark in one write
        ({"travel": 3}, {"travel": 4}, []),  # already beyond: crossed before
        ({"travel": 1}, {"travel": 2}, []),
        ({"travel": 2, "cars": 2}, {"travel": 3, "cars": 3}, ["travel-offers", "car-offers"]),
        ({"travel": 2}, None, []),
    ],
)
def test_a_rule_is_crossed_by_the_write_that_takes_its_counter_from_below_to_the_mark(config, old, new, fired):
    assert [rule.id for rule in thresholds.crossed(old, new or {}, config)] == fired


def test_the_crossing_is_published_with_the_rule_template(config, now):
    ledger, publisher = FakeLedger(), FakePublisher()
    assert thresholds.on_profile_change("p-ada", {"travel": 2}, {"travel": 3}, config, ledger, publisher, now) == [
        "travel-offers"
    ]
    ((kind, detail),) = publisher.events
    assert (kind, detail["template"], detail["profile_id"], detail["value"]) == (
        "threshold.crossed",
        "travel-offers",
        "p-ada",
        3,
    )


def test_a_redelivered_stream_record_publishes_nothing_more(config, now):
    ledger, publisher = FakeLedger(), FakePublisher()
    for _ in range(3):
        thresholds.on_profile_change("p-ada", {"cars": 2}, {"cars": 3}, config, ledger, publisher, now)
    assert len(publisher.events) == 1


def test_a_crossing_whose_publication_failed_is_published_by_the_retry(config, now):
    ledger, publisher = FakeLedger(), FakePublisher()
    publisher.failures = 1
    with pytest.raises(ConnectionError):
        thresholds.on_profile_change("p-ada", {"cars": 2}, {"cars": 3}, config, ledger, publisher, now)
    thresholds.on_profile_change("p-ada", {"cars": 2}, {"cars": 3}, config, ledger, publisher, now)
    assert [detail["rule_id"] for _, detail in publisher.events] == ["car-offers"]


def test_a_rule_fires_once_per_profile_even_if_the_counter_crosses_again_later(config, now):
    ledger, publisher = FakeLedger(), FakePublisher()
    thresholds.on_profile_change("p-ada", {"cars": 2}, {"cars": 3}, config, ledger, publisher, now)
    thresholds.on_profile_change("p-ada", {"cars": 0}, {"cars": 3}, config, ledger, publisher, now)  # after a reset
    assert len(publisher.events) == 1
