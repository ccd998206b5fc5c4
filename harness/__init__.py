"""Reproduce published LLM benchmark claims."""

__version__ = "0.1.0"
