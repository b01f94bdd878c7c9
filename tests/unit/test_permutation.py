"""The keyed permutation behind A/B groups: a bijection, fixed per campaign, exact group sizes, spread evenly."""

from collections import Counter

import pytest

from closedloop.permutation import Groups, Permutation


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 65, 1000, 4097])
def test_every_position_maps_to_a_distinct_position_in_range(size):
    permutation = Permutation("c_1", size)
    assert sorted(permutation(i) for i in range(size)) == list(range(size))


def test_the_same_key_gives_the_same_order_and_another_key_another():
    first = [Permutation("c_1", 500)(i) for i in range(500)]
    assert first == [Permutation("c_1", 500)(i) for i in range(500)]
    assert first != [Permutation("c_2", 500)(i) for i in range(500)]


def test_positions_outside_the_audience_are_refused():
    with pytest.raises(ValueError):
        Permutation("c_1", 10)(10)


def test_groups_have_exactly_the_rounded_sizes_and_variants_split_evenly():
    size = 1001
    groups = Groups.of(size, 0.2, 0.05)
    permutation = Permutation("c_1", size)
    counted = Counter(groups.group(permutation(i), 3) for i in range(size))
    assert counted[("holdout", None)] == round(0.05 * size)
    assert counted[("rest", None)] == size - round(0.2 * size) - round(0.05 * size)
    per_variant = [counted[("test", v)] for v in range(3)]
    assert sum(per_variant) == round(0.2 * size)
    assert max(per_variant) - min(per_variant) <= 1


def test_the_test_group_is_spread_over_the_audience_not_its_first_positions():
    size = 10_000
    groups, permutation = Groups.of(size, 0.1, None), Permutation("c_9", size)
    in_test = [i for i in range(size) if groups.group(permutation(i), 2)[0] == "test"]
    tenths = Counter(i * 10 // size for i in in_test)
    assert len(in_test) == 1000
    assert all(70 <= tenths[t] <= 130 for t in range(10)), tenths  # about 100 in each tenth of the audience
