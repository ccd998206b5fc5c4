"""Answer extraction and equivalence checking."""
