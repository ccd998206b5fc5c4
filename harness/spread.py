"""Is a published between-seed spread larger than sampling noise explains?

A reproduction that reports its pass@1 as mean ± standard deviation over seeds (each seed one full
pass over the benchmark with m samples per problem) gives a second, independent look at its noise.
Under sampling noise alone, one seed's pass@1 has standard deviation

    sigma = sqrt(sum_i p_i (1 - p_i) / m) / N  <=  sqrt(p (1 - p) / (m N))   (verdict.se_bound)

so a reported spread s over S seeds is *more than sampling noise* when (S - 1) s^2 / sigma^2, a
chi-square variable with S - 1 degrees of freedom under that hypothesis, exceeds its quantile at
the verdict's confidence level. The bound makes the test conservative: it flags only spreads that
even the largest possible sampling noise cannot produce, i.e. differences between the seeds' runs
themselves (engine, precision, parallelism, batch composition), which a verdict should show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from harness.verdict import se_bound


@dataclass(frozen=True)
class SpreadCheck:
    spread: float  # the reported standard deviation across seeds (fraction)
    seeds: int
    noise: float  # upper bound on one seed's SD from sampling alone (fraction)
    seed_se: float  # the SE of the mean over seeds that the spread implies: spread / sqrt(seeds)
    excess: bool  # the spread is significantly larger than sampling noise explains

    def to_json(self) -> dict:
        return {"spread": round(self.spread, 6), "seeds": self.seeds, "noise": round(self.noise, 6),
                "seed_se": round(self.seed_se, 6), "excess": self.excess}


def chi2_quantile(q: float, dof: int) -> float:
    """The q-quantile of a chi-square distribution (Wilson-Hilferty; within about 1% for dof >= 2,
    enough for a flag)."""
    if dof < 1:
        raise ValueError(f"dof must be >= 1, got {dof}")
    if dof == 1:
        z = NormalDist().inv_cdf((1 + q) / 2)
        return z * z
    z = NormalDist().inv_cdf(q)
    a = 2 / (9 * dof)
    return dof * (1 - a + z * math.sqrt(a)) ** 3


def check(p: float, spread: float, seeds: int, samples_per_seed: int, problems: int,
          confidence: float) -> SpreadCheck | None:
    """Compare a reported between-seed SD (fraction) with the sampling noise of one seed. None when
    fewer than two seeds."""
    if seeds < 2:
        return None
    noise = se_bound(p, samples_per_seed, problems)
    stat = (seeds - 1) * spread**2 / noise**2 if noise > 0 else (math.inf if spread > 0 else 0.0)
    return SpreadCheck(spread=spread, seeds=seeds, noise=noise, seed_se=spread / math.sqrt(seeds),
                       excess=stat > chi2_quantile(confidence, seeds - 1))
