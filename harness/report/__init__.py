"""Run reports and the leaderboard, rebuilt from what is on disk.

    python -m harness report [--results-dir results] [--out FILE] [--all] [--json] [--no-plots]

Reads results/runs/*/ (manifest.json, metrics.json, scores.jsonl), the claims registry
(configs/claims/) and published reproductions (configs/external/); writes
results/runs/<run-id>/report.md (+ plots/) for every finished run and results/LEADERBOARD.md
(+ results/plots/). Output is deterministic: sorted, fixed formatting, no clock, so that a rerun
on the same inputs changes no byte. `--json` prints the same content as data instead.

The package: `load` (runs on disk, per-run figures), `compare` (measured against claimed, the
board as data), `render` (markdown), `plots`; the entry points are here.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.claims import load_registry
from harness.errors import HarnessError
from harness.report.compare import (
    Board,
    build,
    compare_external,
    compare_run,
    external_entry,
    run_entry,
    spread_check,
)
from harness.report.load import (
    UNANSWERED,
    UNREADABLE,
    RunData,
    budget_points,
    fixable_gain,
    load_run,
    load_runs,
    primary_value,
    select_latest,
)
from harness.report.plots import make_plots, run_plots
from harness.report.render import PLOT_ORDER, pct, render_leaderboard, render_run_report, signed
from harness.store import atomic_write
from harness.verdict import VerdictConfig

__all__ = [
    "PLOT_ORDER", "UNANSWERED", "UNREADABLE", "Board", "RunData", "after_eval", "budget_points", "build",
    "compare_external", "compare_run", "data_only", "external_entry", "fixable_gain", "generate", "load_run",
    "load_runs", "main", "make_plots", "pct", "primary_value", "render_leaderboard", "render_run_report",
    "run_entry", "run_plots", "select_latest", "signed", "spread_check", "write_viewer",
]

log = logging.getLogger(__name__)


def write_viewer(run: RunData) -> None:
    """The run's sample viewer (index.html, harness/viewer); a failure is logged, never fatal."""
    from harness.viewer import write_run_page

    try:
        write_run_page(run.path, display=run.display, same=run.same)
    except Exception as e:  # the report and leaderboard are still worth writing
        log.warning("%s: no sample viewer page (%s: %s)", run.run_id, type(e).__name__, e)


def _write_if_changed(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    atomic_write(path, text)


def generate(results_dir: Path = Path("results"), out: Path | None = None, *, all_runs: bool = False,
             with_plots: bool = True, claims_dir: Path | None = None, external_dir: Path | None = None,
             model_dir: Path | None = None, verdict_config: Path | None = None,
             run_reports: bool = True, with_viewer: bool = True) -> Board:
    """Write every run's report.md and the leaderboard; returns the board (its data is the JSON)."""
    results_dir = Path(results_dir)
    out = results_dir / "LEADERBOARD.md" if out is None else Path(out)
    reg = load_registry(claims_dir, external_dir, model_dir)
    cfg = VerdictConfig.load(verdict_config)
    board = build(results_dir, reg, cfg, out.parent, all_runs)
    if run_reports:
        all_loaded, _ = load_runs(results_dir)
        for run in all_loaded:
            entry = run_entry(run, reg, cfg, "report.md")
            plots = run_plots(run) if with_plots else {}
            _write_if_changed(run.path / "report.md", render_run_report(run, entry, plots))
            if with_viewer:
                write_viewer(run)
    if with_plots:
        board.data["plots"] = make_plots(board, out.parent, cfg)
    _write_if_changed(out, render_leaderboard(board.data))
    return board


def data_only(results_dir: Path = Path("results"), out_dir: Path | None = None, *, all_runs: bool = False,
              claims_dir: Path | None = None, external_dir: Path | None = None, model_dir: Path | None = None,
              verdict_config: Path | None = None, with_plots: bool = True) -> dict[str, Any]:
    """The leaderboard as data (what --json prints); plot paths are listed, not drawn."""
    results_dir = Path(results_dir)
    reg = load_registry(claims_dir, external_dir, model_dir)
    cfg = VerdictConfig.load(verdict_config)
    out_dir = results_dir if out_dir is None else out_dir
    board = build(results_dir, reg, cfg, out_dir, all_runs)
    if with_plots:
        board.data["plots"] = make_plots(board, out_dir, cfg, write=False)
    return board.data


def after_eval(results_dir: str | Path) -> Path:
    """Called at the end of an evaluation: rebuild run reports and the leaderboard."""
    results_dir = Path(results_dir)
    generate(results_dir)
    return results_dir / "LEADERBOARD.md"


def main(argv: Iterable[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="harness report", description=__doc__.split("\n\n")[0])
    ap.add_argument("--results-dir", default="results", type=Path, help="where runs/ is (default: results)")
    ap.add_argument("--out", type=Path, default=None,
                    help="leaderboard file (default: <results-dir>/LEADERBOARD.md); with --json, the JSON file "
                         "(default: standard output)")
    ap.add_argument("--json", action="store_true", help="emit the leaderboard as JSON instead of writing files")
    ap.add_argument("--all", action="store_true", help="show every finished run, not only the latest per "
                                                       "(model, task, protocol)")
    ap.add_argument("--no-plots", action="store_true", help="skip the plots")
    ap.add_argument("--no-viewer", action="store_true", help="skip the per-run sample viewer pages (index.html)")
    ap.add_argument("--claims-dir", type=Path, default=None, help="default: configs/claims")
    ap.add_argument("--external-dir", type=Path, default=None, help="default: configs/external")
    ap.add_argument("--verdict-config", type=Path, default=None, help="default: configs/verdict.yaml")
    args = ap.parse_args(None if argv is None else list(argv))
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.results_dir.is_dir():
        if not args.results_dir.parent.is_dir():
            log.error("results directory %s does not exist, nor does its parent (a typo? runs are written to "
                      "<results_dir>/runs/ by `make eval`)", args.results_dir)
            sys.exit(2)
        log.warning("results directory %s does not exist: the leaderboard will hold the claims and published "
                    "reproductions only (runs are written to <results_dir>/runs/ by `make eval`)", args.results_dir)
    try:
        if args.json:
            out_dir = (args.out.parent if args.out else args.results_dir)
            data = data_only(args.results_dir, out_dir, all_runs=args.all, claims_dir=args.claims_dir,
                             external_dir=args.external_dir, verdict_config=args.verdict_config,
                             with_plots=not args.no_plots)
            text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
            if args.out:
                _write_if_changed(args.out, text)
            else:
                sys.stdout.write(text)
            return
        out = args.out or args.results_dir / "LEADERBOARD.md"
        board = generate(args.results_dir, out, all_runs=args.all, with_plots=not args.no_plots,
                         claims_dir=args.claims_dir, external_dir=args.external_dir,
                         verdict_config=args.verdict_config, with_viewer=not args.no_viewer)
    except HarnessError as e:
        log.error("%s", e)
        sys.exit(2)
    c = board.data["counts"]
    print(f"leaderboard: {out} ({c['runs_shown']} runs, {c['claims']} claims, {c['external_results']} "
          f"published reproduction results)")

