"""Score every sample on disk: samples.jsonl -> scores.jsonl, in parallel processes.

The parent never holds the completions: it cuts samples.jsonl into byte ranges of whole lines
and worker processes read, parse and score their range. Only the small score records travel
back. Results are written in file order, so scores.jsonl is deterministic whatever the number of
workers. math-verify's timeouts need the main thread of a process, hence processes, not threads.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import signal
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.errors import DataError
from harness.store import write_jsonl_atomic
from harness.tasks import Task
from harness.types import Completion, Problem, Reason, Score

log = logging.getLogger(__name__)

_TASK: Task | None = None
_PROBLEMS: dict[str, Problem] = {}


def _init(task: Task, problems: dict[str, Problem]) -> None:
    global _TASK, _PROBLEMS
    _TASK, _PROBLEMS = task, problems
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    if mp.parent_process() is not None:  # a worker: Ctrl-C is the parent's to handle, once
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _score_range(path: str, start: int, end: int) -> list[dict[str, Any]]:
    assert _TASK is not None
    out = []
    with open(path, "rb") as f:
        f.seek(start)
        blob = f.read(end - start)
    offset = start
    for line in blob.splitlines(keepends=True):
        at, offset = offset, offset + len(line)
        if not line.strip():
            continue
        try:
            c = Completion.from_json(json.loads(line))
        except (ValueError, KeyError, TypeError) as e:  # a damaged line: name it, never a traceback
            raise SamplesFileError(f"{path}: the sample line at byte {at} is unreadable "
                                   f"({type(e).__name__}: {e}); fix or remove that line") from None
        problem = _PROBLEMS.get(c.problem_id)
        if problem is None:  # a sample of a problem no longer loaded (e.g. task.limit changed)
            continue
        try:
            s = _TASK.score(problem, c)
        except Exception as e:  # a scorer bug must not lose the run: record it on the sample
            log.exception("scoring %s/%d failed", c.problem_id, c.sample)
            s = Score(id=c.problem_id, sample=c.sample, correct=False,
                      extracted=f"scorer error: {type(e).__name__}", reason=Reason.ERROR,
                      finish_reason=c.finish_reason, output_tokens=c.output_tokens,
                      prompt_tokens=c.prompt_tokens)
        out.append(s.to_json())
    return out


class SamplesFileError(ValueError):
    """A line of a samples file that cannot be read (raised in a worker: a plain, picklable error)."""


def byte_ranges(path: Path, lines_per_range: int = 64, max_bytes: int = 8 << 20) -> Iterator[tuple[int, int, int]]:
    """(start, end, lines) ranges covering the complete lines of a JSONL file. A torn tail (a last
    line without its newline, or one that is not valid JSON, as a crash mid-write leaves it) is
    not covered; a damaged line elsewhere is the scorer's to report."""
    with open(path, "rb") as f:
        start = pos = 0
        n = 0
        pending: bytes | None = None  # the last complete line, committed once another follows

        def commit(line: bytes) -> bool:
            nonlocal pos, n
            pos += len(line)
            n += 1
            return n >= lines_per_range or pos - start >= max_bytes

        for line in f:
            if not line.endswith(b"\n"):
                break  # torn tail
            if pending is not None and commit(pending):
                yield start, pos, n
                start, n = pos, 0
            pending = line
        if pending is not None:
            try:
                if pending.strip():
                    json.loads(pending)
                commit(pending)
            except ValueError:
                log.warning("%s: skipping a torn last line", path)
        if n:
            yield start, pos, n


def count_lines(path: Path) -> int:
    return sum(n for _, _, n in byte_ranges(path, lines_per_range=1 << 30, max_bytes=1 << 62))


def score_file(
    task: Task,
    problems: list[Problem],
    samples_path: Path,
    scores_path: Path,
    workers: int = 0,
    progress: bool = True,
) -> int:
    """Score every sample in samples_path into scores_path (replaced atomically). Returns the
    number of scores written.

    One score per (id, sample): a sample whose generation errored (finish reason "error") and
    was generated again on resume is scored from its later, successful line; otherwise the
    first line wins. Score records are small, so they are collected before writing."""
    from tqdm import tqdm

    by_id = {p.id: p for p in problems}
    workers = workers or min(os.cpu_count() or 1, 8)
    total = count_lines(samples_path) if samples_path.exists() else 0
    kept: dict[tuple[str, int], dict[str, Any]] = {}
    bar = tqdm(total=total, desc="scoring", unit="sample", disable=not progress, dynamic_ncols=True)

    def emit(records: list[dict[str, Any]]) -> None:
        for r in records:
            key = (r["id"], r["sample"])
            old = kept.get(key)
            if old is None or (old["finish_reason"] == "error" and r["finish_reason"] != "error"):
                kept[key] = r
        bar.update(len(records))

    try:
        _score_all(task, by_id, samples_path, workers, total, emit)
    except SamplesFileError as e:
        bar.close()
        raise DataError(str(e)) from None
    bar.close()
    # insertion order = file order of each key's first line
    return write_jsonl_atomic(scores_path, kept.values())


def _score_all(task: Task, by_id: dict[str, Problem], samples_path: Path, workers: int, total: int,
               emit: Any) -> None:
    if total == 0:
        pass
    elif workers == 1:
        _init(task, by_id)
        for start, end, _ in byte_ranges(samples_path):
            emit(_score_range(str(samples_path), start, end))
    else:
        ctx = mp.get_context("spawn")  # no fork after an inference engine has started threads
        with ctx.Pool(workers, initializer=_init, initargs=(task, by_id)) as pool:
            pending: deque = deque()
            for start, end, _ in byte_ranges(samples_path):
                pending.append(pool.apply_async(_score_range, (str(samples_path), start, end)))
                while len(pending) >= workers * 4:  # bounded: the file is never all in flight
                    emit(pending.popleft().get())
            while pending:
                emit(pending.popleft().get())
