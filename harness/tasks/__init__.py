"""Tasks: load problems, build prompts, score completions. A task never generates text.

Adding a task family: a module with a Task subclass decorated `@register_task("family")` (or named
by the task YAML's `_target_`), and a YAML in configs/task/ holding every key's default. Adding a
task of an existing family is only the YAML.
"""

from __future__ import annotations

import hashlib
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from harness.errors import ConfigError, DataError
from harness.paths import bundled
from harness.registry import Registry
from harness.types import Completion, Message, Problem, Reason, Score

log = logging.getLogger(__name__)

REGISTRY: Registry[Task] = Registry("task family", "task.family")
REGISTRY.lazy("math", "harness.tasks.math:MathTask")
REGISTRY.lazy("gpqa", "harness.tasks.gpqa:GPQATask")
REGISTRY.lazy("swebench", "harness.tasks.swebench:SWEBenchTask")
register_task = REGISTRY.register


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
                 reason: Reason | str) -> Score:
    """The Score of one completion, carrying its finish reason and token counts along."""
    return Score(id=problem.id, sample=completion.sample, correct=correct, extracted=extracted,
                 reason=Reason(reason), finish_reason=completion.finish_reason,
                 output_tokens=completion.output_tokens, prompt_tokens=completion.prompt_tokens)


def load_rows(cfg: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows of a dataset, from a local file (`task.data_files`) or the hub (`task.dataset`).

    Returns (rows, source) where source records where the rows came from and a fingerprint of them.
    """
    import datasets

    data_files = cfg.get("data_files")
    if data_files:
        path = bundled(str(data_files))  # as given, else relative to the project root (data/...)
        if not path.exists():
            raise ConfigError("task.data_files", f"file not found: {path}")
        if path.is_dir():
            raise ConfigError("task.data_files", f"{path} is a directory; give one JSON, JSONL, CSV or parquet file")
        suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
        builder = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".jsonl.gz": "json",
                   ".csv": "csv"}.get(suffix.lower())
        if builder is None:
            raise ConfigError("task.data_files",
                              f"unsupported file type {suffix!r} (use .json, .jsonl, .csv or .parquet): {path}")
        if path.stat().st_size == 0:
            raise DataError(f"{path}: the file is empty (no problems)")
        try:
            ds = datasets.load_dataset(builder, data_files=str(path), split="train")
        except Exception as e:  # datasets raises many types; the user needs the file name and the cause
            cause: BaseException = e
            while cause.__cause__ is not None or cause.__context__ is not None:
                cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
            detail = str(cause).strip() or type(cause).__name__
            raise DataError(f"could not read {path} as {builder}: {detail}") from e
        source: dict[str, Any] = {"kind": "file", "path": str(path.resolve())}
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
                f"(JSON, JSONL, CSV or parquet with the same fields)."
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


def require_fields(rows: list[dict[str, Any]], fields: list[str], where: object,
                   non_empty: list[str] | tuple[str, ...] = (), id_field: str | None = None) -> None:
    """Every row has every field; the `non_empty` ones also hold a value (not null, not blank):
    a problem without an answer would otherwise be graded against the text 'None'."""
    if not rows:
        raise DataError(f"{where} holds no rows")
    for i, r in enumerate(rows):
        missing = [f for f in fields if f not in r]
        if missing:
            raise DataError(
                f"{where}: row {i} has no field {missing[0]!r} (fields present: {sorted(r)})"
            )
        for f in non_empty:
            v = r.get(f)
            if v is None or (isinstance(v, str) and not v.strip()):
                rid = r.get(id_field) if id_field else None
                named = f" (id {rid!r})" if rid is not None else ""
                raise DataError(f"{where}: row {i}{named} has an empty {f!r}; fix or drop the row")


def task_class(task_cfg: Mapping[str, Any]) -> type[Task]:
    """The class a task config names (its `_target_`, else its registered `family`)."""
    return REGISTRY.get(task_cfg.get("family"), task_cfg.get("_target_"))


def build_task(task_cfg: Mapping[str, Any], prompt_cfg: Mapping[str, Any]) -> Task:
    return task_class(task_cfg)(task_cfg, prompt_cfg)
