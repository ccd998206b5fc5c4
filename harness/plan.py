"""Know before you spend: can a run settle a claim, with how many samples, at what cost.

    python -m harness plan model=r1-distill-qwen-7b task=aime24 sampling=r1 [--gpu H100] [--json]
    python -m harness plan model=a,b task=aime24,math500 sampling=r1       (a sweep: every combination)
    python -m harness plan --claims deepseek-r1-paper --table 5 [--gpu A100]

For every (model, task, claim) it prints:

- the samples per problem a run needs so that, if the claim holds, the verdict is conclusive
  (`reproduced`) at the configured tolerance (configs/verdict.yaml): from the claim's value, the
  benchmark's size and the generation SE of both sides (the claim's own k included), computed
  with the verdict's own functions (harness/verdict.py). Per-problem solve rates come from an
  earlier run of the model on the task when there is one, else from the claim's value (the upper
  bound sqrt(p(1-p)/(kN)), which can only ask for more samples than needed). A claim whose own
  sampling noise already exceeds what the tolerance allows cannot be settled at any k: the plan
  says so, with the smallest gap a run could still call below or above;
- the expected output tokens: from earlier runs of the model on the benchmark, else a published
  tokens-per-sample figure (configs/external/), else the max-tokens bound, labelled as which;
- GPU-hours on a named GPU class: throughput from earlier runs on that class, else the defaults
  in configs/plan.yaml, labelled as estimates.

`--claims SOURCE [--table T]` plans every claim of a claims file (optionally one table), with the
claim's own protocol (its k, temperature, top-p and max tokens) on the model's config and the
benchmark's task.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.claims import BENCHMARKS, CONFIG_DIR, Claim, Registry, load_registry
from harness.errors import ConfigError, HarnessError
from harness.metrics import Vote
from harness.verdict import Sides, VerdictConfig, cons_sides, decide, se_at_k, se_bound

log = logging.getLogger("harness.plan")

PLAN_DEFAULTS = CONFIG_DIR / "plan.yaml"
K_MAX = 1 << 16  # the largest k the search considers; beyond it a plan is called impossible
GROUPS = ("model", "task", "sampling", "backend")


# -- what a plan says ------------------------------------------------------------------------------

@dataclass
class Need:
    """Samples per problem for one claim."""

    claim: str  # "R1 paper, Table 5"
    metric: str
    value: float  # the claim, fraction
    claim_k: str  # as stated: "64", "4-64", "unstated", "greedy"
    se_claim: float
    rates: str  # where the per-problem solve rates came from
    k_needed: int | None  # None: no k is enough
    decidable_with_claim_k: bool | None  # None when the claim states no k
    planned_k: int
    conclusive_at_planned_k: bool
    se_run_at_planned_k: float
    detectable_gap: float  # at the planned k: a true gap beyond ±this is called below / above
    se_is_bound: bool = True  # the SEs are upper bounds (no per-problem data)
    k_needed_at_claim_k_max: int | None = None  # for a stated range of k: k needed if the claim used its top
    why: str = ""


@dataclass
class Plan:
    model: str  # model config name
    display: str
    task: str
    benchmark: str
    problems: int | None
    k: int  # planned samples per problem (sampling.k)
    max_tokens: int
    api: bool
    tokens_per_sample: float | None
    tokens_source: str
    output_tokens: float | None  # for the planned k
    gpu: str | None
    throughput: float | None  # output tokens/s per GPU
    throughput_source: str
    gpu_hours: float | None  # for the planned k
    cost_usd: float | None  # API models with a price
    needs: list[Need] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def gpu_hours_at(self, k: int | None) -> float | None:
        if k is None or self.gpu_hours is None or not self.k:
            return None
        return self.gpu_hours * k / self.k

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# -- inputs: defaults, configs, earlier runs --------------------------------------------------------

@dataclass(frozen=True)
class Defaults:
    default_gpu: str
    gpus: Mapping[str, Mapping[str, Any]]
    params_b: Mapping[str, float]

    @classmethod
    def load(cls, path: Path = PLAN_DEFAULTS) -> Defaults:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(str(path), f"cannot read the planner defaults: {e}") from e
        gpus = data.get("gpus")
        if not isinstance(gpus, Mapping) or not gpus:
            raise ConfigError(f"{Path(path).name}: gpus", "must map GPU classes to match and throughput")
        for name, g in gpus.items():
            tp = (g or {}).get("throughput")
            if not isinstance(tp, Mapping) or not tp or any(float(v) <= 0 for v in tp.values()):
                raise ConfigError(f"{Path(path).name}: gpus.{name}.throughput",
                                  "must map model sizes (billions) to positive tokens/s per GPU")
        return cls(default_gpu=str(data.get("default_gpu") or next(iter(gpus))), gpus=gpus,
                   params_b={str(k): float(v) for k, v in (data.get("params_b") or {}).items()})

    def gpu_class(self, name: str) -> str:
        for key in self.gpus:
            if key.lower() == name.lower():
                return key
        raise ConfigError("--gpu", f"unknown GPU class {name!r} (known: {', '.join(self.gpus)}; "
                                   f"add one to {PLAN_DEFAULTS.name})")

    def matches(self, gpu_class: str, device_name: str) -> bool:
        pats = self.gpus[gpu_class].get("match") or [gpu_class]
        return any(re.search(rf"\b{re.escape(str(p))}\b", device_name, re.IGNORECASE) for p in pats)

    def throughput(self, gpu_class: str, params_b: float) -> float:
        table = sorted((float(s), float(v)) for s, v in self.gpus[gpu_class]["throughput"].items())
        for size, tps in table:
            if params_b <= size:
                return tps
        return table[-1][1]


def model_params_b(model_cfg: Mapping[str, Any], defaults: Defaults) -> float | None:
    """Billions of parameters: configs/plan.yaml's table, else read off the hub path or name
    ("...-7B", "...-1.5B", "...-8x7B" counts 8 x 7)."""
    name = str(model_cfg.get("name") or "")
    if name in defaults.params_b:
        return defaults.params_b[name]
    for text in (str(model_cfg.get("path") or ""), name):
        m = re.search(r"(?:(\d+)x)?(\d+(?:\.\d+)?)[bB](?![a-zA-Z])", text)
        if m:
            return float(m.group(2)) * (int(m.group(1)) if m.group(1) else 1)
    return None


_COMPOSED: dict[tuple[str, ...], dict[str, Any]] = {}


def compose(overrides: Sequence[str]) -> dict[str, Any]:
    """The resolved eval config for these Hydra overrides (as `python -m harness` would see it)."""
    key = tuple(overrides)
    if key not in _COMPOSED:
        _COMPOSED[key] = _compose(overrides)
    return _COMPOSED[key]


def _compose(overrides: Sequence[str]) -> dict[str, Any]:
    from harness.compose import compose

    return compose(overrides)


def expand_sweep(overrides: Sequence[str]) -> list[list[str]]:
    """Hydra multirun style: `model=a,b task=x,y` gives every combination."""
    choices: list[list[str]] = []
    for o in overrides:
        key, sep, value = o.partition("=")
        if sep and key in GROUPS and "," in value:
            choices.append([f"{key}={v.strip()}" for v in value.split(",") if v.strip()])
        else:
            choices.append([o])
    return [list(c) for c in itertools.product(*choices)]


@dataclass
class History:
    """What earlier finished runs say: per-problem rates, tokens per sample, throughput."""

    runs: list[Any]  # harness.report.RunData

    @classmethod
    def load(cls, results_dir: Path | None) -> History:
        if results_dir is None or not (Path(results_dir) / "runs").is_dir():
            return cls([])
        from harness.report import load_runs

        runs, _ = load_runs(Path(results_dir))
        return cls(runs)

    def of(self, model: str, claims_key: str | None, benchmark: str | None = None) -> list[Any]:
        out = [r for r in self.runs if (r.model == model or (claims_key and r.claims_key == claims_key))
               and (benchmark is None or r.benchmark == benchmark)]
        return sorted(out, key=lambda r: r.run_id, reverse=True)  # latest first

    def full_run(self, model: str, claims_key: str | None, benchmark: str) -> Any | None:
        """The latest run of the model on the whole benchmark with at least 2 samples per problem
        (per-problem rates need them)."""
        size = BENCHMARKS[benchmark].problems if benchmark in BENCHMARKS else None
        for r in self.of(model, claims_key, benchmark):
            if (size is None or r.problems >= size) and min(n for n, _ in r.counts) >= 2:
                return r
        return None


# -- the statistics: samples per problem --------------------------------------------------------------

def _k_label(k: Any) -> str:
    if k is None:
        return "unstated"
    if isinstance(k, (list, tuple)):
        return f"{min(k)}-{max(k)}"
    return str(k)


def _greedy(c: Claim) -> bool:
    t = c.protocol.get("temperature")
    return t is not None and float(t) == 0.0


def _smallest_k(conclusive, se) -> int | None:
    """The smallest k in [1, K_MAX] with conclusive(se(k)), or None; conclusive(se(k)) is monotone in k."""
    if not conclusive(0.0) or not conclusive(se(K_MAX)):
        return None
    lo, hi = 1, K_MAX
    while lo < hi:
        mid = (lo + hi) // 2
        if conclusive(se(mid)):
            hi = mid
        else:
            lo = mid + 1
    return lo


def pass1_need(c: Claim, problems: int, planned_k: int, cfg: VerdictConfig,
               rates: Sequence[float] | None = None, rates_from: str = "") -> Need:
    """Samples per problem for a pass@1 (or resolved) claim, assuming the run measures the claimed
    value: the smallest k whose verdict on a zero gap is `reproduced`. The claim's SE is taken at
    its stated k (the bottom of a stated range, 1 when unstated: the widest error bar the
    statement allows, as the verdict does)."""
    p = c.p
    kc = c.k_for_se or 1
    greedy = _greedy(c)
    bound = rates is None

    def se(k: int) -> float:
        return se_bound(p, k, problems) if rates is None else se_at_k(rates, k)

    def need_with_claim_at(k_claim: int) -> tuple[int | None, float]:
        se_claim = 0.0 if greedy else se(k_claim)
        return _smallest_k(lambda s: decide(p, p, Sides(s, se_claim, bound), cfg).verdict == "reproduced",
                           se), se_claim

    k_needed, se_claim = need_with_claim_at(kc)
    stated = c.protocol.get("k")
    k_claim_max = (max(stated) if isinstance(stated, (list, tuple)) else stated) if stated is not None else None
    at_top = (need_with_claim_at(int(k_claim_max))[0]
              if isinstance(stated, (list, tuple)) and k_claim_max is not None and not greedy else None)
    se_planned = se(planned_k)
    sides = Sides(se_planned, se_claim, bound)
    why = ""
    if k_needed is None:
        why = (f"the claim's own sampling noise (SE {'≤' if bound else ''}{100 * se_claim:.2f} points from "
               f"k {kc}) leaves no room for a conclusive verdict at ±{100 * cfg.tolerance:g}")
        if at_top is not None:
            why += f"; had the claim used k {k_claim_max}, k {at_top} would do"
    return Need(
        claim=f"{c.source.label}, {c.table}", metric=c.metric, value=p,
        claim_k="greedy" if greedy else _k_label(stated), se_claim=se_claim,
        rates=rates_from if rates is not None else "claim value (bound)", k_needed=k_needed,
        decidable_with_claim_k=(None if k_claim_max is None else
                                (k_needed is not None and k_needed <= int(k_claim_max))),
        planned_k=planned_k,
        conclusive_at_planned_k=decide(p, p, sides, cfg).verdict == "reproduced",
        se_run_at_planned_k=se_planned, detectable_gap=cfg.tolerance + cfg.z * sides.combined,
        se_is_bound=bound, k_needed_at_claim_k_max=at_top, why=why)


def cons_need(c: Claim, problems: int, planned_k: int, cfg: VerdictConfig,
              answers: Sequence[Sequence[Vote]] | None = None, rates_from: str = "") -> Need:
    """cons@K needs exactly K samples per problem; the question is only whether that is enough.
    Without an earlier run, each problem's vote is a Bernoulli whose variance is bounded by the
    claimed rate's: SE <= sqrt(q(1-q)/N) on each side."""
    K = int(c.metric.split("@")[1])
    q = c.p
    if answers is not None:
        sides = cons_sides(answers, K, K, cfg.cons_bootstrap)
    else:
        b = math.sqrt(max(q * (1 - q), 0.0) / problems)
        sides = Sides(b, b, True)
    ok = decide(q, q, sides, cfg).verdict == "reproduced"
    at_planned = ok and planned_k == K
    why = "" if ok else (f"{c.metric} on {problems} problems: each side's SE "
                         f"{'≤' if sides.bound else ''}{100 * sides.se_claim:.1f} points, with k fixed at {K}")
    return Need(
        claim=f"{c.source.label}, {c.table}", metric=c.metric, value=q, claim_k=str(K), se_claim=sides.se_claim,
        rates=rates_from if answers is not None else "claim value (bound)", k_needed=K if ok else None,
        decidable_with_claim_k=ok, planned_k=planned_k, conclusive_at_planned_k=at_planned,
        se_run_at_planned_k=sides.se_measured,
        detectable_gap=cfg.tolerance + cfg.z * sides.combined, se_is_bound=sides.bound,
        why=why or ("" if planned_k == K else f"the run must use k = {K} (planned {planned_k})"))


# -- tokens and GPU-hours ---------------------------------------------------------------------------

def expected_tokens(model: str, claims_key: str | None, benchmark: str, max_tokens: int, history: History,
                    reg: Registry | None) -> tuple[float, str]:
    runs = [r for r in history.of(model, claims_key, benchmark) if r.metrics.get("mean_output_tokens")]
    if runs:
        r = runs[0]
        cap = int(r.protocol.get("max_tokens") or 0)
        note = f", its max tokens {cap}" if cap and cap != max_tokens else ""
        return float(r.metrics["mean_output_tokens"]), f"earlier run {r.run_id}{note}"
    if reg is not None and claims_key:
        for e in reg.external:
            if e.model == claims_key and e.benchmark == benchmark and e.tokens_per_sample:
                return float(min(e.tokens_per_sample, max_tokens)), f"published: {e.source.label}, {e.table}"
    return float(max_tokens), "upper bound: max_tokens"


def throughput(model_cfg: Mapping[str, Any], gpu: str, defaults: Defaults, history: History) -> tuple[float | None, str]:
    model = str(model_cfg.get("name"))
    for r in history.of(model, model_cfg.get("claims_key")):
        usage = r.metrics.get("usage") or {}
        tps = usage.get("output_tokens_per_second")
        devices = (r.manifest.get("hardware") or {}).get("gpus") or []
        if tps and devices and all(defaults.matches(gpu, d) for d in devices):
            return float(tps) / len(devices), f"earlier run {r.run_id} on {len(devices)}x {devices[0]}"
    size = model_params_b(model_cfg, defaults)
    if size is None:
        return None, "unknown model size: add it to configs/plan.yaml params_b"
    return defaults.throughput(gpu, size), f"estimate for a {size:g}B model (configs/plan.yaml)"


# -- one plan -----------------------------------------------------------------------------------------

def problem_count(task_cfg: Mapping[str, Any]) -> int | None:
    """Problems the run will have: a local JSONL copy's rows (it may hold part of the benchmark),
    else the benchmark's size, cut to task.limit."""
    bench = task_cfg.get("benchmark")
    n = BENCHMARKS[bench].problems if bench in BENCHMARKS else None
    if task_cfg.get("data_files"):
        path = Path(str(task_cfg["data_files"]))
        path = path if path.exists() else CONFIG_DIR.parent / path
        if path.suffix == ".jsonl" and path.is_file():
            with open(path, encoding="utf-8") as f:
                n = sum(1 for line in f if line.strip())
    limit = task_cfg.get("limit")
    if limit:
        n = min(int(limit), n) if n else int(limit)
    return n


def make_plan(cfg: Mapping[str, Any], claims: Iterable[Claim], vcfg: VerdictConfig, defaults: Defaults,
              history: History, reg: Registry | None, gpu: str) -> Plan:
    model_cfg, task_cfg, sampling = cfg["model"], cfg["task"], cfg["sampling"]
    model = str(model_cfg["name"])
    claims_key = model_cfg.get("claims_key")
    benchmark = str(task_cfg.get("benchmark") or task_cfg["name"])
    N = problem_count(task_cfg)
    k = int(sampling["k"])
    max_tokens = int(sampling["max_tokens"])
    api = bool(model_cfg.get("api")) or cfg.get("backend", {}).get("name") == "openai"
    tps, tsrc = expected_tokens(model, claims_key, benchmark, max_tokens, history, reg)
    plan = Plan(model=model, display=str(model_cfg.get("display_name") or model), task=str(task_cfg["name"]),
                benchmark=benchmark, problems=N, k=k, max_tokens=max_tokens, api=api, tokens_per_sample=tps,
                tokens_source=tsrc, output_tokens=None if N is None else N * k * tps, gpu=None if api else gpu,
                throughput=None, throughput_source="", gpu_hours=None, cost_usd=None)
    if api:
        price = model_cfg.get("price") or {}
        if price.get("output_per_mtok") is not None and plan.output_tokens is not None:
            plan.cost_usd = plan.output_tokens / 1e6 * float(price["output_per_mtok"])
        plan.throughput_source = "hosted API: no GPU"
    else:
        thr, src = throughput(model_cfg, gpu, defaults, history)
        plan.throughput, plan.throughput_source = thr, src
        if thr and plan.output_tokens is not None:
            plan.gpu_hours = plan.output_tokens / thr / 3600
    if N is None:
        plan.notes.append("unknown number of problems: set task.limit or task.data_files")
        return plan
    bench = BENCHMARKS.get(benchmark)
    if bench and N < bench.problems and vcfg.subset == "inconclusive":
        plan.notes.append(f"subset: {N} of {bench.problems} problems: every verdict will be inconclusive "
                          "(configs/verdict.yaml subset)")
    prior = history.full_run(model, claims_key, benchmark) if bench else None
    for c in claims:
        if c.metric.startswith("cons@"):
            answers = prior.answers if prior is not None and prior.k >= int(c.metric.split("@")[1]) else None
            plan.needs.append(cons_need(c, N, k, vcfg, answers,
                                        f"earlier run {prior.run_id}" if prior is not None and answers else ""))
        else:
            rates = [cc / n for n, cc in prior.counts] if prior is not None and prior.problems == N else None
            plan.needs.append(pass1_need(c, N, k, vcfg, rates,
                                         f"earlier run {prior.run_id}" if prior is not None and rates else ""))
    if bench is None:
        plan.notes.append(f"task `{plan.task}` is not a benchmark: no claim can be settled")
    elif not plan.needs:
        plan.notes.append(f"no published claim for {claims_key or model} on {benchmark}")
    return plan


# -- claims mode -----------------------------------------------------------------------------------

def model_config_for(key: str, model_dir: Path) -> str | None:
    """The model config (file stem) whose name or claims_key is this claims key; the file named
    after the key wins."""
    if (model_dir / f"{key}.yaml").is_file():
        return key
    for path in sorted(model_dir.glob("*.yaml")):
        cfg = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if cfg.get("claims_key") == key:
            return path.stem
    return None


def task_for(benchmark: str, task_dir: Path) -> str | None:
    """The task config that runs the whole benchmark (benchmark key, no limit, no data_files)."""
    for path in sorted(task_dir.glob("*.yaml")):
        cfg = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if cfg.get("benchmark") == benchmark and not cfg.get("limit") and not cfg.get("data_files") \
                and "defaults" not in cfg:
            return path.stem
    return None


def claim_overrides(c: Claim) -> list[str]:
    """The claim's own protocol as sampling overrides (its largest stated k)."""
    out = []
    k = c.protocol.get("k")
    if c.metric.startswith("cons@"):
        out.append(f"sampling.k={int(c.metric.split('@')[1])}")
    elif k is not None:
        out.append(f"sampling.k={max(k) if isinstance(k, (list, tuple)) else int(k)}")
    for key in ("temperature", "top_p", "max_tokens"):
        if c.protocol.get(key) is not None:
            out.append(f"sampling.{key}={c.protocol[key]}")
    return out


def _table_match(table: str, wanted: str) -> bool:
    wanted = wanted.strip()
    label = wanted if re.match(r"^[A-Za-z]", wanted) else f"Table {wanted}"
    return re.search(rf"(?<![\w.]){re.escape(label)}(?![\w.])", table, re.IGNORECASE) is not None


def plans_for_claims(source: str, table: str | None, reg: Registry, vcfg: VerdictConfig, defaults: Defaults,
                     history: History, gpu: str, extra: Sequence[str] = ()) -> tuple[list[Plan], list[str]]:
    claims = [c for c in reg.claims if c.source.id == source and (table is None or _table_match(c.table, table))]
    if not claims:
        known = sorted({c.source.id for c in reg.claims})
        raise ConfigError("--claims", f"no claims from source {source!r}" + (f" in table {table!r}" if table else "")
                          + f" (sources: {', '.join(known)})")
    plans: list[Plan] = []
    skipped: list[str] = []
    model_dir, task_dir = CONFIG_DIR / "model", CONFIG_DIR / "task"
    for c in claims:
        mname = model_config_for(c.model, model_dir)
        tname = task_for(c.benchmark, task_dir)
        if mname is None or tname is None:
            what = f"no model config for `{c.model}`" if mname is None else f"no task config for benchmark `{c.benchmark}`"
            skipped.append(f"{c.model} / {c.benchmark} / {c.metric} ({c.source.label}, {c.table}): {what}")
            continue
        cfg = compose([f"model={mname}", f"task={tname}", "sampling=r1", *claim_overrides(c), *extra])
        plans.append(make_plan(cfg, [c], vcfg, defaults, history, reg, gpu))
    return plans, skipped


# -- rendering ----------------------------------------------------------------------------------------

def _pts(x: float | None, digits: int = 1) -> str:
    return "–" if x is None or math.isnan(x) else f"{100 * x:.{digits}f}"


def _tokens(x: float | None) -> str:
    if x is None:
        return "–"
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= div:
            return f"{x / div:.1f}{unit}"
    return f"{x:.0f}"


def _hours(x: float | None) -> str:
    return "–" if x is None else (f"{x:.1f}" if x >= 1 else f"{x:.2f}")


def render(plans: Sequence[Plan], vcfg: VerdictConfig, gpu: str, skipped: Sequence[str] = ()) -> str:
    L = [f"Verdict rule (configs/verdict.yaml): reproduced when the {100 * vcfg.confidence:g}% interval of the gap "
         f"lies within ±{100 * vcfg.tolerance:g} points. "
         "'k needed' assumes the run measures the claimed value; 'detects' is the smallest true gap the "
         "planned run would call below or above."]
    rows = [("model", "task", "N", "metric", "claim", "claim k", "k needed", "with claim k", "planned k",
             "detects ±", "tokens/sample", "GPU-h (planned k)", "GPU-h (k needed)")]
    for p in plans:
        gh = "API" if p.api else _hours(p.gpu_hours)
        base = (p.model, p.task, str(p.problems or "?"))
        tok = f"{p.tokens_per_sample:.0f}" if p.tokens_per_sample is not None else "–"
        if not p.needs:
            rows.append((*base, "–", "–", "–", "–", "–", str(p.k), "–", tok, gh, "–"))
        for n in p.needs:
            kn = str(n.k_needed) if n.k_needed is not None else "never"
            dec = "–" if n.decidable_with_claim_k is None else ("yes" if n.decidable_with_claim_k else "no")
            need_h = "API" if p.api else _hours(p.gpu_hours_at(n.k_needed))
            rows.append((*base, n.metric, _pts(n.value), n.claim_k, kn, dec,
                         f"{p.k} ({'conclusive' if n.conclusive_at_planned_k else 'not conclusive'})",
                         _pts(n.detectable_gap), tok, gh, need_h))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    L.append("")
    for j, r in enumerate(rows):
        L.append("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
        if j == 0:
            L.append("  ".join("-" * w for w in widths))
    L.append("")
    groups: dict[tuple, list[Plan]] = {}
    for p in plans:
        groups.setdefault((p.model, p.task, p.k, p.max_tokens), []).append(p)
    for group in groups.values():
        p = group[0]
        L.append(f"{p.display} x {p.task} ({p.problems or '?'} problems): k {p.k}, max tokens {p.max_tokens}")
        for n in (n for q in group for n in q.needs):
            L.append(f"  {n.claim} ({n.metric} {_pts(n.value)}, k {n.claim_k}): claim SE "
                     f"{'≤' if n.se_is_bound else ''}{_pts(n.se_claim, 2)}, per-problem rates from {n.rates}"
                     + (f"; {n.why}" if n.why else ""))
        tot = _tokens(p.output_tokens)
        L.append(f"  tokens: {p.tokens_per_sample:.0f} per sample ({p.tokens_source}); {tot} output tokens at k {p.k}")
        if p.api:
            cost = f"; about ${p.cost_usd:,.0f} at the config's output price" if p.cost_usd is not None else ""
            L.append(f"  compute: hosted API{cost}")
        else:
            thr = f"{p.throughput:.0f} tokens/s per {p.gpu}" if p.throughput else "unknown throughput"
            L.append(f"  GPU: {_hours(p.gpu_hours)} {p.gpu} GPU-hours at k {p.k}, {thr} ({p.throughput_source})")
        for note in dict.fromkeys(x for q in group for x in q.notes):
            L.append(f"  note: {note}")
    for s in skipped:
        L.append(f"not planned: {s}")
    return "\n".join(L) + "\n"


# -- entry point ---------------------------------------------------------------------------------------

def build_plans(overrides: Sequence[str], *, claims_source: str | None = None, table: str | None = None,
                gpu: str | None = None, results_dir: Path | None = Path("results"),
                defaults_path: Path = PLAN_DEFAULTS, verdict_config: Path | None = None,
                claims_dir: Path | None = None, external_dir: Path | None = None
                ) -> tuple[list[Plan], list[str], VerdictConfig, str]:
    defaults = Defaults.load(defaults_path)
    gpu_class = defaults.gpu_class(gpu or defaults.default_gpu)
    vcfg = VerdictConfig.load(verdict_config)
    reg = load_registry(claims_dir, external_dir)
    history = History.load(results_dir)
    if claims_source:
        plans, skipped = plans_for_claims(claims_source, table, reg, vcfg, defaults, history, gpu_class, overrides)
        return plans, skipped, vcfg, gpu_class
    plans = []
    for combo in expand_sweep(overrides):
        cfg = compose(combo)
        key = cfg["model"].get("claims_key")
        bench = cfg["task"].get("benchmark")
        claims = reg.claims_for(key, bench) if key and bench in BENCHMARKS else []
        plans.append(make_plan(cfg, claims, vcfg, defaults, history, reg, gpu_class))
    return plans, [], vcfg, gpu_class


def plan_text(runs: Sequence[Sequence[str]], results_dir: Path | None = Path("results"),
              gpu: str | None = None) -> str:
    """The plan of several evaluations (each a list of Hydra overrides), as `make nightly
    ARGS=--dry-run` prints it."""
    plans: list[Plan] = []
    vcfg, gpu_class = VerdictConfig.load(), gpu or Defaults.load().default_gpu
    for overrides in runs:
        more, _, vcfg, gpu_class = build_plans(list(overrides), gpu=gpu, results_dir=results_dir)
        plans.extend(more)
    return render(plans, vcfg, gpu_class)


def main(argv: Iterable[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="harness plan", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Hydra overrides as for `python -m harness` (model=..., task=..., "
                                        "sampling=..., sampling.k=...); comma lists sweep.")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides")
    ap.add_argument("--claims", default=None, help="plan every claim of this claims source id (e.g. deepseek-r1-paper)")
    ap.add_argument("--table", default=None, help="with --claims: only this table (e.g. 5, or 'Table 5')")
    ap.add_argument("--gpu", default=None, help="GPU class (configs/plan.yaml; default: its default_gpu)")
    ap.add_argument("--results-dir", type=Path, default=Path("results"), help="earlier runs (default: results)")
    ap.add_argument("--json", action="store_true", help="print the plans as JSON")
    args = ap.parse_args(None if argv is None else list(argv))
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        plans, skipped, vcfg, gpu = build_plans(args.overrides, claims_source=args.claims, table=args.table,
                                                gpu=args.gpu, results_dir=args.results_dir)
    except HarnessError as e:
        log.error("%s", e)
        sys.exit(2)
    if args.json:
        print(json.dumps({"gpu": gpu, "plans": [p.to_json() for p in plans], "not_planned": skipped},
                         indent=2, sort_keys=True))
    else:
        sys.stdout.write(render(plans, vcfg, gpu, skipped))


if __name__ == "__main__":
    main()
