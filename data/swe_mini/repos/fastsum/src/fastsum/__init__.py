"""Sums of clamped values, computed in C."""

from fastsum._core import clamp_sum

__all__ = ["clamp_sum", "mean_clamped"]


def mean_clamped(values, lo, hi):
    values = list(values)
    if not values:
        raise ValueError("no values")
    return clamp_sum(values, lo, hi) / len(values)
