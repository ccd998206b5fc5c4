"""Per-grader views of a run's scores: what the run measures under each grader profile.

A score records the verdict of every profile (`Score.by_grader`) and, for the profiles that
extracted another answer than the configured one, that answer (`Score.extracted_by_grader`). From
these, `profile_scores` rebuilds the score list a run would have had with another grader, so that
the run's metrics (pass@1, SE, cons@k) can be computed for every profile with `metrics.compute`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from harness.types import Reason, Score

GRADER_ORDER = ("strict", "default", "lenient")


def profiles_of(scores: Iterable[Score]) -> list[str]:
    """The profiles every score has a verdict for, in GRADER_ORDER (empty for runs graded before
    profiles existed, and for tasks without them)."""
    common: set[str] | None = None
    for s in scores:
        if s.by_grader is None and s.reason == "error":
            continue  # a sample the scorer could not grade is wrong under every profile
        have = set(s.by_grader or ())
        common = have if common is None else common & have
        if not common:
            return []
    return [p for p in GRADER_ORDER if common and p in common]


def profile_scores(scores: Iterable[Score], profile: str) -> list[Score]:
    """The scores as `profile` graded them (scores without a verdict for it are kept as they are)."""
    out = []
    for s in scores:
        if not s.by_grader or profile not in s.by_grader:
            out.append(s)
            continue
        ok = bool(s.by_grader[profile])
        others = s.extracted_by_grader or {}
        extracted = others[profile] if profile in others else s.extracted
        reason = s.reason
        if extracted is None and s.reason in ("ok", "unparsed", "timeout"):
            reason = Reason.TRUNCATED if s.finish_reason == "length" else Reason.NO_ANSWER
        elif extracted is not None and s.extracted is None and s.reason != "error":
            reason = Reason.OK
        out.append(replace(s, correct=ok, extracted=extracted, reason=reason))
    return out


def by_grader_metrics(scores: list[Score]) -> dict[str, dict[str, Any]]:
    """{profile: {pass@1, pass@1_se_generation, cons@k}} for every profile the scores carry."""
    from harness import metrics

    out: dict[str, dict[str, Any]] = {}
    for p in profiles_of(scores):
        m = metrics.compute(profile_scores(scores, p))
        out[p] = {"pass@1": m.get("pass@1"), "pass@1_se_generation": m.get("pass@1_se_generation"),
                  "cons@k": m.get("cons@k")}
    return out
