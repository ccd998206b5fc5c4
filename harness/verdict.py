"""The statistics of a verdict: a measured value against a published one, with the uncertainty
of both sides. Pure functions on numbers; docs/claims.md states the rules in prose.

All values here are fractions (0.552, not 55.2); the config file is in percentage points.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import yaml

from harness.errors import ConfigError
from harness.paths import CONFIG_DIR

VERDICTS = ("reproduced", "below", "above", "inconclusive")
GLYPH = {"reproduced": "✅", "below": "🔻", "above": "🔺", "inconclusive": "❔"}
# Comparisons with the band edges allow this much floating-point slack, so that a decimal tie
# (a gap of exactly -3.0 points computed as -0.030000000000000027) is a tie.
EPS = 1e-9

DEFAULT_PATH = CONFIG_DIR / "verdict.yaml"


@dataclass(frozen=True)
class VerdictConfig:
    tolerance: float  # fraction: the band is [-tolerance, +tolerance] around the claim
    confidence: float  # two-sided level of the interval of the gap
    max_interval_width: float  # fraction: `reproduced` needs an interval at most this wide
    subset: str = "inconclusive"  # what a run on part of the benchmark gets: inconclusive | compare
    cons_bootstrap: int = 200

    @property
    def z(self) -> float:
        return NormalDist().inv_cdf(1 - (1 - self.confidence) / 2)

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any], where: str = "verdict") -> VerdictConfig:
        def num(key: str, lo: float, hi: float) -> float:
            v = d.get(key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo < float(v) < hi:
                raise ConfigError(f"{where}.{key}", f"must be a number in ({lo:g}, {hi:g}), got {v!r}")
            return float(v)

        subset = str(d.get("subset", "inconclusive"))
        if subset not in ("inconclusive", "compare"):
            raise ConfigError(f"{where}.subset", f"must be `inconclusive` or `compare`, got {subset!r}")
        boot = d.get("cons_bootstrap", 200)
        if isinstance(boot, bool) or not isinstance(boot, int) or boot < 10:
            raise ConfigError(f"{where}.cons_bootstrap", f"must be an integer >= 10, got {boot!r}")
        return cls(tolerance=num("tolerance", 0, 100) / 100, confidence=num("confidence", 0, 1),
                   max_interval_width=num("max_interval_width", 0, 200) / 100, subset=subset,
                   cons_bootstrap=boot)

    @classmethod
    def load(cls, path: Path | None = None) -> VerdictConfig:
        path = DEFAULT_PATH if path is None else Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(str(path), f"cannot read the verdict config: {e}") from e
        if "verdict" in data and isinstance(data["verdict"], Mapping):
            data = data["verdict"]
        return cls.from_mapping(data, where=path.name)


# -- standard errors ---------------------------------------------------------------------------

def generation_se(counts: Sequence[tuple[int, int]]) -> float:
    """sqrt(sum_i p_i (1 - p_i) / n_i) / N for (n_i, c_i) per problem: the sampling noise of
    pass@1 with the question set fixed (plug-in estimate, as in metrics.json)."""
    N = len(counts)
    if N == 0:
        return float("nan")
    return math.sqrt(sum((c / n) * (1 - c / n) / n for n, c in counts)) / N


def se_at_k(rates: Sequence[float], k: int) -> float:
    """The generation SE a measurement with k samples per problem would have, if problem i is
    solved with probability rates[i]: sqrt(sum_i p_i (1 - p_i) / k) / N."""
    N = len(rates)
    if N == 0 or k < 1:
        return float("nan")
    return math.sqrt(sum(p * (1 - p) for p in rates) / k) / N


def se_bound(p: float, k: int, problems: int) -> float:
    """Upper bound on the generation SE of a mean over `problems` problems with k samples each and
    overall rate p: sum_i p_i (1 - p_i) <= N p (1 - p) (concavity), so SE <= sqrt(p(1-p)/(k N))."""
    return math.sqrt(max(p * (1 - p), 0.0) / (k * problems))


@dataclass(frozen=True)
class Sides:
    se_measured: float
    se_claim: float
    bound: bool  # True when either SE is the upper bound, not an estimate

    @property
    def combined(self) -> float:
        return math.hypot(self.se_measured, self.se_claim)


def pass1_sides(counts: Sequence[tuple[int, int]], k_claim: int | None, claim_greedy: bool = False) -> Sides:
    """Generation SEs of a run's pass@1 and of a claim's, from the run's per-problem (n_i, c_i).

    The claim's SE is the run's per-problem rates evaluated at the claim's k. With fewer than two
    samples for some problem the per-problem variance cannot be estimated (a single sample gives
    p_i in {0, 1} and a plug-in variance of 0): both sides then use the bound sqrt(p(1-p)/(k N)).
    A claim with unstated k counts as k = 1 (the widest error bar); a greedy claim (temperature 0)
    has no sampling noise.
    """
    N = len(counts)
    kc = 1 if k_claim is None else k_claim
    if N == 0:
        return Sides(float("nan"), float("nan"), False)
    if min(n for n, _ in counts) < 2:
        p = sum(c / n for n, c in counts) / N
        k_run = min(n for n, _ in counts)
        return Sides(se_bound(p, k_run, N), 0.0 if claim_greedy else se_bound(p, kc, N), True)
    rates = [c / n for n, c in counts]
    return Sides(generation_se(counts), 0.0 if claim_greedy else se_at_k(rates, kc), False)


def external_sides(p_measured: float, k: int, problems: int, p_claim: float, k_claim: int | None,
                   claim_greedy: bool = False) -> Sides:
    """Both SEs from summary figures only: the bound on each side."""
    kc = 1 if k_claim is None else k_claim
    return Sides(se_bound(p_measured, k, problems),
                 0.0 if claim_greedy else se_bound(p_claim, kc, problems), True)


def majority(answers: Sequence[tuple[str | None, bool]]) -> bool:
    """Whether the majority answer among (normalised answer, correct) pairs is correct; samples
    without an answer do not vote; ties go to the answer seen first."""
    votes: Counter[str] = Counter()
    first: dict[str, int] = {}
    correct: dict[str, bool] = {}
    for i, (a, ok) in enumerate(answers):
        if a is None:
            continue
        votes[a] += 1
        first.setdefault(a, i)
        correct[a] = correct.get(a, False) or ok
    if not votes:
        return False
    best = max(votes, key=lambda a: (votes[a], -first[a]))
    return correct[best]


def cons_rates(problems: Sequence[Sequence[tuple[str | None, bool]]], k: int, resamples: int,
               seed: int = 0) -> list[float]:
    """Per problem, the probability that a majority vote over k samples is correct, estimated by
    drawing k of the run's samples with replacement `resamples` times (fixed seed: deterministic)."""
    rng = random.Random(seed)
    out = []
    for answers in problems:
        if not answers:
            out.append(0.0)
            continue
        hits = sum(majority([answers[rng.randrange(len(answers))] for _ in range(k)])
                   for _ in range(resamples))
        out.append(hits / resamples)
    return out


def cons_sides(problems: Sequence[Sequence[tuple[str | None, bool]]], k_run: int, k_claim: int,
               resamples: int) -> Sides:
    """Generation SEs of cons@k for the run (at its k) and for the claim (at the claim's k): the
    Bernoulli variance q_i (1 - q_i) of each problem's vote, with q_i from the bootstrap above."""
    N = len(problems)
    if N == 0:
        return Sides(float("nan"), float("nan"), False)
    q_run = cons_rates(problems, k_run, resamples, seed=1)
    q_claim = cons_rates(problems, k_claim, resamples, seed=2)
    return Sides(math.sqrt(sum(q * (1 - q) for q in q_run)) / N,
                 math.sqrt(sum(q * (1 - q) for q in q_claim)) / N, False)


# -- the verdict -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    verdict: str
    gap: float  # measured - claimed
    se: float  # combined SE of the gap
    lo: float
    hi: float
    se_measured: float
    se_claim: float
    bound: bool
    why: str  # one short reason

    @property
    def width(self) -> float:
        return self.hi - self.lo

    @property
    def glyph(self) -> str:
        return GLYPH[self.verdict]

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "gap": _r(self.gap), "se": _r(self.se), "lo": _r(self.lo),
                "hi": _r(self.hi), "se_measured": _r(self.se_measured), "se_claim": _r(self.se_claim),
                "se_is_bound": self.bound, "why": self.why}


def _r(x: float) -> float | None:
    return None if x is None or math.isnan(x) else round(x, 6)


def decide(measured: float, claimed: float, sides: Sides, cfg: VerdictConfig,
           force_inconclusive: str | None = None) -> Verdict:
    """The verdict on gap = measured - claimed, interval gap ± z * SE (z from cfg.confidence),
    band [-tol, +tol]:

    - reproduced: the interval lies inside the band (touching an edge counts as inside) and is at
      most cfg.max_interval_width wide;
    - below / above: the interval lies entirely outside the band, below -tol / above +tol (touching
      the edge is not outside: the gap is then not significantly larger than the tolerance);
    - inconclusive: anything else, or when `force_inconclusive` gives a reason (e.g. a subset run).
    """
    gap = measured - claimed
    se = sides.combined
    half = cfg.z * se
    lo, hi = gap - half, gap + half
    tol = cfg.tolerance

    def v(name: str, why: str) -> Verdict:
        return Verdict(name, gap, se, lo, hi, sides.se_measured, sides.se_claim, sides.bound, why)

    if math.isnan(se):
        return v("inconclusive", "no standard error")
    if force_inconclusive:
        return v("inconclusive", force_inconclusive)
    width = hi - lo
    if hi < -tol - EPS:
        return v("below", f"interval entirely below -{100 * tol:.1f}")
    if lo > tol + EPS:
        return v("above", f"interval entirely above +{100 * tol:.1f}")
    inside = lo >= -tol - EPS and hi <= tol + EPS
    if inside and width <= cfg.max_interval_width + EPS:
        return v("reproduced", f"interval within ±{100 * tol:.1f}")
    if inside:
        return v("inconclusive", f"interval {100 * width:.1f} points wide > {100 * cfg.max_interval_width:.1f}")
    return v("inconclusive", f"interval crosses ±{100 * tol:.1f}")


# -- protocol comparison -------------------------------------------------------------------------

def _num_eq(a: Any, b: Any) -> bool:
    try:
        return abs(float(a) - float(b)) <= EPS
    except (TypeError, ValueError):
        return a == b


def _blank(x: Any) -> bool:
    return x is None or (isinstance(x, str) and not x.strip())


def protocol_differences(measured: Mapping[str, Any], claim: Mapping[str, Any],
                         problems: int | None = None, benchmark_problems: int | None = None) -> list[str]:
    """Every stated difference between the protocol a value was measured under and the claim's,
    as short strings `key: measured X, claim Y`. Keys the claim does not state are not compared; a
    measurement on fewer problems than the benchmark has gives `subset: N of M problems`."""
    out: list[str] = []
    if problems is not None and benchmark_problems is not None and problems < benchmark_problems:
        out.append(f"subset: {problems} of {benchmark_problems} problems")

    def diff(key: str, a: Any, b: Any) -> None:
        out.append(f"{key}: measured {_fmt(a)}, claim {_fmt(b)}")

    for key in ("max_tokens", "temperature", "top_p"):
        if key in claim and claim[key] is not None and not _num_eq(measured.get(key), claim[key]):
            diff(key, measured.get(key), claim[key])
    if "k" in claim and claim["k"] is not None:
        k, ck = measured.get("k"), claim["k"]
        if isinstance(ck, (list, tuple)):
            if k is None or not min(ck) <= int(k) <= max(ck):
                diff("k", k, f"{min(ck)}-{max(ck)}")
        elif k is None or int(k) != int(ck):
            diff("k", k, ck)
    if "system_prompt" in claim:
        a, b = measured.get("system_prompt"), claim["system_prompt"]
        if not (_blank(a) and _blank(b)) and a != b:
            diff("system prompt", "none" if _blank(a) else a, "none" if _blank(b) else b)
    if "instruction" in claim and measured.get("instruction") != claim["instruction"]:
        diff("instruction", measured.get("instruction"), claim["instruction"])
    if "prompt" in claim:
        diff("prompt", measured.get("prompt_template") or measured.get("prompt") or "?", claim["prompt"])
    if "shots" in claim and int(claim["shots"] or 0) != int(measured.get("shots") or 0):
        diff("shots", measured.get("shots") or 0, claim["shots"])
    if "framework" in claim and claim["framework"]:
        a = str(measured.get("framework") or "?")
        if a.lower() != str(claim["framework"]).lower():
            diff("framework", a, claim["framework"])
    return out


def _fmt(x: Any) -> str:
    if x is None:
        return "?"
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    s = str(x).replace("\n", "\\n")
    return s if len(s) <= 40 else s[:37] + "..."


# -- diagnosis -----------------------------------------------------------------------------------

def share_of_gap(gap: float, gain: float) -> float | None:
    """For a negative gap: the share of it that `gain` (the pass@1 the run would gain if some
    failed samples had been correct) would close, capped at 1. None when the gap is not negative."""
    if gap >= 0:
        return None
    return min(1.0, gain / -gap)
