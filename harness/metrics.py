"""pass@1, cons@k, pass@k and their standard errors, from per-sample scores.

Definitions (see docs/statistics.md):
- pass@1 = mean over problems of c_i / n_i (n_i samples, c_i correct for problem i).
- pass@k = mean over problems of 1 - C(n_i - c_i, k) / C(n_i, k)  (Chen et al., 2021), defined
  only for k <= n_i.
- cons@n = fraction of problems whose majority-vote answer is correct (`votes`, `majority`: the
  one rule, also behind the cons@k standard error and the cons@k plot).
- generation SE = sqrt(sum_i v_i / n_i) / N with v_i an estimate of p_i (1 - p_i) that is unbiased
  and never 0 (`pass1_se`): the sampling noise of pass@1 with the question set held fixed (the
  claim under test was measured on the same questions).
- question SE = std(p_i, ddof=1) / sqrt(N): the noise of treating the benchmark as a sample of
  questions.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.types import Score

log = logging.getLogger(__name__)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimator of pass@k from n samples of which c are correct."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got c={c}, n={n}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if n < k:
        raise ValueError(f"pass@{k} is undefined with only n={n} samples")
    if n - c < k:
        return 1.0
    # 1 - prod_{i=n-c+1}^{n} (1 - k/i), numerically stable
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def ks_for(n_min: int) -> list[int]:
    """1, 2, 4, ... up to n_min, plus n_min itself when it is not a power of two."""
    ks, k = [], 1
    while k <= n_min:
        ks.append(k)
        k *= 2
    if n_min >= 1 and ks[-1] != n_min:
        ks.append(n_min)
    return ks


# -- majority vote (cons@k): the one rule, used by metrics.json, the cons@k SE and the plots ------

SameAnswer = Callable[[str, str], bool]
Vote = tuple[int | None, bool]  # (answer group, whether that group's answer is correct); None: no vote


def same_text(a: str, b: str) -> bool:
    """Default answer equivalence: equal after trimming, collapsing whitespace and dropping a final
    full stop. Tasks with a richer notion of equality (math) supply their own."""
    return _plain(a) == _plain(b)


def _plain(s: str) -> str:
    return " ".join(s.split()).rstrip(".")


def votes(samples: Sequence[Score], same: SameAnswer | None = None) -> list[Vote]:
    """The votes of one problem's samples, in sample order.

    - A sample votes when it has an extracted answer (reason ok, unparsed or timeout); samples
      without one (no_answer, truncated) and failed generations (error) do not vote.
    - Answers are grouped by `same` (the task's equivalence, e.g. math equivalence, so that `0.5`
      and `1/2` are one answer): each new answer is compared with the first answer of every group
      so far, in order of first appearance, and joins the first group it matches.
    - Groups are numbered by first appearance (lowest sample index first); ties in the vote go to
      the lowest number, so the result does not depend on file order.
    - A group's answer is correct when any of its samples was graded correct: its samples give the
      same answer, so a grader timeout on one copy does not make the answer wrong.
    """
    same = same_text if same is None else same
    ordered = sorted(samples, key=lambda s: s.sample)
    reps: list[str] = []  # first answer of each group
    by_text: dict[str, int] = {}  # identical (trimmed) answers are compared once
    group: list[int | None] = []
    for s in ordered:
        a = s.extracted.strip() if s.extracted is not None and s.reason != "error" else ""
        if not a:
            group.append(None)
            continue
        g = by_text.get(a)
        if g is None:
            g = next((i for i, r in enumerate(reps) if same(r, a)), None)
            if g is None:
                g = len(reps)
                reps.append(a)
            by_text[a] = g
        group.append(g)
    right = [False] * len(reps)
    for s, g in zip(ordered, group, strict=True):
        if g is not None and s.correct:
            right[g] = True
    return [(g, g is not None and right[g]) for g in group]


def majority_group(problem_votes: Sequence[Vote]) -> int | None:
    """The winning answer group among these votes (most votes; a tie goes to the group that appeared
    first), or None when nobody voted."""
    counts: dict[int, int] = defaultdict(int)
    for g, _ in problem_votes:
        if g is not None:
            counts[g] += 1
    if not counts:
        return None
    return max(counts, key=lambda g: (counts[g], -g))


def majority(problem_votes: Sequence[Vote]) -> bool:
    """Whether the majority answer among these votes is correct (False when nobody voted). Any
    subset of a problem's votes (the first k, a bootstrap draw) is decided by the same rule."""
    best = majority_group(problem_votes)
    return best is not None and any(ok for g, ok in problem_votes if g == best)


def budget_curve(problems: Sequence[Sequence[tuple[bool, int | None]]], cap: int) -> list[tuple[int, float]]:
    """(B, pass@1 at output budget B) for B = 16, 32, ... up to cap, from (correct, output tokens)
    per sample of each problem: a sample counts at B only if correct and within B tokens (unknown
    counts use cap)."""
    if cap <= 0 or not problems:
        return []
    budgets, b = [], 16
    while b < cap:
        budgets.append(b)
        b *= 2
    budgets.append(cap)
    out = []
    for B in budgets:
        acc = sum(sum(1 for ok, t in ss if ok and (t if t is not None else cap) <= B) / len(ss) for ss in problems)
        out.append((B, acc / len(problems)))
    return out


# -- per problem ----------------------------------------------------------------------------------

@dataclass
class ProblemResult:
    id: str
    n: int
    correct: int
    voted_correct: bool
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def p(self) -> float:
        return self.correct / self.n


def per_problem(scores: Iterable[Score], meta: Mapping[str, Mapping[str, Any]] | None = None,
                same: SameAnswer | None = None) -> list[ProblemResult]:
    by_id: dict[str, list[Score]] = defaultdict(list)
    for s in scores:
        by_id[s.id].append(s)
    out = []
    for pid in sorted(by_id):
        ss = by_id[pid]
        out.append(
            ProblemResult(
                id=pid,
                n=len(ss),
                correct=sum(1 for s in ss if s.correct),
                voted_correct=majority(votes(ss, same)),
                meta=dict((meta or {}).get(pid, {})),
            )
        )
    return out


# -- standard errors --------------------------------------------------------------------------------

# Beta(PRIOR, PRIOR): the prior of the Bayesian floor on the generation variance (docs/statistics.md).
PRIOR = 0.25


def check_counts(counts: Sequence[tuple[int, int]]) -> None:
    """Raise ValueError (one line, naming the offending problem) unless counts is a non-empty list
    of (n, c) with n >= 1 samples and 0 <= c <= n correct."""
    if len(counts) == 0:
        raise ValueError("no problems: the standard error needs at least one (n, c) pair")
    for i, nc in enumerate(counts):
        try:
            n, c = nc
        except (TypeError, ValueError):
            raise ValueError(f"problem {i}: expected an (n, c) pair, got {nc!r}") from None
        if isinstance(n, bool) or isinstance(c, bool) or n != int(n) or c != int(c):
            raise ValueError(f"problem {i}: n and c must be whole numbers, got n={n!r}, c={c!r}")
        if n < 1:
            raise ValueError(f"problem {i}: needs at least one sample, got n={n}")
        if not 0 <= c <= n:
            raise ValueError(f"problem {i}: needs 0 <= c <= n, got c={c}, n={n}")


def pass1_se_array(n: Any, c: Any, k: int | None = None) -> Any:
    """The generation SE of pass@1 on arrays: n and c of shape (..., N), one (n_i, c_i) per problem
    along the last axis (a batch of runs in the leading axes). No input checks; see pass1_se.

    Per problem, v_i estimates p_i (1 - p_i), the variance of one sample:
    - unbiased: c (n - c) / (n (n - 1)) for n >= 2; for a single sample, where it cannot be
      estimated, the pooled p (1 - p) with p = pass@1 (the bound of the summary-figure case);
    - Bayesian: the posterior mean of p (1 - p) under a Beta(PRIOR, PRIOR) prior,
      (c + a)(n - c + a) / ((n + 2a)(n + 2a + 1)), never 0.
    SE = sqrt(max(sum_i w_i v_i unbiased, sum_i w_i v_i Bayesian)) / N, w_i = 1 / n_i (the run's
    own SE) or 1 / k (the SE a measurement with k samples per problem would have). The Bayesian sum
    binds only when the samples of almost every problem agree, where the unbiased sum is near 0.
    """
    n = np.asarray(n, dtype=float)
    c = np.asarray(c, dtype=float)
    N = n.shape[-1]
    pooled = (c / n).mean(axis=-1, keepdims=True)
    several = n > 1
    unbiased = np.where(several, c * (n - c) / np.where(several, n * (n - 1), 1.0), pooled * (1 - pooled))
    a = PRIOR
    bayes = (c + a) * (n - c + a) / ((n + 2 * a) * (n + 2 * a + 1))
    w = 1.0 / n if k is None else 1.0 / k
    var = np.maximum((w * unbiased).sum(axis=-1), (w * bayes).sum(axis=-1))
    return np.sqrt(var) / N


def pass1_se(counts: Sequence[tuple[int, int]], k: int | None = None) -> float:
    """Generation SE of pass@1 (sampling noise with the question set fixed) from (n_i, c_i) per
    problem: with k=None the run's own, at its n_i; with k the SE a measurement of the same
    problems with k samples each would have (the claim side of a verdict). See pass1_se_array."""
    check_counts(counts)
    if k is not None and (isinstance(k, bool) or int(k) != k or k < 1):
        raise ValueError(f"k must be a whole number >= 1, got {k!r}")
    return float(pass1_se_array([n for n, _ in counts], [c for _, c in counts], k))


def generation_se(results: list[ProblemResult]) -> float | None:
    """pass1_se of a run's per-problem results; None without problems."""
    return pass1_se([(r.n, r.correct) for r in results]) if results else None


def question_se(results: list[ProblemResult]) -> float | None:
    """std(p_i, ddof=1) / sqrt(N); None with fewer than two problems (undefined, written as null)."""
    N = len(results)
    if N < 2:
        return None
    mean = sum(r.p for r in results) / N
    var = sum((r.p - mean) ** 2 for r in results) / (N - 1)
    return math.sqrt(var) / math.sqrt(N)


def compute(
    scores: list[Score],
    meta: Mapping[str, Mapping[str, Any]] | None = None,
    group_by: list[str] | None = None,
    same: SameAnswer | None = None,
) -> dict[str, Any]:
    """All run metrics as a JSON-ready dict (no NaN: undefined values are None). `same` is the
    task's answer equivalence for the majority vote (default: same_text)."""
    t0 = time.monotonic()
    results = per_problem(scores, meta, same)
    if time.monotonic() - t0 > 5:
        log.info("grouped the answers of %d problems for the majority vote in %.0fs", len(results),
                 time.monotonic() - t0)
    N = len(results)
    total = len(scores)
    if N == 0:
        return {"problems": 0, "samples": 0}
    n_min = min(r.n for r in results)
    n_max = max(r.n for r in results)
    reasons: dict[str, int] = defaultdict(int)
    for s in scores:
        reasons[s.reason] += 1
    truncated = sum(1 for s in scores if s.cut_off)
    tokens = [s.output_tokens for s in scores if s.output_tokens is not None]
    pass1 = sum(r.p for r in results) / N
    m: dict[str, Any] = {
        "problems": N,
        "samples": total,
        "samples_per_problem": {"min": n_min, "max": n_max},
        "pass@1": pass1,
        "pass@1_se_generation": generation_se(results),
        "pass@1_se_question": question_se(results),
        "k": n_max,
        "cons@k": sum(r.voted_correct for r in results) / N,
        "pass@k": {str(k): sum(pass_at_k(r.n, r.correct, k) for r in results) / N for k in ks_for(n_min)},
        "truncated_rate": truncated / total,
        "no_answer_rate": (reasons.get("no_answer", 0) + reasons.get("truncated", 0)) / total,
        "error_rate": reasons.get("error", 0) / total,
        "reasons": dict(sorted(reasons.items())),
        "mean_output_tokens": (sum(tokens) / len(tokens)) if tokens else None,
        "max_output_tokens": max(tokens) if tokens else None,
    }
    if group_by:
        m["by"] = {}
        for g in group_by:
            buckets: dict[str, list[ProblemResult]] = defaultdict(list)
            for r in results:
                buckets[str(r.meta.get(g))].append(r)
            m["by"][g] = {
                key: {"problems": len(rs), "pass@1": sum(r.p for r in rs) / len(rs)}
                for key, rs in sorted(buckets.items(), key=lambda kv: _natural(kv[0]))
            }
    return m


def _natural(s: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s))
