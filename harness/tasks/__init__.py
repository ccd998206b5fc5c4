"""Tasks: load problems, build prompts, score completions. A task never generates text."""

from __future__ import annotations

import hashlib
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, DataError
from harness.types import Completion, Message, Problem, Score

log = logging.getLogger(__name__)


class Task(ABC):
    """Base class. Subclasses set how rows become problems and how completions are scored."""

    def __init__(self, cfg: Mapping[str, Any], prompt_cfg: Mapping[str, Any]):
        self.cfg = cfg
        self.prompt_cfg = prompt_cfg
        self.name: str = cfg["name"]
        self.source: dict[str, Any] = {}

    @abstractmethod
    def load(self) -> list[Problem]: ...

    @abstractmethod
    def prompt(self, problem: Problem) -> list[Message]: ...

    @abstractmethod
    def score(self, problem: Problem, completion: Completion) -> Score: ...

    def group_fields(self) -> list[str]:
        """Problem meta fields to break pass@1 down by (e.g. subject, level)."""
        return list(self.cfg.get("group_by") or [])

    def chat(self, user: str) -> list[Message]:
        """The model's system prompt (when it has one) and the user turn."""
        messages: list[Message] = []
        if self.prompt_cfg.get("system"):
            messages.append({"role": "system", "content": self.prompt_cfg["system"]})
        messages.append({"role": "user", "content": user})
        return messages

    def same_answer(self, a: str, b: str) -> bool:
        """Whether two extracted answers are the same answer, for majority voting (cons@k).
        Default: equal as normalised strings (metrics.same_text)."""
        from harness.metrics import same_text

        return same_text(a, b)

    def extra_metrics(self, scores: list[Score]) -> dict[str, Any]:
        """Task-specific metrics merged into metrics.json (e.g. SWE-bench's `resolved`)."""
        return {}


def sample_score(problem: Problem, completion: Completion, correct: bool, extracted: str | None,
                 reason: str) -> Score:
    """The Score of one completion, carrying its finish reason and token counts along."""
    return Score(id=problem.id, sample=completion.sample, correct=correct, extracted=extracted,
                 reason=reason, finish_reason=completion.finish_reason,
                 output_tokens=completion.output_tokens, prompt_tokens=completion.prompt_tokens)


def load_rows(cfg: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows of a dataset, from a local file (`task.data_files`) or the hub (`task.dataset`).

    Returns (rows, source) where source records where the rows came from and a fingerprint of them.
    """
    import datasets

    data_files = cfg.get("data_files")
    if data_files:
        path = Path(str(data_files)).expanduser()
        if not path.is_absolute() and not path.exists():
            bundled = Path(__file__).resolve().parents[2] / path  # paths relative to the project root
            if bundled.exists():
                path = bundled
        if not path.exists():
            raise ConfigError("task.data_files", f"file not found: {path}")
        suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
        builder = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".jsonl.gz": "json"}.get(suffix)
        if builder is None:
            raise ConfigError("task.data_files", f"unsupported file type {suffix!r} (use .json, .jsonl or .parquet): {path}")
        try:
            ds = datasets.load_dataset(builder, data_files=str(path), split="train")
        except Exception as e:  # datasets raises many types; the user needs the file name
            raise DataError(f"could not read {path} as {builder}: {e}") from e
        source = {"kind": "file", "path": str(path.resolve())}
    else:
        hub = cfg.get("dataset")
        if not hub:
            raise ConfigError("task.dataset", "no dataset configured and no task.data_files given")
        try:
            ds = datasets.load_dataset(
                hub, cfg.get("subset"), split=cfg.get("split", "test"), revision=cfg.get("revision")
            )
        except Exception as e:
            raise DataError(
                f"could not load {hub} (split {cfg.get('split')}, revision {cfg.get('revision')}) "
                f"from the hub or the local cache: {e}. Offline? Pass task.data_files=PATH "
                f"(JSON, JSONL or parquet with the same fields)."
            ) from e
        source = {
            "kind": "hub",
            "dataset": hub,
            "subset": cfg.get("subset"),
            "split": cfg.get("split"),
            "revision": cfg.get("revision"),
        }
    rows = [dict(r) for r in ds]
    source["rows"] = len(rows)
    source["fingerprint"] = fingerprint(rows)
    return rows, source


def fingerprint(rows: list[dict[str, Any]]) -> str:
    h = hashlib.sha256()
    for r in rows:
        h.update(json.dumps(r, sort_keys=True, default=str, ensure_ascii=False).encode())
        h.update(b"\n")
    return "sha256:" + h.hexdigest()


def require_fields(rows: list[dict[str, Any]], fields: list[str], where: str) -> None:
    if not rows:
        raise DataError(f"{where} holds no rows")
    for i, r in enumerate(rows):
        missing = [f for f in fields if f not in r]
        if missing:
            raise DataError(
                f"{where}: row {i} has no field {missing[0]!r} (fields present: {sorted(r)})"
            )


def build_task(task_cfg: Mapping[str, Any], prompt_cfg: Mapping[str, Any]) -> Task:
    family = task_cfg.get("family")
    if family == "math":
        from harness.tasks.math import MathTask

        return MathTask(task_cfg, prompt_cfg)
    if family == "gpqa":
        from harness.tasks.gpqa import GPQATask

        return GPQATask(task_cfg, prompt_cfg)
    if family == "swebench":
        from harness.tasks.swebench import SWEBenchTask

        return SWEBenchTask(task_cfg, prompt_cfg)
    raise ConfigError("task.family", f"unknown task family {family!r} (known: math, gpqa, swebench)")
