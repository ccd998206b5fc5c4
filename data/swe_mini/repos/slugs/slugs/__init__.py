"""URL slugs from titles."""

from .slug import slugify

__all__ = ["slugify"]
