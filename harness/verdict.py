"""The statistics of a verdict: a measured value against a published one, with the uncertainty
of both sides. Pure functions on numbers; docs/claims.md states the rules in prose.

All values here are fractions (0.552, not 55.2); the config file is in percentage points.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import yaml

from harness.errors import ConfigError
from harness.metrics import Vote, check_counts, majority, pass1_se
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

        if "max_interval_width" in d:
            raise ConfigError(f"{where}.max_interval_width", "is no longer a setting: an interval inside "
                              "the ±tolerance band is at most 2 × tolerance wide already; remove the key")
        subset = str(d.get("subset", "inconclusive"))
        if subset not in ("inconclusive", "compare"):
            raise ConfigError(f"{where}.subset", f"must be `inconclusive` or `compare`, got {subset!r}")
        boot = d.get("cons_bootstrap", 200)
        if isinstance(boot, bool) or not isinstance(boot, int) or boot < 10:
            raise ConfigError(f"{where}.cons_bootstrap", f"must be an integer >= 10, got {boot!r}")
        return cls(tolerance=num("tolerance", 0, 100) / 100, confidence=num("confidence", 0, 1),
                   subset=subset, cons_bootstrap=boot)

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

def se_bound(p: float, k: int, problems: int) -> float:
    """Upper bound on the generation SE of a mean over `problems` problems with k samples each and
    overall rate p: sum_i p_i (1 - p_i) <= N p (1 - p) (concavity), so SE <= sqrt(p(1-p)/(k N))."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"a rate must be a number in [0, 1], got {p!r}")
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"samples per problem must be a whole number >= 1, got {k!r}")
    if isinstance(problems, bool) or int(problems) != problems or problems < 1:
        raise ValueError(f"the number of problems must be a whole number >= 1, got {problems!r}")
    return math.sqrt(p * (1 - p) / (k * problems))


def se_at_k(rates: Sequence[float], k: int) -> float:
    """The generation SE a future measurement with k samples per problem is expected to have when
    problem i is solved with probability rates[i] (for planning): sqrt(sum_i p_i (1 - p_i) / k) / N.
    The rates are taken as true rates here; a finished run's own SE is pass1_se."""
    if not rates:
        raise ValueError("se_at_k needs at least one problem")
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"samples per problem must be a whole number >= 1, got {k!r}")
    if any(not 0.0 <= p <= 1.0 for p in rates):
        raise ValueError("a rate must be a number in [0, 1]")
    return math.sqrt(sum(p * (1 - p) for p in rates) / k) / len(rates)


@dataclass(frozen=True)
class Sides:
    se_measured: float
    se_claim: float
    bound: bool  # True when either SE is the upper bound, not an estimate

    @property
    def combined(self) -> float:
        return math.hypot(self.se_measured, self.se_claim)


def pass1_sides(counts: Sequence[tuple[int, int]], k_claim: int | None, claim_greedy: bool = False) -> Sides:
    """Generation SEs of a run's pass@1 and of a claim's, from the run's per-problem (n_i, c_i)
    (metrics.pass1_se, the same estimate as metrics.json).

    The claim's SE is the run's per-problem variances at the claim's k. A claim with unstated k
    counts as k = 1 (the widest error bar); a greedy claim (temperature 0) has no sampling noise.
    Problems with a single sample use the pooled p (1 - p), as the bound does, so a run with k = 1
    gets the bound; `bound` is True when every problem has a single sample.
    """
    check_counts(counts)
    kc = 1 if k_claim is None else k_claim
    single = all(n < 2 for n, _ in counts)
    return Sides(pass1_se(counts), 0.0 if claim_greedy else pass1_se(counts, kc), single)


def external_sides(p_measured: float, k: int, problems: int, p_claim: float, k_claim: int | None,
                   claim_greedy: bool = False) -> Sides:
    """Both SEs from summary figures only: the bound on each side."""
    kc = 1 if k_claim is None else k_claim
    if claim_greedy:
        return Sides(se_bound(p_measured, k, problems), 0.0, True)
    return Sides(se_bound(p_measured, k, problems), se_bound(p_claim, kc, problems), True)


def cons_rates(problems: Sequence[Sequence[Vote]], k: int, resamples: int, seed: int = 0) -> list[float]:
    """Per problem, the probability that a majority vote over k samples is correct, estimated by
    drawing k of the run's votes (metrics.votes) with replacement `resamples` times and deciding
    each draw by metrics.majority (fixed seed: deterministic)."""
    if k < 1 or resamples < 1:
        raise ValueError(f"need k >= 1 and resamples >= 1, got k={k}, resamples={resamples}")
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


def cons_sides(problems: Sequence[Sequence[Vote]], k_run: int, k_claim: int, resamples: int) -> Sides:
    """Generation SEs of cons@k for the run (at its k) and for the claim (at the claim's k): the
    Bernoulli variance q_i (1 - q_i) of each problem's vote, with q_i from the bootstrap above."""
    N = len(problems)
    if N == 0:
        raise ValueError("no problems: the cons@k standard error needs at least one problem")
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

    - reproduced: the interval lies inside the band (touching an edge counts as inside; such an
      interval is at most 2 * tolerance wide);
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
    if hi < -tol - EPS:
        return v("below", f"interval entirely below -{100 * tol:.1f}")
    if lo > tol + EPS:
        return v("above", f"interval entirely above +{100 * tol:.1f}")
    if lo >= -tol - EPS and hi <= tol + EPS:
        return v("reproduced", f"interval within ±{100 * tol:.1f}")
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
