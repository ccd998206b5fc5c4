"""Replay recorded completions (produced elsewhere) through the same scoring and metrics.

File format, JSONL, one line per completion:
    {"id": <problem id>, "completion": <text>, "sample": <int, optional>,
     "finish_reason": <"stop"|"length", optional>, "output_tokens": <int, optional>}

A line without a finish reason is recorded as "unknown" (not "stop"): graders then decide from the
text itself whether the completion finished. Other tools' spellings are read ("eos", "max_tokens",
"truncated", ...: see FINISH_ALIASES); an unrecognised one is "unknown", with a warning. A null
completion (a request that failed where it was recorded) is an error sample, never the text
"null"; a number is read as its text; an object or list is an error naming the line, as are
bytes that are not UTF-8 and a "sample" that is not a whole number.

The number of samples per problem is whatever the file holds, up to `sampling.k`: a problem with
more lines than k keeps its first k samples (indices 0..k-1), with a warning, so that the run's
protocol (k) and its samples agree. An empty file is an error. Ids are matched as strings. A line
whose id is not in the dataset is an error naming the id and the line; problems without any line
are reported. The file is streamed twice (once to plan, once to replay); it is never held in
memory.

SWE-bench predictions files are accepted too, as written by SWE-agent, mini-swe-agent, Agentless
and the swebench harness itself: records {"instance_id", "model_name_or_path", "model_patch"},
as JSONL (one per line), a JSON list, or a JSON object keyed by instance id. Each record becomes a
completion whose text is the patch inside <patch></patch> tags (an empty or null patch becomes an
empty completion); several records for one instance are its samples 0..n-1. A JSON (not JSONL)
file is read whole.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.backends import Backend, register_backend
from harness.errors import ConfigError, DataError
from harness.types import Completion, Problem, Request

log = logging.getLogger(__name__)

TEXT_KEYS = ("completion", "text", "response", "output")
PATCH_KEY = "model_patch"

# Finish reasons as other tools spell them, in the harness's words: "stop" (the model ended the
# completion), "length" (the token limit cut it), "error" (nothing usable was generated).
FINISH_ALIASES = {
    "stop": "stop", "eos": "stop", "eos_token": "stop", "stop_sequence": "stop", "end_turn": "stop",
    "stop_token": "stop", "completed": "stop", "finished": "stop",
    "length": "length", "max_tokens": "length", "max_length": "length", "max_new_tokens": "length",
    "truncated": "length", "token_limit": "length", "model_length": "length",
    "error": "error", "abort": "error", "aborted": "error", "timeout": "error",
    "unknown": "unknown",
}


def _finish_reason(value: Any, where: str) -> str:
    """The finish reason of a replay line, normalised; anything unrecognised is "unknown" (the
    graders then judge from the text whether the completion finished), with one warning."""
    if value is None or value == "":
        return "unknown"
    norm = FINISH_ALIASES.get(str(value).strip().lower())
    if norm is None:
        if str(value) not in _UNKNOWN_REASONS_SEEN:
            _UNKNOWN_REASONS_SEEN.add(str(value))
            log.warning("%s: finish_reason %r is not one the harness knows (stop, length, error, or their "
                        "usual spellings); recorded as unknown", where, value)
        return "unknown"
    return norm


_UNKNOWN_REASONS_SEEN: set[str] = set()


def _is_prediction(rec: Any) -> bool:
    return isinstance(rec, dict) and "instance_id" in rec and PATCH_KEY in rec and "id" not in rec


def _from_prediction(rec: dict[str, Any]) -> dict[str, Any]:
    patch = rec.get(PATCH_KEY)
    text = f"<patch>\n{patch}</patch>" if isinstance(patch, str) and patch.strip() else ""
    return {"id": rec["instance_id"], "completion": text, "finish_reason": "stop"}


def _prediction_records(data: Any) -> list[dict[str, Any]] | None:
    """A whole-file JSON of predictions (list, or object keyed by instance id) as records, or None."""
    if isinstance(data, list) and data and all(_is_prediction(r) for r in data):
        return [_from_prediction(r) for r in data]
    if isinstance(data, dict) and data and all(isinstance(v, dict) and PATCH_KEY in v for v in data.values()):
        return [_from_prediction({"instance_id": v.get("instance_id", k), **v}) for k, v in data.items()]
    return None


def _whole(v: Any) -> bool:
    if isinstance(v, int):
        return v >= 0
    if isinstance(v, str) and v.strip().isdigit():
        return True
    return isinstance(v, float) and v.is_integer() and v >= 0


@register_backend("replay")
class ReplayBackend(Backend):
    name = "replay"
    serves_api_models = True  # it only reads files: any model config will do

    def __init__(self, cfg: Mapping[str, Any], model_cfg: Mapping[str, Any]):
        path = cfg.get("path")
        if not path:
            raise ConfigError("backend.path", "the replay backend needs backend.path=FILE.jsonl")
        self.path = Path(str(path)).expanduser()
        if self.path.is_dir():
            raise ConfigError("backend.path", f"{self.path} is a directory; give the JSONL file of completions")
        if not self.path.is_file():
            raise ConfigError("backend.path", f"file not found: {self.path}")
        self.missing: list[str] = []
        self.lines = 0
        self.truncated = 0  # problems with more lines than k, cut to k

    def info(self) -> dict[str, Any]:
        return {"name": self.name, "path": str(self.path.resolve()), "lines": self.lines,
                "problems_without_samples": len(self.missing), "problems_cut_to_k": self.truncated}

    def _records(self) -> Iterator[tuple[int, str, int | None, dict[str, Any]]]:
        if self.path.suffix.lower() == ".json":  # a SWE-bench predictions file (list or dict)
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as e:
                raise DataError(f"{self.path}: invalid JSON: {e}") from e
            preds = _prediction_records(data)
            if preds is None:
                raise DataError(f"{self.path}: a .json replay file must hold SWE-bench predictions (a list of, "
                                f"or an object keyed by instance id of, {{\"instance_id\", \"model_patch\"}}); "
                                f"completions go in JSONL")
            for i, rec in enumerate(preds, 1):
                yield i, str(rec["id"]), None, rec
            return
        with open(self.path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise DataError(f"{self.path}:{lineno}: not UTF-8 text (byte {e.start}: "
                                    f"{raw[e.start:e.start + 1]!r}); replay files are UTF-8 JSONL") from None
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataError(f"{self.path}:{lineno}: invalid JSON: {e}") from e
                if not isinstance(rec, dict):
                    raise DataError(f"{self.path}:{lineno}: each line must be a JSON object with \"id\" and "
                                    f"\"completion\", got {type(rec).__name__}")
                if _is_prediction(rec):
                    rec = _from_prediction(rec)
                elif isinstance(rec, dict) and "id" not in rec and (preds := _prediction_records(rec)) is not None:
                    for p in preds:  # a one-line JSON object keyed by instance id
                        yield lineno, str(p["id"]), None, p
                    continue
                if "id" not in rec:
                    raise DataError(f"{self.path}:{lineno}: no \"id\" field")
                if not any(k in rec for k in TEXT_KEYS):
                    raise DataError(f"{self.path}:{lineno}: no \"completion\" field")
                text = next(rec[k] for k in TEXT_KEYS if k in rec)
                if isinstance(text, (dict, list)):
                    raise DataError(f"{self.path}:{lineno}: the completion must be text, got a JSON "
                                    f"{'object' if isinstance(text, dict) else 'list'}")
                sample = rec.get("sample")
                if sample is not None and (isinstance(sample, bool) or not _whole(sample)):
                    raise DataError(f"{self.path}:{lineno}: \"sample\" must be a whole number >= 0, "
                                    f"got {sample!r}")
                yield lineno, str(rec["id"]), (int(sample) if sample is not None else None), rec

    def plan(self, problems: Sequence[Problem], k: int) -> dict[str, int]:
        known = {p.id for p in problems}
        self.lines = 0
        counts: dict[str, int] = defaultdict(int)
        explicit: dict[str, set[int]] = defaultdict(set)
        for lineno, pid, sample, _ in self._records():
            self.lines += 1
            if pid not in known:
                raise DataError(
                    f"{self.path}:{lineno}: problem id {pid!r} is not in the dataset "
                    f"({len(known)} problems loaded)"
                )
            if sample is not None:
                if sample in explicit[pid]:
                    raise DataError(f"{self.path}:{lineno}: duplicate sample {sample} for id {pid!r}")
                explicit[pid].add(sample)
            counts[pid] += 1
        for pid, samples in explicit.items():
            if len(samples) != counts[pid] or samples != set(range(counts[pid])):
                raise DataError(
                    f"{self.path}: id {pid!r}: sample indices must be 0..n-1 on every line of that id "
                    f"(found {sorted(samples)[:10]} over {counts[pid]} lines)"
                )
        if self.lines == 0:
            raise DataError(f"{self.path}: no completions in the file (it is empty)")
        over = {pid: n for pid, n in counts.items() if n > k}
        self.truncated = len(over)
        if over:
            worst = max(over.values())
            log.warning("%s: %d problems have more samples than sampling.k=%d (up to %d); the first %d of each "
                        "are used (set sampling.k=%d to use them all)", self.path, len(over), k, worst, k, worst)
            for pid in over:
                counts[pid] = k
        self.missing = [p.id for p in problems if p.id not in counts]
        if self.missing:
            log.warning(
                "%d of %d problems have no line in %s (first: %s); they are left out of the metrics",
                len(self.missing), len(problems), self.path, ", ".join(self.missing[:5]),
            )
        return dict(counts)

    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:
        wanted = {r.problem_id: set(r.samples) for r in requests}
        seq: dict[str, int] = defaultdict(int)
        for _, pid, sample, rec in self._records():
            idx = sample if sample is not None else seq[pid]
            seq[pid] += 1
            if pid not in wanted or idx not in wanted[pid]:
                continue
            text = next(rec[k] for k in TEXT_KEYS if k in rec)
            tokens = rec.get("output_tokens")
            if text is None:  # a failed request recorded as null: an error sample, never the text "null"
                yield Completion(problem_id=pid, sample=idx, text="", finish_reason="error",
                                 output_tokens=None, error="the replay file has no completion (null)")
                continue
            yield Completion(
                problem_id=pid,
                sample=idx,
                text=text if isinstance(text, str) else str(text),
                finish_reason=_finish_reason(rec.get("finish_reason"), str(self.path)),
                output_tokens=tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None,
                reasoning=rec.get("reasoning") if isinstance(rec.get("reasoning"), str) else None,
            )
