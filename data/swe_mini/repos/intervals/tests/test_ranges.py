import pytest

from intervals import covered, merge


def test_overlap():
    assert merge([(1, 5), (3, 8)]) == [(1, 8)]


def test_unsorted_input():
    assert merge([(10, 12), (1, 2)]) == [(1, 2), (10, 12)]


def test_nested():
    assert merge([(1, 10), (2, 3)]) == [(1, 10)]


def test_gap_of_one_kept():
    # regression: 4 is not covered, so these must stay apart
    assert merge([(1, 3), (5, 6)]) == [(1, 3), (5, 6)]
    assert covered([(1, 3), (5, 6)]) == 5


def test_empty_range_rejected():
    with pytest.raises(ValueError):
        merge([(3, 1)])
