"""The typed records of a run directory: manifest.json, metrics.json and the rows of scores.jsonl.

Each record reads its JSON file (`from_json`) and writes it back (`to_json`) without losing
fields it does not know: a field written by a newer version or another tool is kept in `extra`
and written out again, so that records round-trip across versions. The run store
(harness.store.RunStore) is the only code that opens the files.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

from harness.types import Reason, Score

__all__ = ["Invocation", "Manifest", "Metrics", "Reason", "RunStatus", "Score", "utc_now"]


def utc_now() -> str:
    """The timestamp format of every record: UTC, seconds, ISO 8601."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class RunStatus(StrEnum):
    RUNNING = "running"          # an invocation is (or was, until it crashed) working on it
    COMPLETE = "complete"        # every planned sample generated and scored
    INCOMPLETE = "incomplete"    # scored, but some generations failed: the same command retries them
    INTERRUPTED = "interrupted"  # stopped by Ctrl-C or a signal; the same command resumes it
    FAILED = "failed"            # stopped by an error; the same command resumes it


def _split(cls: type, d: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    names = {f.name for f in fields(cls)} - {"extra"}
    known = {k: v for k, v in d.items() if k in names}
    extra = {k: v for k, v in d.items() if k not in names}
    return known, extra


@dataclass
class Invocation:
    """One command that worked on the run (a run resumed three times has four)."""

    started: str
    resumed: bool = False
    samples_before: int = 0
    to_generate: int = 0
    generated: int = 0
    generation_seconds: float = 0.0
    scoring_seconds: float = 0.0
    ended: str | None = None
    outcome: str | None = None  # complete | incomplete | interrupted | failed
    usage: dict[str, Any] = field(default_factory=dict)
    pid: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {**self.extra, **{k: v for k, v in d.items() if v is not None}}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Invocation:
        known, extra = _split(cls, d)
        known.setdefault("started", "")
        known["usage"] = dict(known.get("usage") or {})
        return cls(**known, extra=extra)


@dataclass
class Manifest:
    """manifest.json: what a run is (identity, model, task, dataset, protocol), what it ran on,
    and every invocation that worked on it."""

    run_id: str
    identity: str
    status: RunStatus = RunStatus.RUNNING
    created: str = ""
    completed: str | None = None
    harness_version: str | None = None
    git_sha: str | None = None
    packages: dict[str, str] = field(default_factory=dict)
    hardware: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    task: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)
    backend: dict[str, Any] | None = None
    invocations: list[Invocation] = field(default_factory=list)
    # the study (repeats over seeds) the run belongs to, and every study that reused it
    study: dict[str, Any] | None = None
    studies: list[dict[str, Any]] = field(default_factory=list)
    # the grader settings the run's newest scores were made with (a change re-scores, never regenerates)
    scoring_identity: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.status, RunStatus):
            self.status = RunStatus(self.status)

    @property
    def benchmark(self) -> str:
        return str(self.task.get("benchmark") or self.task.get("name") or "?")

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = dict(self.extra)
        for f in fields(self):
            if f.name == "extra":
                continue
            v = getattr(self, f.name)
            if f.name == "invocations":
                v = [i.to_json() for i in v]
            elif f.name == "status":
                v = str(v)
            elif v is None and f.name in ("backend", "completed", "scoring_identity"):
                continue
            d[f.name] = v
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Manifest:
        known, extra = _split(cls, d)
        known.setdefault("run_id", "")
        known.setdefault("identity", "")
        known["invocations"] = [Invocation.from_json(i) for i in known.get("invocations") or []]
        for key in ("packages", "hardware", "model", "task", "dataset", "protocol"):
            known[key] = dict(known.get(key) or {})
        return cls(**known, extra=extra)


# Fields of metrics.json the runner writes around the statistics; the rest are the statistics
# harness.metrics computes (pass@1, standard errors, cons@k, ...) and task extras.
@dataclass
class Metrics:
    """metrics.json: the run's statistics (`stats`, as harness.metrics and the task compute
    them) and what they are about. Written flat, as one JSON object."""

    run_id: str
    model: str
    task: str
    benchmark: str
    protocol: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    problems_loaded: int = 0
    problems_without_samples: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    generation_seconds: float = 0.0
    this_invocation_seconds: float | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def scored(self) -> int:
        """Samples scored (errored generations included)."""
        return int(self.stats.get("samples") or 0)

    def get(self, key: str, default: Any = None) -> Any:
        """A field or a statistic by its name in metrics.json."""
        if key in self.stats:
            return self.stats[key]
        if key != "stats" and key in {f.name for f in fields(self)}:
            return getattr(self, key)
        return default

    def to_json(self) -> dict[str, Any]:
        d = dict(self.stats)
        for f in fields(self):
            if f.name == "stats":
                continue
            v = getattr(self, f.name)
            if v is not None:
                d[f.name] = v
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Metrics:
        known, stats = _split(cls, d)
        known.pop("stats", None)
        for key in ("run_id", "model", "task", "benchmark"):
            known[key] = str(known.get(key) or "?")
        known["protocol"] = dict(known.get("protocol") or {})
        known["usage"] = dict(known.get("usage") or {})
        known["problems_without_samples"] = list(known.get("problems_without_samples") or [])
        return cls(**known, stats=stats)
