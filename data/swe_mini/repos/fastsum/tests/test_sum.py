import pytest

from fastsum import clamp_sum, mean_clamped


def test_within_range():
    assert clamp_sum([1, 2, 3], 0, 10) == 6


def test_above_range():
    assert clamp_sum([5, 50], 0, 10) == 15


def test_bad_bounds():
    with pytest.raises(ValueError):
        clamp_sum([1], 3, 2)


def test_mean_empty():
    with pytest.raises(ValueError):
        mean_clamped([], 0, 1)
