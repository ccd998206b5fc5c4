"""Re-grade an existing run without generating anything.

    python -m harness rescore RUN_DIR [--grader strict|default|lenient] [--workers N]
                                      [--data-files PATH] [--no-report]

Reads the run's resolved config and samples.jsonl, scores every sample again with the grader as
it is now, and writes the result as a new scores version beside the old ones: scores.jsonl is
version 1, then scores.v2.jsonl, scores.v3.jsonl, ... (never overwritten). The run store, and so
the report and the leaderboard, read the newest version. metrics.json is recomputed from it
(generation figures kept), and the manifest lists every version with the grader that made it
(`scores_versions`). The problems are loaded as the run loaded them; their fingerprint must match
the manifest's (pass --data-files when the original file has moved).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, DataError, HarnessError

log = logging.getLogger(__name__)

# metrics.json keys that describe generation, not grading: a rescore keeps them
_KEEP = ("problems_loaded", "problems_without_samples", "wall_seconds", "generation_seconds",
         "this_invocation_seconds", "usage", "run_id", "model", "task", "benchmark", "protocol")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _grader_info(task: Any, metrics: dict[str, Any]) -> dict[str, Any]:
    from harness.scoring.math import GRADER_VERSION

    info = dict(metrics.get("grader") or {})
    if not info and getattr(task, "grader", None):
        info = {"profile": task.grader, "version": GRADER_VERSION}
    return info


def rescore(run_dir: Path, grader: str | None = None, workers: int = 0, data_files: str | None = None,
            progress: bool = True) -> Path:
    """Score run_dir's samples again into a new scores version; returns its path."""
    import yaml

    from harness import metrics as metrics_mod
    from harness.manifest import package_versions
    from harness.runner import prompt_config
    from harness.scorer import score_file
    from harness.store import RunStore, next_scores_path, write_json
    from harness.tasks import build_task

    run_dir = Path(run_dir)
    store = RunStore(run_dir)
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.is_file() or not store.manifest_path.is_file():
        raise ConfigError(str(run_dir), "is not a run directory (no config.yaml or manifest.json)")
    if not store.samples_path.is_file():
        raise DataError(f"{store.samples_path}: no samples to rescore")
    cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8")) or {}
    task_cfg = dict(cfg.get("task") or {})
    scoring = dict(task_cfg.get("scoring") or {})
    if grader is not None:
        scoring["grader"] = grader
    task_cfg["scoring"] = scoring
    if data_files:
        task_cfg["data_files"] = data_files
    task = build_task(task_cfg, prompt_config(cfg))
    problems = task.load()
    manifest = store.read_manifest()
    want = (manifest.get("dataset") or {}).get("fingerprint")
    have = task.source.get("fingerprint")
    if want and have and want != have:
        raise DataError(f"{run_dir}: the problems loaded now (fingerprint {have}) are not the run's ({want}); "
                        "pass --data-files with the file the run used")

    old_metrics = json.loads(store.metrics_path.read_text()) if store.metrics_path.is_file() else {}
    versions = list(manifest.get("scores_versions") or [])
    if not versions and store.scores_path.is_file():  # the first rescore records what made version 1
        info = _grader_info(task, old_metrics) if old_metrics.get("grader") else {"version": "1 (before grader profiles)"}
        versions.append({"file": store.scores_path.name, **info,
                         "created": manifest.get("completed") or manifest.get("created")})
    out = next_scores_path(run_dir)
    t0 = time.time()
    n = score_file(task, problems, store.samples_path, out, workers=workers, progress=progress)
    seconds = round(time.time() - t0, 2)

    store = RunStore(run_dir)  # now reads the new version
    scores = list(store.iter_scores())
    meta = {p.id: p.meta for p in problems}
    m = metrics_mod.compute(scores, meta, task.group_fields())
    m.update(task.extra_metrics(scores))
    for key in _KEEP:
        if key in old_metrics:
            m[key] = old_metrics[key]
    write_json(store.metrics_path, m)
    info = _grader_info(task, m)
    versions.append({"file": out.name, **info, "created": _now(), "scoring_seconds": seconds,
                     "math_verify": package_versions().get("math-verify")})
    store.update_manifest(scores_versions=versions, grader=info)
    log.info("rescored %d samples of %s into %s (%.1fs): pass@1 %.4f (was %s)", n, run_dir.name, out.name,
             seconds, m.get("pass@1", float("nan")), old_metrics.get("pass@1"))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="harness rescore", description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", type=Path, help="a run directory (results/runs/<run-id>)")
    ap.add_argument("--grader", choices=("strict", "default", "lenient"), default=None,
                    help="the profile whose verdict is `correct` (default: the run's task.scoring.grader)")
    ap.add_argument("--workers", type=int, default=0, help="scoring processes (0: one per core, at most 8)")
    ap.add_argument("--data-files", default=None, help="the problems file, when the run's has moved")
    ap.add_argument("--no-report", action="store_true", help="do not rebuild the run report and leaderboard")
    args = ap.parse_args(argv)
    from harness.cli import _setup_logging

    _setup_logging()
    try:
        out = rescore(args.run_dir, args.grader, args.workers, args.data_files)
    except HarnessError as e:
        log.error("%s", e)
        sys.exit(2)
    print(f"new scores: {out}")
    if args.no_report:
        return
    results_dir = args.run_dir.resolve().parent.parent
    try:
        from harness.report import after_eval

        print(f"leaderboard: {after_eval(results_dir)}")
    except Exception as e:  # the new scores are on disk: a report failure must not hide that
        log.error("could not rebuild the reports (%s: %s); run `harness report --results-dir %s`",
                  type(e).__name__, e, results_dir)


if __name__ == "__main__":
    main()
