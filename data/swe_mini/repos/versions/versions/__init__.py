"""MAJOR.MINOR.PATCH versions."""

from .version import compare, newest, parse

__all__ = ["compare", "newest", "parse"]
