"""Runs: the typed records of a run directory (records.py). The run store itself is
harness.store.RunStore, the one writer and reader of run directories."""
