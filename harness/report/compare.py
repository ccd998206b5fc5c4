"""Measured values against published claims: one run or one published reproduction per entry,
each with its comparisons and verdicts, and the whole leaderboard as data (`build`)."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

from harness import grader_band
from harness.claims import BENCHMARKS, Claim, ExternalResult, Registry
from harness.report.load import UNREADABLE, RunData, fixable_gain, load_runs, primary_value, select_latest
from harness.verdict import (
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


@overload
def _votes_k(metric: str, k: int) -> int: ...
@overload
def _votes_k(metric: str, k: int | None) -> int | None: ...
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
    if key and run.eligible is None:  # (eligible implies a claims key)
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


def _claim_order(c: Claim) -> tuple[bool, str, int, str, int]:
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

    def entry_order(x: Mapping[str, Any]) -> tuple[str, bool, str, str, str]:
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

