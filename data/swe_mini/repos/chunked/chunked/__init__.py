"""Split sequences into fixed-size pieces."""

from .core import chunk, windows

__all__ = ["chunk", "windows"]
