"""Money amounts as integer cents."""

from .format import format_amount
from .parse import parse_amount

__all__ = ["format_amount", "parse_amount"]
