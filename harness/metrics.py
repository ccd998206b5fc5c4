"""pass@1, cons@k, pass@k and their standard errors, from per-sample scores.

Definitions (see docs/statistics.md):
- pass@1 = mean over problems of c_i / n_i (n_i samples, c_i correct for problem i).
- pass@k = mean over problems of 1 - C(n_i - c_i, k) / C(n_i, k)  (Chen et al., 2021), defined
  only for k <= n_i.
- cons@n = fraction of problems whose majority-vote answer (over answered samples) is correct.
- generation SE = sqrt(sum_i p_i (1 - p_i) / n_i) / N: the sampling noise of pass@1 with the
  question set held fixed (the claim under test was measured on the same questions).
- question SE = std(p_i, ddof=1) / sqrt(N): the noise of treating the benchmark as a sample of
  questions.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.scoring.math import normalise
from harness.types import Score


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


def majority_vote(samples: list[Score]) -> Score | None:
    """The sample whose (normalised) answer most samples agree on. Ties go to the answer that
    appeared first (lowest sample index), so the result does not depend on file order."""
    groups: dict[str, list[Score]] = defaultdict(list)
    for s in sorted(samples, key=lambda s: s.sample):
        if s.extracted is not None and s.reason != "error":
            groups[normalise(s.extracted)].append(s)
    if not groups:
        return None
    best = max(groups.values(), key=lambda g: (len(g), -g[0].sample))
    return best[0]


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


def per_problem(scores: Iterable[Score], meta: Mapping[str, Mapping[str, Any]] | None = None) -> list[ProblemResult]:
    by_id: dict[str, list[Score]] = defaultdict(list)
    for s in scores:
        by_id[s.id].append(s)
    out = []
    for pid in sorted(by_id):
        ss = by_id[pid]
        vote = majority_vote(ss)
        out.append(
            ProblemResult(
                id=pid,
                n=len(ss),
                correct=sum(1 for s in ss if s.correct),
                voted_correct=bool(vote and vote.correct),
                meta=dict((meta or {}).get(pid, {})),
            )
        )
    return out


def generation_se(results: list[ProblemResult]) -> float:
    N = len(results)
    if N == 0:
        return float("nan")
    return math.sqrt(sum(r.p * (1 - r.p) / r.n for r in results)) / N


def question_se(results: list[ProblemResult]) -> float:
    N = len(results)
    if N < 2:
        return float("nan")
    mean = sum(r.p for r in results) / N
    var = sum((r.p - mean) ** 2 for r in results) / (N - 1)
    return math.sqrt(var) / math.sqrt(N)


def compute(
    scores: list[Score],
    meta: Mapping[str, Mapping[str, Any]] | None = None,
    group_by: list[str] | None = None,
) -> dict[str, Any]:
    """All run metrics as a JSON-ready dict."""
    results = per_problem(scores, meta)
    N = len(results)
    total = len(scores)
    if N == 0:
        return {"problems": 0, "samples": 0}
    n_min = min(r.n for r in results)
    n_max = max(r.n for r in results)
    reasons: dict[str, int] = defaultdict(int)
    for s in scores:
        reasons[s.reason] += 1
    truncated = sum(1 for s in scores if s.finish_reason == "length")
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
