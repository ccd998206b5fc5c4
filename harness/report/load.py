"""Runs on disk, read for the report: every finished run's records grouped by problem, and the
figures derived from one run alone (gain from fixing failed samples, accuracy by token budget)."""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.claims import BENCHMARKS
from harness.errors import HarnessError
from harness.metrics import SameAnswer, Vote, budget_curve, per_problem, votes
from harness.store import RunStore
from harness.types import Score

log = logging.getLogger(__name__)

UNANSWERED = ("no_answer", "truncated", "unparsed", "timeout")


# -- runs on disk --------------------------------------------------------------------------------

@dataclass
class RunData:
    run_id: str
    path: Path
    manifest: dict[str, Any]
    metrics: dict[str, Any]
    scores: list[Score]
    display: str
    model: str
    claims_key: str | None
    task: str
    benchmark: str
    protocol: dict[str, Any]
    counts: list[tuple[int, int]] = field(default_factory=list)  # (n_i, c_i) per problem, by id
    answers: list[list[Vote]] = field(default_factory=list)  # metrics.votes per problem, by sample
    same: SameAnswer | None = None  # the task's answer equivalence the votes were grouped with
    by_problem: list[list[Score]] = field(default_factory=list)

    @property
    def k(self) -> int:
        return int(self.metrics.get("k") or 0)

    @property
    def problems(self) -> int:
        return len(self.counts)

    @property
    def eligible(self) -> str | None:
        """None when the run gets verdicts, else why not."""
        if self.benchmark not in BENCHMARKS:
            return f"task `{self.task}` is not a benchmark"
        if not self.claims_key:
            return f"model `{self.model}` has no claims key"
        return None

    def group_key(self) -> str:
        return json.dumps([self.model, self.task, self.protocol], sort_keys=True, default=str)


def _same_answer(run_dir: Path, cfg: Mapping[str, Any]) -> SameAnswer | None:
    """The answer equivalence of the run's task (math equivalence for math tasks), built from the
    run's config.yaml; None (plain string equality) when it holds no usable task config."""
    from harness.tasks import build_task

    task_cfg = cfg.get("task")
    if not isinstance(task_cfg, Mapping):
        return None
    try:
        return build_task(task_cfg, cfg.get("prompt") or {}).same_answer
    except Exception as e:  # any task's constructor: the report must still be written
        log.warning("%s: cannot rebuild its task from config.yaml (%s); cons@k answers are grouped as "
                    "strings", run_dir.name, e)
        return None


def load_run(run_dir: Path) -> RunData:
    """One run, read through the run store's typed records."""
    store = RunStore(run_dir)
    mf = store.load_manifest()
    mt = store.read_metrics()
    scores = list(store.iter_scores())
    model = str(mf.model.get("name") or mt.model)
    task = str(mf.task.get("name") or mt.task)
    cfg = store.read_config()
    display = (cfg.get("model") or {}).get("display_name") or model
    run = RunData(
        run_id=mf.run_id or run_dir.name, path=run_dir, manifest=mf.to_json(),
        metrics=mt.to_json(), scores=scores, display=str(display), model=model,
        claims_key=mf.model.get("claims_key"), task=task,
        benchmark=str(mf.task.get("benchmark") or mt.benchmark or task),
        protocol=dict(mf.protocol or mt.protocol),
    )
    grouped: dict[str, list[Score]] = defaultdict(list)
    for s in scores:
        grouped[s.id].append(s)
    same = run.same = _same_answer(run_dir, cfg)
    for pid in sorted(grouped):
        ss = sorted(grouped[pid], key=lambda s: s.sample)
        run.by_problem.append(ss)
        run.answers.append(votes(ss, same))
    run.counts = [(r.n, r.correct) for r in per_problem(scores)]
    return run


UNREADABLE = "unreadable"  # the prefix of a skip reason that the leaderboard names run by run


def load_runs(results_dir: Path) -> tuple[list[RunData], list[tuple[str, str]]]:
    """Finished runs under results_dir/runs (sorted by run id), and (run id, why) for skipped ones."""
    runs: list[RunData] = []
    skipped: list[tuple[str, str]] = []
    for store in RunStore.list_runs(Path(results_dir)):
        if not store.manifest_path.is_file():
            skipped.append((store.run_id, "no manifest.json"))
            continue
        try:
            status = store.load_manifest().status
        except HarnessError as e:
            skipped.append((store.run_id, f"{UNREADABLE}: {_short(e, store.path)}"))
            continue
        if status != "complete" or not store.metrics_path.is_file():
            from harness.shards import pending_reason

            skipped.append((store.run_id, pending_reason(store.path) or "not finished"))
            continue
        try:
            run = load_run(store.path)
        except (HarnessError, OSError, ValueError, TypeError, KeyError) as e:
            skipped.append((store.run_id, f"{UNREADABLE}: {_short(e, store.path)}"))
            continue
        if not run.counts:
            skipped.append((store.run_id, "no scored samples"))
            continue
        runs.append(run)
    return runs, skipped


def _short(e: BaseException, run_dir: Path) -> str:
    """The error, one line, with the run directory's path shortened to the file name."""
    return str(e).splitlines()[0].replace(str(run_dir) + os.sep, "") if str(e) else type(e).__name__


def select_latest(runs: Sequence[RunData]) -> list[RunData]:
    """The latest run (largest run id: ids start with a UTC timestamp) per (model, task, protocol)."""
    latest: dict[str, RunData] = {}
    for r in runs:
        key = r.group_key()
        if key not in latest or r.run_id > latest[key].run_id:
            latest[key] = r
    return sorted(latest.values(), key=lambda r: r.run_id)


# -- per-run derived figures -----------------------------------------------------------------------

def fixable_gain(run: RunData, which: str) -> float:
    """The pass@1 a run would gain if its failed samples of one kind had been correct:
    `truncated` (cut off: Score.cut_off) or `unanswered` (cut off, no answer, unparsed, timeout)."""
    total = 0.0
    for ss in run.by_problem:
        if which == "truncated":
            bad = sum(1 for s in ss if not s.correct and s.cut_off)
        else:
            bad = sum(1 for s in ss if not s.correct and (s.reason in UNANSWERED or s.cut_off))
        total += bad / len(ss)
    return total / len(run.by_problem)


def budget_points(run: RunData) -> list[tuple[int, float]]:
    """(B, pass@1 at output budget B) for B = 16, 32, ... up to the run's max_tokens: a sample
    counts as correct at B only if correct and output_tokens <= B (unknown counts use max_tokens)."""
    cap = int(run.protocol.get("max_tokens") or run.metrics.get("max_output_tokens") or 0)
    return budget_curve([[(bool(s.correct), s.output_tokens) for s in ss] for ss in run.by_problem], cap)


def primary_value(run: RunData) -> float:
    """pass@1 (for SWE-bench tasks the resolved rate is the same mean of per-sample outcomes)."""
    return float(run.metrics["pass@1"])

