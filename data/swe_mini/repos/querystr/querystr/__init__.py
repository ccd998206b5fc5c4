"""Parse and build URL query strings."""

from .qs import build, parse

__all__ = ["build", "parse"]
