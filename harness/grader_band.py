"""The grader band of the report: what a run measures under each grader profile, and whether a
verdict depends on the grader.

Math runs record every sample's verdict under the strict, default and lenient graders
(`Score.by_grader`). For a run and a claim, the comparison is made with the profile the claim names
(`grader:` in its protocol), else with the run's own; the same comparison under every other
profile gives the band (lowest to highest pass@1) shown beside the measured value, and a note
when the verdicts differ ("reproduced with lenient, below with strict").
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from harness.scoring.profiles import GRADER_ORDER, profile_scores, profiles_of


def view(run: Any, profile: str | None) -> Any:
    """The run as `profile` graded it (a copy of the report's RunData), or the run itself when it
    has no verdicts for that profile."""
    if not profile or profile == configured(run) or profile not in profiles_of(run.scores):
        return run
    from harness import metrics as metrics_mod
    from harness.metrics import per_problem
    from harness.scoring.math import normalise

    scores = profile_scores(run.scores, profile)
    m = dict(run.metrics)
    m.update({k: v for k, v in metrics_mod.compute(scores).items() if k not in ("by",)})
    grouped: dict[str, list] = defaultdict(list)
    for s in scores:
        grouped[s.id].append(s)
    by_problem, answers = [], []
    for pid in sorted(grouped):
        ss = sorted(grouped[pid], key=lambda s: s.sample)
        by_problem.append(ss)
        answers.append([(None if s.extracted is None or s.reason == "error" else normalise(s.extracted),
                         bool(s.correct)) for s in ss])
    return dataclasses.replace(run, scores=scores, metrics=m, by_problem=by_problem, answers=answers,
                               counts=[(r.n, r.correct) for r in per_problem(scores)])


def configured(run: Any) -> str | None:
    """The profile whose verdict is the run's `correct` (None when the run has no profiles)."""
    g = (run.metrics.get("grader") or {}).get("profile")
    if g:
        return str(g)
    return "default" if profiles_of(run.scores) else None


def compare(compare_run: Callable[..., dict[str, Any]], run: Any, claim: Any, cfg: Any) -> dict[str, Any]:
    """compare_run(run, claim, cfg) with the claim's grader, plus `grader` (the profile used) and
    `by_grader` ({profile: {measured, verdict}}) when the run has several profiles."""
    profiles = profiles_of(run.scores)
    wanted = claim.protocol.get("grader") if hasattr(claim, "protocol") else None
    used = wanted if wanted in profiles else configured(run)
    comp = compare_run(view(run, used), claim, cfg)
    if len(profiles) < 2:
        return comp
    comp["grader"] = used
    comp["grader_from_claim"] = wanted in profiles
    band: dict[str, Any] = {}
    for p in profiles:
        c = comp if p == used else compare_run(view(run, p), claim, cfg)
        band[p] = {"measured": c["measured"], "verdict": c["verdict"]["verdict"]}
    comp["by_grader"] = band
    return comp


def entry_band(run: Any) -> dict[str, float] | None:
    """{profile: pass@1} of a run (None without profiles)."""
    by = run.metrics.get("by_grader") or {}
    profiles = [p for p in GRADER_ORDER if p in by and by[p].get("pass@1") is not None]
    if len(profiles) < 2:
        return None
    return {p: round(float(by[p]["pass@1"]), 6) for p in profiles}


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def cell(x: Mapping[str, Any]) -> str:
    """The band to append to a measured-value cell: " · graders 62.0–70.5" (empty without one)."""
    band = x.get("by_grader")
    if band and isinstance(next(iter(band.values())), Mapping):
        values = [v["measured"] for v in band.values() if v.get("measured") is not None]
    elif band:
        values = list(band.values())
    else:
        band = x.get("grader_band")
        values = list(band.values()) if band else []
    if len(values) < 2:
        return ""
    return f" · graders {_pct(min(values))}–{_pct(max(values))}"


def note(comp: Mapping[str, Any]) -> str | None:
    """"the verdict depends on the grader: reproduced with lenient, below with strict" (None when
    every profile gives the same verdict)."""
    band = comp.get("by_grader")
    if not band:
        return None
    verdicts: dict[str, list[str]] = defaultdict(list)
    for p in GRADER_ORDER:
        if p in band:
            verdicts[band[p]["verdict"]].append(p)
    values = ", ".join(f"{p} {_pct(band[p]['measured'])}" for p in GRADER_ORDER if p in band)
    who = f"graded {comp.get('grader')}" + (" as the claim states" if comp.get("grader_from_claim") else "")
    if len(verdicts) < 2:
        return f"pass@1 by grader: {values} ({who})"
    parts = [f"{v} with {' and '.join(ps)}" for v, ps in verdicts.items()]
    return f"the verdict depends on the grader: {', '.join(parts)} ({values}; {who})"


def legend(data: Mapping[str, Any]) -> list[str]:
    """The leaderboard's explanation of the band, when some row shows one."""
    rows = [x for b in data.get("benchmarks", []) for x in b.get("entries", [])] + list(data.get("runs_without_verdicts", []))
    if not any(x.get("grader_band") for x in rows):
        return []
    return [LEGEND, ""]


LEGEND = ("`graders a–b`: the lowest and highest value under the strict (boxed only), default "
          "(answer ladder) and lenient (math-verify over the whole answer) graders; a claim that names "
          "its grader is compared under that one. Grading: [docs/grading.md](../docs/grading.md).")


def run_section(run: Any, entry: Mapping[str, Any]) -> list[str]:
    """Run report lines: the run's metrics and verdicts under every grader profile."""
    by = run.metrics.get("by_grader") or {}
    if not by:
        return []
    from harness.store import RunStore

    g = run.metrics.get("grader") or {}
    L = ["## Graders", "",
         f"`correct` is the {g.get('profile', 'default')} grader's verdict (grader version {g.get('version', '?')}, "
         f"scores file `{RunStore(run.path).scores_path.name}`).", "",
         "| grader | pass@1 ± SE | cons@k |", "|---|---|---|"]
    for p in GRADER_ORDER:
        if p in by:
            b = by[p]
            L.append(f"| {p} | {_pct(b.get('pass@1'))} ± {_pct(b.get('pass@1_se_generation'))} | {_pct(b.get('cons@k'))} |")
    L.append("")
    for comp in entry.get("comparisons") or []:
        n = note(comp)
        if n:
            L.append(f"- {comp['claim']['label']} ({comp['metric']}): {n[0].upper()}{n[1:]}.")
    L.append("")
    return L
