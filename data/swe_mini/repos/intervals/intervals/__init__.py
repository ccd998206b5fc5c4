"""Closed integer ranges [a, b]."""

from .ranges import covered, merge

__all__ = ["covered", "merge"]
