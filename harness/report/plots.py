"""The leaderboard's plots (claimed vs measured, pass@k and cons@k, accuracy by token budget) and
one run's; drawn by harness.plots."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from harness.claims import BENCHMARKS
from harness.report.compare import Board
from harness.report.load import RunData, budget_points
from harness.verdict import VerdictConfig


def _curve_input(run: RunData, label: str) -> dict[str, Any]:
    return {"label": label, "counts": run.counts, "answers": run.answers}


def _run_label(run: RunData) -> str:
    return f"{run.display} k{run.k} T{run.protocol.get('temperature')} {run.run_id[:15]}"


def make_plots(board: Board, out_dir: Path, cfg: VerdictConfig, write: bool = True) -> dict[str, dict[str, str]]:
    """Leaderboard plots under out_dir/plots; returns {benchmark or task: {name: relative png path}}.
    With write=False only the paths (for --json)."""
    from harness import plots

    pdir = out_dir / "plots"
    result: dict[str, dict[str, str]] = defaultdict(dict)
    for b in board.data["benchmarks"]:
        primary = list(b["entries"])
        claims = [dict(c["claim"], model=x["model_display"]) for x in primary for c in x["comparisons"]
                  if c["metric"] == b["metric"] and c["claim"]["kind"] != "reproduction"]
        claims += [dict(u, model=u["model_display"]) for u in b["unmeasured_claims"] if u["metric"] == b["metric"]]
        seen, uniq = set(), []
        for c in sorted(claims, key=lambda c: (c["model"], c["id"])):
            if c["id"] not in seen:
                seen.add(c["id"])
                uniq.append(c)
        measured = [{"model": x["model_display"], "label": x["label"], "value": x["value"], "se": x["se"]}
                    for x in primary if x["metric"] == b["metric"]]
        models = sorted({c["model"] for c in uniq} | {m["model"] for m in measured}, key=str.lower)
        if not models:
            continue
        if write:
            plots.claims_vs_measured(b["name"], models, uniq, measured, cfg.z, pdir / f"{b['key']}-claims")
        result[b["key"]]["claimed vs measured"] = f"plots/{b['key']}-claims.png"
    by_bench: dict[str, list[RunData]] = defaultdict(list)
    for run in board.runs:
        by_bench[run.benchmark].append(run)
    for key, runs in sorted(by_bench.items()):
        runs = sorted(runs, key=lambda r: (r.display.lower(), r.run_id))
        title = BENCHMARKS[key].name if key in BENCHMARKS else key
        if write:
            plots.curves(title, [_curve_input(r, _run_label(r)) for r in runs], pdir / f"{key}-curves")
        result[key]["pass@k and cons@k"] = f"plots/{key}-curves.png"
        pts = [{"label": _run_label(r), "points": budget_points(r)} for r in runs]
        pts = [p for p in pts if p["points"]]
        if pts:
            if write:
                plots.budget(title, pts, pdir / f"{key}-budget")
            result[key]["accuracy vs token budget"] = f"plots/{key}-budget.png"
    return {k: dict(v) for k, v in sorted(result.items())}


def run_plots(run: RunData) -> dict[str, str]:
    from harness import plots

    pdir = run.path / "plots"
    out = {}
    plots.curves(run.display, [_curve_input(run, f"k={run.k}")], pdir / "curves")
    out["pass@k and cons@k"] = "plots/curves.png"
    pts = budget_points(run)
    if pts:
        plots.budget(run.display, [{"label": f"max {run.protocol.get('max_tokens')}", "points": pts}],
                     pdir / "budget")
        out["accuracy vs token budget"] = "plots/budget.png"
    return out

