"""Metrics against hand-computed values."""

from __future__ import annotations

import math

import pytest

from harness.metrics import compute, ks_for, majority_vote, pass_at_k
from harness.types import Score


def S(pid, sample, correct, extracted=None, reason="ok", finish="stop", tokens=10):
    if extracted is None and correct:
        extracted = "right"
    return Score(id=pid, sample=sample, correct=correct, extracted=extracted, reason=reason,
                 finish_reason=finish, output_tokens=tokens)


def test_pass_at_k_edge_cases():
    assert pass_at_k(10, 0, 1) == 0.0  # c = 0
    assert pass_at_k(10, 10, 5) == 1.0  # c = n
    assert pass_at_k(5, 3, 1) == pytest.approx(0.6)
    # 1 - C(2,2)/C(4,2) = 1 - 1/6
    assert pass_at_k(4, 2, 2) == pytest.approx(5 / 6)
    # n - c < k: every k-subset contains a correct sample
    assert pass_at_k(4, 3, 2) == 1.0
    with pytest.raises(ValueError, match="undefined"):
        pass_at_k(3, 1, 4)  # n < k
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)


def test_pass_at_k_matches_combinatorial_definition():
    for n in range(1, 9):
        for c in range(n + 1):
            for k in range(1, n + 1):
                exact = 1 - math.comb(n - c, k) / math.comb(n, k)
                assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12)


def test_ks_for():
    assert ks_for(1) == [1]
    assert ks_for(4) == [1, 2, 4]
    assert ks_for(6) == [1, 2, 4, 6]
    assert ks_for(64) == [1, 2, 4, 8, 16, 32, 64]


def test_majority_vote_ties_go_to_the_earliest_answer():
    ss = [S("a", 2, False, "5"), S("a", 0, True, "7"), S("a", 1, False, "5"), S("a", 3, True, "7")]
    assert majority_vote(ss).extracted == "7"  # 2 vs 2: "7" appeared at sample 0
    ss = [S("a", 0, False, "5"), S("a", 1, True, "\\dfrac{1}{2}"), S("a", 2, True, "\\frac{1}{2}")]
    assert majority_vote(ss).correct is True  # \dfrac and \frac vote together
    assert majority_vote([S("a", 0, False, None, "no_answer")]) is None


def test_compute_hand_checked():
    # problem a: 3/4 correct; problem b: 1/4 correct; problem c: 0/4 with two truncations
    scores = (
        [S("a", i, i < 3) for i in range(4)]
        + [S("b", 0, True), S("b", 1, False, "x"), S("b", 2, False, "y"), S("b", 3, False, "x")]
        + [S("c", 0, False, None, "truncated", "length", 100), S("c", 1, False, None, "truncated", "length", 100),
           S("c", 2, False, None, "no_answer"), S("c", 3, False, "z")]
    )
    m = compute(scores, {"a": {"level": 1}, "b": {"level": 1}, "c": {"level": 2}}, ["level"])
    assert m["problems"] == 3 and m["samples"] == 12 and m["k"] == 4
    p = [0.75, 0.25, 0.0]
    assert m["pass@1"] == pytest.approx(1 / 3)
    assert m["pass@1_se_generation"] == pytest.approx(math.sqrt(sum(x * (1 - x) / 4 for x in p)) / 3)
    mean = sum(p) / 3
    assert m["pass@1_se_question"] == pytest.approx(math.sqrt(sum((x - mean) ** 2 for x in p) / 2) / math.sqrt(3))
    # votes: a -> "right" (correct); b -> "x" (2 votes, wrong); c -> "z" (wrong)
    assert m["cons@k"] == pytest.approx(1 / 3)
    assert m["pass@k"]["4"] == pytest.approx((1 + 1 + 0) / 3)
    assert m["pass@k"]["2"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert m["truncated_rate"] == pytest.approx(2 / 12)
    assert m["no_answer_rate"] == pytest.approx(3 / 12)
    assert m["reasons"] == {"no_answer": 1, "ok": 9, "truncated": 2}
    assert m["mean_output_tokens"] == pytest.approx((10 * 10 + 200) / 12)
    assert m["by"]["level"] == {"1": {"problems": 2, "pass@1": 0.5}, "2": {"problems": 1, "pass@1": 0.0}}


def test_uneven_sample_counts():
    scores = [S("a", 0, True), S("b", 0, False, "q"), S("b", 1, True)]
    m = compute(scores)
    assert m["samples_per_problem"] == {"min": 1, "max": 2}
    assert m["pass@1"] == pytest.approx((1 + 0.5) / 2)
    assert list(m["pass@k"]) == ["1"]  # pass@2 undefined for the problem with one sample


def test_empty():
    assert compute([])["problems"] == 0
