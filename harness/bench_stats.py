"""Does the "95%" interval of a verdict cover the truth 95% of the time? A simulation with the
project's own functions (`make bench-stats`), to run after any change to the statistics.

    python -m harness.bench_stats [--runs 1000] [--profiles 20] [--seed 0] [--per-run]

For each set size (MATH-500: 500 problems, AIME: 30) the simulation draws `profiles` vectors of
per-problem solve probabilities p_i ~ Beta(m s, (1 - m) s), with the mean m spread over a
realistic range and the shape s cycling through 0.3, 0.7, 1.5, 4 (from mostly all-or-nothing
problems to mostly middling ones). The questions stay fixed, as in the verdict. For each profile
and k it simulates `runs` runs (c_i ~ Binomial(k, p_i)) and, independently, a claim measured with
k = 64, and counts how often

- the run's interval pass@1 ± z SE (metrics.pass1_se) contains the true mean of p_i, and
- the verdict's interval of the gap (verdict.pass1_sides + verdict.decide, claim side at k = 64)
  contains the true gap, 0.

By default the standard errors are computed for all runs at once (metrics.pass1_se_array, the
function behind metrics.pass1_se); `--per-run` calls verdict.pass1_sides for every simulated run
instead (slower, and the only path older versions of the code have).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np

from harness import metrics, verdict

SETS = (("MATH-500", 500, 0.40, 0.95), ("AIME", 30, 0.10, 0.80))
KS = (1, 2, 4, 64)
K_CLAIM = 64
SHAPES = (0.3, 0.7, 1.5, 4.0)


def profiles(N: int, lo: float, hi: float, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for j in range(count):
        m = lo + (hi - lo) * j / max(1, count - 1)
        s = SHAPES[j % len(SHAPES)]
        out.append(rng.beta(m * s, (1 - m) * s, size=N))
    return out


def _ses_batched(n: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return metrics.pass1_se_array(n, c), metrics.pass1_se_array(n, c, K_CLAIM)


def _ses_per_run(n: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    run, claim = [], []
    for nr, cr in zip(n.tolist(), c.tolist(), strict=True):
        s = verdict.pass1_sides(list(zip(nr, cr, strict=True)), K_CLAIM)
        run.append(s.se_measured)
        claim.append(s.se_claim)
    return np.array(run), np.array(claim)


def simulate(N: int, lo: float, hi: float, k: int, runs: int, count: int, seed: int,
             ses: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
             cfg: verdict.VerdictConfig) -> dict[str, float]:
    """Coverage of the run's interval and of the gap interval, and the mean gap-interval width."""
    rng = np.random.default_rng([seed, N, k])
    hit_run = hit_gap = 0
    width = 0.0
    total = 0
    for p in profiles(N, lo, hi, count, np.random.default_rng([seed, N])):
        c = rng.binomial(k, p, size=(runs, N))
        n = np.full_like(c, k)
        claim = rng.binomial(K_CLAIM, p, size=(runs, N)).mean(axis=1) / K_CLAIM
        measured = (c / n).mean(axis=1)
        se_run, se_claim = ses(n, c)
        hit_run += int(np.sum(np.abs(measured - p.mean()) <= cfg.z * se_run))
        for m_, c_, sr, sc in zip(measured, claim, se_run, se_claim, strict=True):
            v = verdict.decide(float(m_), float(c_), verdict.Sides(float(sr), float(sc), False), cfg)
            hit_gap += v.lo <= 0.0 <= v.hi
            width += v.width
        total += runs
    return {"run": hit_run / total, "gap": hit_gap / total, "width": width / total}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.bench_stats", description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=1000, help="simulated runs per profile and k (default 1000)")
    ap.add_argument("--profiles", type=int, default=20, help="per-problem probability vectors per set size")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-run", action="store_true", help="call verdict.pass1_sides for every run")
    args = ap.parse_args(argv)
    if args.runs < 1 or args.profiles < 1:
        ap.error("--runs and --profiles must be >= 1")
    cfg = verdict.VerdictConfig.load()
    ses = _ses_per_run if args.per_run else _ses_batched
    level = 100 * cfg.confidence
    print(f"Coverage of the {level:g}% intervals (questions fixed; {args.profiles} difficulty profiles "
          f"x {args.runs} runs per row; claim measured with k = {K_CLAIM})", flush=True)
    print(f"{'set':<9} {'N':>4} {'k':>3}  {'pass@1 interval':>15}  {'gap interval':>12}  {'mean width':>10}")
    t0 = time.time()
    worst = 1.0
    for name, N, lo, hi in SETS:
        for k in KS:
            r = simulate(N, lo, hi, k, args.runs, args.profiles, args.seed, ses, cfg)
            if k > 1:
                worst = min(worst, r["run"], r["gap"])
            print(f"{name:<9} {N:>4} {k:>3}  {100 * r['run']:>14.1f}%  {100 * r['gap']:>11.1f}%  "
                  f"{100 * r['width']:>7.1f} pt", flush=True)
    print(f"lowest coverage at k >= 2: {100 * worst:.1f}% (goal: >= 94%); {time.time() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
