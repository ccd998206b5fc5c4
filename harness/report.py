"""Run reports and the leaderboard, rebuilt from what is on disk.

    python -m harness report [--results-dir results] [--out FILE] [--all] [--json] [--no-plots]

Reads results/runs/*/ (manifest.json, metrics.json, scores.jsonl), the claims registry
(configs/claims/) and published reproductions (configs/external/); writes
results/runs/<run-id>/report.md (+ plots/) for every finished run and results/LEADERBOARD.md
(+ results/plots/). Output is deterministic: sorted, fixed formatting, no clock, so that a rerun
on the same inputs changes no byte. `--json` prints the same content as data instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import grader_band
from harness.claims import BENCHMARKS, Claim, ExternalResult, Registry, load_registry
from harness.errors import HarnessError
from harness.metrics import SameAnswer, Vote, budget_curve, per_problem, votes
from harness.store import RunStore, atomic_write
from harness.types import Score
from harness.verdict import (
    GLYPH,
    VERDICTS,
    Sides,
    Verdict,
    VerdictConfig,
    cons_sides,
    decide,
    external_sides,
    pass1_sides,
    protocol_differences,
    share_of_gap,
)

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
    `truncated` (hit the token limit) or `unanswered` (truncated, no answer, unparsed, timeout)."""
    total = 0.0
    for ss in run.by_problem:
        if which == "truncated":
            bad = sum(1 for s in ss if not s.correct and s.finish_reason == "length")
        else:
            bad = sum(1 for s in ss if not s.correct and (s.reason in UNANSWERED or s.finish_reason == "length"))
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


# -- comparisons ------------------------------------------------------------------------------------

def _claim_json(c: Claim) -> dict[str, Any]:
    return {"model": c.model, "benchmark": c.benchmark, "metric": c.metric, "value": round(c.p, 6),
            "source": c.source.id, "label": c.source.label, "kind": c.source.kind, "table": c.table,
            "url": c.url, "k": c.protocol.get("k"), "protocol": dict(sorted(c.protocol.items())),
            "id": f"{c.source.id}#{c.entry}"}


def _greedy(c: Claim) -> bool:
    t = c.protocol.get("temperature")
    return t is not None and float(t) == 0.0


def compare_run(run: RunData, c: Claim, cfg: VerdictConfig) -> dict[str, Any]:
    bench = BENCHMARKS[run.benchmark]
    proto = dict(run.protocol)
    diffs = protocol_differences(proto, c.protocol, run.problems, bench.problems)
    subset = run.problems < bench.problems
    force = f"subset: {run.problems} of {bench.problems} problems" if subset and cfg.subset == "inconclusive" else None
    comp: dict[str, Any] = {"claim": _claim_json(c), "metric": c.metric, "differences": diffs}
    if c.metric.startswith("cons@"):
        K = int(c.metric.split("@")[1])
        if run.k != K or min(n for n, _ in run.counts) != K:
            comp.update(measured=None, se_measured=None, se_question=None,
                        verdict=Verdict("inconclusive", math.nan, math.nan, math.nan, math.nan, math.nan,
                                        math.nan, False, f"{c.metric} needs {K} samples per problem; "
                                        f"the run has {run.k}").to_json())
            return comp
        measured = float(run.metrics["cons@k"])
        sides = cons_sides(run.answers, K, K, cfg.cons_bootstrap)
        comp.update(measured=round(measured, 6), se_question=None)
    else:
        measured = primary_value(run)
        sides = pass1_sides(run.counts, c.k_for_se, _greedy(c))
        sq = run.metrics.get("pass@1_se_question")
        comp.update(measured=round(measured, 6),
                    se_question=None if sq is None or (isinstance(sq, float) and math.isnan(sq)) else round(sq, 6))
    v = decide(measured, c.p, sides, cfg, force)
    comp["se_measured"] = round(sides.se_measured, 6)
    comp["verdict"] = v.to_json()
    diag: dict[str, Any] = {"truncated_rate": _r(run.metrics.get("truncated_rate")),
                            "no_answer_rate": _r(run.metrics.get("no_answer_rate"))}
    if v.verdict == "below":
        diag["truncated_share"] = _r(share_of_gap(v.gap, fixable_gain(run, "truncated")))
        diag["unanswered_share"] = _r(share_of_gap(v.gap, fixable_gain(run, "unanswered")))
    comp["diagnosis"] = diag
    return comp


def _votes_k(metric: str, k: int | None) -> int | None:
    """cons@K is one majority vote per problem: its sampling noise is a Bernoulli per problem,
    which K samples do not shrink (the bound uses one draw per problem)."""
    return 1 if metric.startswith("cons@") else k


def compare_external(e: ExternalResult, c: Claim, cfg: VerdictConfig) -> dict[str, Any]:
    sides: Sides = external_sides(e.p, _votes_k(e.metric, e.k), e.problems, c.p, _votes_k(c.metric, c.k_for_se),
                                  _greedy(c))
    v = decide(e.p, c.p, sides, cfg)
    bench = BENCHMARKS[e.benchmark]
    return {"claim": _claim_json(c), "metric": c.metric, "measured": round(e.p, 6),
            "se_measured": round(sides.se_measured, 6), "se_question": None,
            "differences": protocol_differences(e.protocol, c.protocol, e.problems, bench.problems),
            "verdict": v.to_json(), "diagnosis": {}}


def _r(x: Any) -> float | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return round(float(x), 6)


def run_entry(run: RunData, reg: Registry, cfg: VerdictConfig, link: str) -> dict[str, Any]:
    key = run.claims_key
    comps = []
    if run.eligible is None:
        targets = list(reg.claims_for(key, run.benchmark))
        targets += [e.as_claim() for e in reg.external if e.model == key and e.benchmark == run.benchmark]
        comps = [grader_band.compare(compare_run, run, c, cfg) for c in sorted(targets, key=_claim_order)]
    m = run.metrics
    sq = m.get("pass@1_se_question")
    value = primary_value(run)
    sides = pass1_sides(run.counts, None)
    return {
        "kind": "run", "benchmark": run.benchmark, "task": run.task, "model": key or run.model,
        "model_display": run.display, "model_config": run.model, "label": "ours",
        "metric": BENCHMARKS[run.benchmark].metric if run.benchmark in BENCHMARKS else "pass@1",
        "value": round(value, 6), "se": round(sides.se_measured, 6), "se_is_bound": sides.bound,
        "se_question": None if sq is None or (isinstance(sq, float) and math.isnan(sq)) else round(sq, 6),
        "k": run.k, "problems": run.problems, "truncated_rate": _r(m.get("truncated_rate")),
        "no_answer_rate": _r(m.get("no_answer_rate")), "tokens_per_sample": _r(m.get("mean_output_tokens")),
        "cons": _r(m.get("cons@k")), "run_id": run.run_id, "link": link, "grader_band": grader_band.entry_band(run),
        "protocol": dict(sorted(run.protocol.items())), "eligible": run.eligible is None,
        "why_no_verdict": run.eligible, "comparisons": comps, "spread": None,
    }


def external_entry(e: ExternalResult, reg: Registry, cfg: VerdictConfig) -> dict[str, Any]:
    comps = [compare_external(e, c, cfg) for c in sorted(reg.claims_for(e.model, e.benchmark, e.metric),
                                                          key=_claim_order)]
    sides = external_sides(e.p, _votes_k(e.metric, e.k), e.problems, 0.0, 1)
    return {
        "kind": "external", "benchmark": e.benchmark, "task": None, "model": e.model,
        "model_display": reg.display(e.model), "model_config": None, "label": e.source.label,
        "metric": e.metric, "value": round(e.p, 6), "se": round(sides.se_measured, 6), "se_is_bound": True,
        "se_question": None, "k": e.k, "problems": e.problems, "truncated_rate": None,
        "no_answer_rate": None, "tokens_per_sample": None, "cons": None, "run_id": None, "link": e.url,
        "source": e.source.id, "table": e.table, "protocol": dict(sorted(e.protocol.items())),
        "eligible": True, "why_no_verdict": None, "comparisons": comps, "spread": e.spread,
        "spread_check": spread_check(e, cfg),
    }


def spread_check(e: ExternalResult, cfg: VerdictConfig) -> dict[str, Any] | None:
    """A published between-seed spread beside the sampling noise it should show (harness/spread.py)."""
    from harness.spread import check

    if e.spread is None:
        return None
    seeds = e.spread_seeds
    c = check(e.p, e.spread / 100, seeds, e.k // seeds, e.problems, cfg.confidence)
    return None if c is None else c.to_json()


def _claim_order(c: Claim) -> tuple:
    kinds = {"paper": 0, "readme": 1, "model_card": 2, "leaderboard": 3, "reproduction": 4}
    return (c.metric != "pass@1" and c.metric != "resolved", c.metric, kinds.get(c.source.kind, 9),
            c.source.label, c.entry)


# -- the whole board as data -----------------------------------------------------------------------

@dataclass
class Board:
    data: dict[str, Any]
    runs: list[RunData]


def build(results_dir: Path, reg: Registry, cfg: VerdictConfig, out_dir: Path, all_runs: bool = False) -> Board:
    runs, skipped = load_runs(results_dir)
    for run_id, why in skipped:
        if why.startswith(UNREADABLE):
            log.warning("skipped run %s (unreadable): %s", run_id, why[len(UNREADABLE) + 2:])
    shown = list(runs) if all_runs else select_latest(runs)
    entries: list[dict[str, Any]] = []
    for run in shown:
        link = os.path.relpath(run.path / "report.md", out_dir).replace(os.sep, "/")
        entries.append(run_entry(run, reg, cfg, link))
    for e in reg.external:
        entries.append(external_entry(e, reg, cfg))

    def entry_order(x: Mapping[str, Any]) -> tuple:
        return (x["model_display"].lower(), x["kind"] != "run", x["label"], x.get("run_id") or "",
                x.get("table") or "")

    compared: set[str] = set()
    for x in entries:
        for comp in x["comparisons"]:
            compared.add(comp["claim"]["id"])
    benchmarks = []
    for key, b in BENCHMARKS.items():
        bentries = sorted([x for x in entries if x["benchmark"] == key and x["eligible"]], key=entry_order)
        unmeasured = [_claim_json(c) for c in sorted(reg.claims, key=lambda c: (reg.display(c.model).lower(),
                                                                              _claim_order(c)))
                      if c.benchmark == key and f"{c.source.id}#{c.entry}" not in compared]
        for u in unmeasured:
            u["model_display"] = reg.display(u["model"])
        if not bentries and not unmeasured:
            continue
        benchmarks.append({"key": key, "name": b.name, "problems": b.problems, "metric": b.metric,
                           "note": b.note, "entries": bentries, "unmeasured_claims": unmeasured})
    no_verdict = sorted([x for x in entries if not x["eligible"]], key=lambda x: (x["task"], x["model_display"].lower(), x["run_id"]))

    summary: dict[str, dict[str, dict[str, int]]] = {}
    for x in entries:
        if not x["eligible"]:
            continue
        who = "ours" if x["kind"] == "run" else "published reproductions"
        for comp in x["comparisons"]:
            s = summary.setdefault(x["model_display"], {}).setdefault(who, dict.fromkeys(VERDICTS, 0))
            s[comp["verdict"]["verdict"]] += 1
    data = {
        "verdict_config": {"tolerance_points": round(100 * cfg.tolerance, 6), "confidence": cfg.confidence,
                           "subset": cfg.subset, "z": round(cfg.z, 6)},
        "counts": {"runs": len(runs), "runs_shown": len(shown), "runs_skipped": len(skipped),
                   "claims": len(reg.claims), "claim_sources": len({c.source.id for c in reg.claims}),
                   "external_results": len(reg.external),
                   "external_sources": len({e.source.id for e in reg.external})},
        "all_runs": all_runs,
        "skipped": [{"run_id": r, "why": w} for r, w in skipped],
        "summary": [{"model": m, "by": {w: dict(v) for w, v in sorted(by.items(), key=lambda kv: kv[0] != "ours")}}
                    for m, by in sorted(summary.items(), key=lambda kv: kv[0].lower())],
        "benchmarks": benchmarks,
        "runs_without_verdicts": no_verdict,
        "claim_sources": sorted([{"id": s.id, "label": s.label, "document": s.document, "url": s.url,
                                  "kind": s.kind, "file": s.path}
                                 for s in {c.source for c in reg.claims} | {e.source for e in reg.external}],
                                key=lambda s: (s["kind"] == "reproduction", s["id"])),
        "plots": {},
    }
    return Board(data=data, runs=shown)


# -- formatting --------------------------------------------------------------------------------------

def pct(x: float | None, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    v = round(100 * x, digits)
    if v == 0:
        v = 0.0  # no "-0.0"
    return f"{v:.{digits}f}"


def signed(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    v = round(100 * x, 1)
    return "±0.0" if v == 0 else f"{v:+.1f}"


def _measured_cell(value: float | None, se: float | None, bound: bool, se_q: float | None = None) -> str:
    if value is None:
        return "–"
    s = f"{pct(value)} ± {'≤' if bound else ''}{pct(se)}"
    if se_q is not None:
        s += f" (q {pct(se_q)})"
    return s


def _spread_cell(sc: Mapping[str, Any] | None) -> str:
    """A published between-seed SD beside the SE: `sd 6.3/10 seeds`, with ⚠ when it is larger than
    sampling noise explains."""
    if not sc:
        return ""
    return f" (sd {pct(sc['spread'])}/{sc['seeds']} seeds{' ⚠' if sc['excess'] else ''})"


def _samples_link(report_link: str) -> str:
    """The sample viewer page next to a run's report.md."""
    return report_link.rsplit("/", 1)[0] + "/index.html" if "/" in report_link else "index.html"


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|")


def _verdict_cell(v: Mapping[str, Any]) -> str:
    return f"{GLYPH[v['verdict']]} {v['verdict']}"


def _gap_cell(v: Mapping[str, Any]) -> str:
    if v["gap"] is None:
        return "–"
    return f"{signed(v['gap'])} [{signed(v['lo'])}, {signed(v['hi'])}]"


def _note_text(x: Mapping[str, Any], comp: Mapping[str, Any]) -> str | None:
    parts = []
    if comp["differences"]:
        parts.append("protocol differences: " + "; ".join(comp["differences"]))
    v = comp["verdict"]
    if v["verdict"] == "inconclusive" and v["why"] and v["why"] not in comp["differences"]:
        parts.append(f"inconclusive: {v['why']}")
    d = comp.get("diagnosis") or {}
    if d.get("truncated_share") is not None:
        parts.append(f"if every truncated sample had been correct, {pct(d['truncated_share'], 0)}% of the gap "
                     f"would close (truncated or unanswered: {pct(d['unanswered_share'], 0)}%)")
    sc = x.get("spread_check")
    if sc is not None:
        parts.append(f"the source reports ±{x['spread']:.1f} across {sc['seeds']} seeds, where sampling alone gives "
                     f"at most ±{pct(sc['noise'])} per seed"
                     + (": more than sampling noise explains (the seeds' runs differ: engine, precision, "
                        "parallelism?)" if sc["excess"] else ""))
    elif x.get("spread") is not None:
        parts.append(f"the source reports ±{x['spread']:.1f} across seeds")
    if grader_band.note(comp):
        parts.append(grader_band.note(comp))
    if not parts:
        return None
    who = "our run" if x["kind"] == "run" else x["label"]
    return (f"{x['model_display']}, {who} vs {comp['claim']['label']} ({comp['metric']}): "
            + ". ".join(p[0].upper() + p[1:] for p in parts) + ".")


PLOT_ORDER = ("claimed vs measured", "pass@k and cons@k", "accuracy vs token budget")


def _plot_order(plots: Mapping[str, str]) -> list[tuple[str, str]]:
    return sorted(plots.items(), key=lambda kv: (PLOT_ORDER.index(kv[0]) if kv[0] in PLOT_ORDER else 9, kv[0]))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


class _Notes:
    def __init__(self) -> None:
        self.items: list[str] = []

    def ref(self, text: str | None) -> str:
        if not text:
            return ""
        if text not in self.items:
            self.items.append(text)
        return f"[{self.items.index(text) + 1}]"


def render_leaderboard(data: Mapping[str, Any]) -> str:
    vc = data["verdict_config"]
    c = data["counts"]
    L: list[str] = []
    L.append("# Leaderboard")
    L.append("")
    L.append("<!-- Generated by `harness report` (make report) from results/runs/, configs/claims/, "
             "configs/external/ and configs/verdict.yaml. Do not edit by hand. -->")
    L.append("")
    L.append("Published claims against measured values: our own runs and published reproductions. "
             "Values in percent. SE is the generation standard error (question set fixed); "
             "`≤` marks an SE that is only an upper bound (summary figures without per-sample data: "
             "sqrt(p(1-p)/(k·N))); `q` is the question SE.")
    L.append("")
    L.append(f"Verdict on the gap (measured − claimed) with its {100 * vc['confidence']:g}% interval "
             f"(both sides' sampling noise): {GLYPH['reproduced']} **reproduced** when the interval lies "
             f"within ±{vc['tolerance_points']:g} points; {GLYPH['below']} **below** / {GLYPH['above']} "
             f"**above** when it lies entirely outside the band; {GLYPH['inconclusive']} **inconclusive** otherwise. "
             "Rules: [docs/claims.md](../docs/claims.md).")
    L.append("")
    L.extend(grader_band.legend(data))
    runs_line = f"{c['runs_shown']} of {c['runs']} finished runs shown"
    runs_line += " (all runs)" if data["all_runs"] else " (latest per model, task and protocol)"
    if c["runs_skipped"]:
        runs_line += f", {c['runs_skipped']} unfinished or unreadable skipped"
    L.append(f"Inputs: {runs_line}; {_plural(c['claims'], 'claim')} from {_plural(c['claim_sources'], 'source')}; "
             f"{_plural(c['external_results'], 'published reproduction result')} from "
             f"{_plural(c['external_sources'], 'source')}.")
    L.append("")
    unreadable = [x for x in data.get("skipped") or [] if str(x["why"]).startswith(UNREADABLE)]
    if unreadable:
        L.append("Unreadable runs, left out:")
        L.append("")
        for x in unreadable:
            L.append(f"- `{x['run_id']}`: {x['why'][len(UNREADABLE) + 2:]}")
        L.append("")
    L.append("## Summary")
    L.append("")
    if not data["summary"]:
        L.append("No comparisons yet.")
    for s in data["summary"]:
        parts = []
        for who, counts in s["by"].items():
            vs = ", ".join(f"{counts[v]} {GLYPH[v]} {v}" for v in VERDICTS if counts[v])
            parts.append(f"{who}: {vs}")
        L.append(f"- **{_md_escape(s['model'])}**: " + "; ".join(parts))
    L.append("")
    notes = _Notes()
    for b in data["benchmarks"]:
        L.append(f"## {b['name']} (`{b['key']}`, {b['problems']} problems)")
        L.append("")
        if b["note"]:
            L.append(f"{b['note'][0].upper()}{b['note'][1:]}.")
            L.append("")
        if b["entries"]:
            L.append("| model | measured by | metric | measured ± SE | k | claim | gap [interval] | verdict "
                     "| truncated % | tokens/sample | notes | link |")
            L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
            for x in b["entries"]:
                link = (f"[run]({x['link']}) [samples]({_samples_link(x['link'])})" if x["kind"] == "run"
                        else f"[source]({x['link']})")
                common_tail = (f"{pct(x['truncated_rate'])} | "
                               f"{'–' if x['tokens_per_sample'] is None else format(x['tokens_per_sample'], '.0f')}")
                if not x["comparisons"]:
                    L.append(f"| {_md_escape(x['model_display'])} | {x['label']} | {x['metric']} | "
                             f"{_measured_cell(x['value'], x['se'], x['se_is_bound'], x['se_question'])}"
                             f"{_spread_cell(x.get('spread_check'))}{grader_band.cell(x)} | "
                             f"{x['k']} | no claim | – | – | {common_tail} |  | {link} |")
                    continue
                for comp in x["comparisons"]:
                    cl = comp["claim"]
                    v = comp["verdict"]
                    bound = v["se_is_bound"] if comp["measured"] is not None else False
                    cell = _measured_cell(comp["measured"], comp["se_measured"], bound, comp.get("se_question"))
                    cell += _spread_cell(x.get("spread_check")) + grader_band.cell(comp)
                    claim = f"{pct(cl['value'])} ({cl['label']}, {_md_escape(cl['table'])})"
                    ref = notes.ref(_note_text(x, comp))
                    L.append(f"| {_md_escape(x['model_display'])} | {x['label']} | {comp['metric']} | {cell} | "
                             f"{x['k']} | {claim} | {_gap_cell(v)} | {_verdict_cell(v)} | {common_tail} | "
                             f"{ref} | {link} |")
            L.append("")
        if b["unmeasured_claims"]:
            L.append("Claims not yet measured:")
            L.append("")
            L.append("| model | metric | claim | source |")
            L.append("|---|---|---|---|")
            for u in b["unmeasured_claims"]:
                L.append(f"| {_md_escape(u['model_display'])} | {u['metric']} | {pct(u['value'])} | "
                         f"[{u['label']}]({u['url']}), {_md_escape(u['table'])} |")
            L.append("")
        for name, path in _plot_order((data.get("plots") or {}).get(b["key"], {})):
            L.append(f"![{b['name']}: {name}]({path})")
            L.append("")
    if data["runs_without_verdicts"]:
        L.append("## Runs without verdicts")
        L.append("")
        L.append("Runs on tasks that are not a benchmark (e.g. the CPU smoke sample) or of models without "
                 "published claims: measured, never compared.")
        L.append("")
        L.append("| model | task | pass@1 ± SE | k | problems | truncated % | tokens/sample | why no verdict | link |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for x in data["runs_without_verdicts"]:
            tok = "–" if x["tokens_per_sample"] is None else format(x["tokens_per_sample"], ".0f")
            L.append(f"| {_md_escape(x['model_display'])} | {x['task']} | "
                     f"{_measured_cell(x['value'], x['se'], x['se_is_bound'], x['se_question'])}{grader_band.cell(x)} | "
                     f"{x['k']} | {x['problems']} | {pct(x['truncated_rate'])} | {tok} | {x['why_no_verdict']} | "
                     f"[run]({x['link']}) [samples]({_samples_link(x['link'])}) |")
        L.append("")
        for task, plots in sorted((data.get("plots") or {}).items()):
            if task in BENCHMARKS:
                continue
            for name, path in _plot_order(plots):
                L.append(f"![{task}: {name}]({path})")
                L.append("")
    if notes.items:
        L.append("## Notes")
        L.append("")
        for i, text in enumerate(notes.items, 1):
            L.append(f"{i}. {_md_escape(text)}")
        L.append("")
    L.append("## Sources")
    L.append("")
    for s in data["claim_sources"]:
        kind = "reproduction" if s["kind"] == "reproduction" else "claims"
        L.append(f"- **{s['label']}** ({kind}, `{s['file']}`): {s['document']}. <{s['url']}>")
    L.append("")
    return "\n".join(L)


def render_run_report(run: RunData, entry: Mapping[str, Any], plots: Mapping[str, str]) -> str:
    m = run.metrics
    p = run.protocol
    mi = run.manifest.get("model") or {}
    L = [f"# Run `{run.run_id}`", ""]
    L.append("| | |")
    L.append("|---|---|")
    L.append(f"| model | {_md_escape(run.display)} (`{run.model}`: {mi.get('path')}, revision {mi.get('revision')}) |")
    bench = BENCHMARKS.get(run.benchmark)
    size = f", {run.problems} of {bench.problems} problems" if bench else f", {run.problems} problems"
    L.append(f"| task | `{run.task}` (benchmark `{run.benchmark}`{size}) |")
    L.append(f"| claims key | {('`' + run.claims_key + '`') if run.claims_key else 'none'} |")
    L.append(f"| status | {run.manifest.get('status')} (created {run.manifest.get('created', '?')}, "
             f"completed {run.manifest.get('completed', '?')}) |")
    sys_prompt = p.get("system_prompt")
    L.append(f"| protocol | k {p.get('k')}, temperature {p.get('temperature')}, top-p {p.get('top_p')}, "
             f"max tokens {p.get('max_tokens')}, seed {p.get('seed')}, system prompt "
             f"{'none' if not sys_prompt else repr(sys_prompt)}, backend {p.get('backend')} |")
    L.append(f"| instruction | {_md_escape(repr(p.get('instruction')))} |")
    L.append(f"| dataset | {_md_escape(str((run.manifest.get('dataset') or {}).get('fingerprint')))} |")
    L.append("| samples | [every sample in the browser](index.html) |")
    L.append("")
    L.append("## Metrics")
    L.append("")
    L.append("| metric | value |")
    L.append("|---|---|")
    L.append(f"| pass@1 | {pct(entry['value'])} ± {'≤' if entry['se_is_bound'] else ''}{pct(entry['se'])} "
             f"(generation SE); question SE {pct(entry['se_question'])} |")
    L.append(f"| cons@{run.k} | {pct(m.get('cons@k'))} |")
    passk = m.get("pass@k") or {}
    L.append("| pass@k | " + ", ".join(f"pass@{k} {pct(v)}" for k, v in sorted(passk.items(), key=lambda kv: int(kv[0])))
             + " |")
    L.append(f"| truncated | {pct(m.get('truncated_rate'))}% |")
    L.append(f"| no answer | {pct(m.get('no_answer_rate'))}% |")
    L.append(f"| errors | {pct(m.get('error_rate'))}% |")
    tok = m.get("mean_output_tokens")
    L.append(f"| tokens/sample | {'–' if tok is None else format(tok, '.0f')} (max {m.get('max_output_tokens')}) |")
    L.append("| scoring reasons | " + ", ".join(f"{k} {v}" for k, v in sorted((m.get("reasons") or {}).items())) + " |")
    L.append("")
    L.append("## Verdicts")
    L.append("")
    if entry["why_no_verdict"]:
        L.append(f"No verdict: {entry['why_no_verdict']}.")
        L.append("")
    elif not entry["comparisons"]:
        L.append("No published claim for this model and benchmark.")
        L.append("")
    else:
        L.append("| claim | metric | measured ± SE | gap [interval] | verdict | why |")
        L.append("|---|---|---|---|---|---|")
        for comp in entry["comparisons"]:
            cl = comp["claim"]
            v = comp["verdict"]
            cell = _measured_cell(comp["measured"], comp["se_measured"], v["se_is_bound"] if comp["measured"]
                                  is not None else False)
            L.append(f"| {pct(cl['value'])} ([{cl['label']}]({cl['url']}), {_md_escape(cl['table'])}) | "
                     f"{comp['metric']} | {cell} | {_gap_cell(v)} | {_verdict_cell(v)} | {_md_escape(v['why'])} |")
        L.append("")
        for comp in entry["comparisons"]:
            cl = comp["claim"]
            lines = []
            if comp["differences"]:
                lines.append("protocol differences: " + "; ".join(comp["differences"]))
            d = comp.get("diagnosis") or {}
            if d.get("truncated_share") is not None:
                lines.append(f"if every truncated sample had been correct, {pct(d['truncated_share'], 0)}% of the "
                             f"gap would close; truncated or unanswered: {pct(d['unanswered_share'], 0)}%")
            if lines:
                L.append(f"- {cl['label']} ({comp['metric']}, {_md_escape(cl['table'])}): " + ". ".join(lines) + ".")
        L.append("")
        L.append(f"Diagnosis: truncated {pct(m.get('truncated_rate'))}%, no answer {pct(m.get('no_answer_rate'))}%.")
        L.append("")
    L.extend(grader_band.run_section(run, entry))
    by = m.get("by") or {}
    for g, buckets in sorted(by.items()):
        L.append(f"## pass@1 by {g}")
        L.append("")
        L.append(f"| {g} | problems | pass@1 |")
        L.append("|---|---|---|")
        for key, b in buckets.items():
            L.append(f"| {_md_escape(str(key))} | {b['problems']} | {pct(b['pass@1'])} |")
        L.append("")
    if plots:
        L.append("## Plots")
        L.append("")
        for name, path in _plot_order(plots):
            L.append(f"![{name}]({path})")
            L.append("")
    return "\n".join(L)


# -- plots -----------------------------------------------------------------------------------------

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


# -- entry points ------------------------------------------------------------------------------------

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


if __name__ == "__main__":
    main()
