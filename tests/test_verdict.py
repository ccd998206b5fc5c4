"""Verdict statistics against hand-computed cases."""

from __future__ import annotations

import math

import pytest

from harness.errors import ConfigError
from harness.metrics import majority, pass1_se
from harness.verdict import (
    Sides,
    VerdictConfig,
    cons_rates,
    cons_sides,
    decide,
    external_sides,
    pass1_sides,
    protocol_differences,
    se_bound,
    share_of_gap,
)

CFG = VerdictConfig(tolerance=0.03, confidence=0.95)
Z95 = 1.959963984540054


def bayes(n, c, a=0.25):
    """Posterior mean of p(1-p) under a Beta(a, a) prior after c of n correct."""
    return (c + a) * (n - c + a) / ((n + 2 * a) * (n + 2 * a + 1))


def test_z_from_confidence():
    assert CFG.z == pytest.approx(Z95, abs=1e-9)
    assert VerdictConfig(0.03, 0.9).z == pytest.approx(1.6448536269514722, abs=1e-9)


def test_generation_se_by_hand():
    # c = 4, 2, 1, 0 of 4: unbiased c(n-c)/(n(n-1)) = 0, 4/12, 3/12, 0 -> sum 7/12, over n = 4 -> 7/48
    # (the plug-in p(1-p) would give .4375, biased low by (n-1)/n = 3/4)
    counts = [(4, 4), (4, 2), (4, 1), (4, 0)]
    assert pass1_se(counts) == pytest.approx(math.sqrt(7 / 48) / 4)
    assert pass1_se(counts) == pytest.approx(0.0954703, abs=1e-7)
    assert pass1_se(counts) == pytest.approx(math.sqrt(0.4375 / 4) / 4 * math.sqrt(4 / 3))
    # the Bayesian floor (sum .4545 / 4 = .1136) stays below the unbiased sum (.1458): it does not bind
    assert sum(bayes(n, c) for n, c in counts) / 4 == pytest.approx(0.1136364, abs=1e-7)


def test_claim_k64_against_run_k4():
    counts = [(4, 4), (4, 2), (4, 1), (4, 0)]
    s = pass1_sides(counts, k_claim=64)
    assert not s.bound
    # run: sqrt(7/12 / 4) / 4 ; claim: sqrt(7/12 / 64) / 4 (same per-problem variances, 16x the samples)
    assert s.se_measured == pytest.approx(math.sqrt(7 / 12 / 4) / 4)
    assert s.se_claim == pytest.approx(math.sqrt(7 / 12 / 64) / 4)
    assert s.se_claim == pytest.approx(s.se_measured / 4)
    assert s.combined == pytest.approx(math.sqrt(7 / 12 / 4 / 16 + 7 / 12 / 64 / 16))
    assert s.combined == pytest.approx(0.0984085, abs=1e-7)
    v = decide(0.4375, 0.40, s, CFG)
    assert v.gap == pytest.approx(0.0375)
    assert v.lo == pytest.approx(0.0375 - Z95 * 0.0984085, abs=1e-6)
    assert v.verdict == "inconclusive"


def test_all_or_nothing_run_is_not_certain():
    # 20 problems solved 4/4, 10 solved 0/4: every unbiased (and plug-in) variance is 0. Before, the
    # interval of 66.67 against 70.0 was [-3.33, -3.33] and the verdict `below`.
    counts = [(4, 4)] * 20 + [(4, 0)] * 10
    s = pass1_sides(counts, 64)
    b = bayes(4, 4)
    assert b == pytest.approx(1.0625 / 24.75) and bayes(4, 0) == pytest.approx(b)
    assert s.se_measured == pytest.approx(math.sqrt(30 * b / 4) / 30)
    assert s.se_measured == pytest.approx(0.0189141, abs=1e-7)
    assert s.se_claim == pytest.approx(math.sqrt(30 * b / 64) / 30)
    v = decide(0.6667, 0.70, s, CFG)
    half = Z95 * math.hypot(s.se_measured, s.se_claim)
    assert (v.lo, v.hi) == (pytest.approx(-0.0333 - half), pytest.approx(-0.0333 + half))
    assert (v.lo, v.hi) == (pytest.approx(-0.071512, abs=1e-6), pytest.approx(0.004912, abs=1e-6))
    assert v.verdict == "inconclusive"


def test_one_single_sample_problem_does_not_jump_the_se():
    # 29 problems with 64 samples (15 at 58/64, 14 at 6/64) and a 30th problem. Before, one sample
    # on the 30th switched every problem to the bound sqrt(p(1-p)/N) = 0.091.
    base = [(64, 58)] * 15 + [(64, 6)] * 14
    u = 58 * 6 / (64 * 63)  # unbiased p(1-p) of each of the 29
    one = pass1_se(base + [(1, 1)])
    p = (15 * 58 / 64 + 14 * 6 / 64 + 1) / 30  # the pooled rate stands in for p(1-p) of the lone sample
    assert one == pytest.approx(math.sqrt(29 * u / 64 + p * (1 - p)) / 30)
    assert one == pytest.approx(0.0178946, abs=1e-7)
    # between the 30th problem with two samples that agree and two that disagree
    agree, split = pass1_se(base + [(2, 2)]), pass1_se(base + [(2, 1)])
    assert split == pytest.approx(math.sqrt(29 * u / 64 + 0.5 / 2) / 30)
    assert agree < one <= split
    assert agree == pytest.approx(math.sqrt(29 * bayes(64, 58) / 64 + bayes(2, 2) / 2) / 30)
    assert pass1_sides(base + [(1, 1)], 64).bound is False


def test_helpers_reject_invalid_inputs():
    with pytest.raises(ValueError, match="no problems"):
        pass1_sides([], 64)
    with pytest.raises(ValueError, match="0 <= c <= n"):
        pass1_sides([(4, 5)], 64)
    with pytest.raises(ValueError, match="at least one sample"):
        pass1_sides([(0, 0)], 64)
    with pytest.raises(ValueError, match="k must be"):
        pass1_sides([(4, 2)], 0)
    with pytest.raises(ValueError, match="number of problems"):
        se_bound(0.5, 4, 0)
    with pytest.raises(ValueError, match="rate"):
        external_sides(1.2, 4, 30, 0.5, 64)
    with pytest.raises(ValueError, match="no problems"):
        cons_sides([], 4, 4, 10)


def test_run_k1_uses_the_bound_and_is_inconclusive():
    # AIME: 30 problems, one sample each, 15 correct. Per-problem variance cannot be estimated
    # from one sample: both sides use sqrt(p(1-p)/(k N)).
    counts = [(1, 1)] * 15 + [(1, 0)] * 15
    s = pass1_sides(counts, k_claim=64)
    assert s.bound
    assert s.se_measured == pytest.approx(math.sqrt(0.25 / 30))
    assert s.se_claim == pytest.approx(math.sqrt(0.25 / (64 * 30)))
    # the Bayesian floor for one sample, 1.25 * .25 / (1.5 * 2.5) = 1/12, is below .25: no effect
    assert bayes(1, 1) == pytest.approx(1 / 12)
    v = decide(0.5, 0.5, s, CFG)
    assert v.gap == 0
    assert v.width == pytest.approx(2 * Z95 * math.sqrt(0.25 / 30 + 0.25 / 1920))
    assert v.width > 0.35
    assert v.verdict == "inconclusive"
    assert v.bound


def test_same_rates_many_samples_reproduce():
    # 30 problems, half solved 58/64 times, half 6/64: unbiased p(1-p) = 58 * 6 / (64 * 63) = 0.0863
    # for each; SE per side sqrt(30 * 0.0863 / 64) / 30 = 0.0067, combined 0.0095, half-width 1.9 points
    counts = [(64, 58)] * 15 + [(64, 6)] * 15
    s = pass1_sides(counts, k_claim=64)
    pq = 58 * 6 / (64 * 63)
    assert s.se_measured == pytest.approx(math.sqrt(30 * pq / 64) / 30)
    assert decide(0.5, 0.5, s, CFG).verdict == "reproduced"
    assert decide(0.5, 0.6, s, CFG).verdict == "below"
    assert decide(0.5, 0.4, s, CFG).verdict == "above"
    # every problem at p = .5 is the noisiest case: the same value cannot be called reproduced
    flat = pass1_sides([(64, 32)] * 30, k_claim=64)
    assert Z95 * flat.combined > 0.03
    assert decide(0.5, 0.5, flat, CFG).verdict == "inconclusive"


def test_unstated_claim_k_counts_as_one_and_greedy_claim_has_no_noise():
    counts = [(4, 2)] * 10
    # unbiased p(1-p) = 2 * 2 / (4 * 3) = 1/3 per problem; at k = 1: sqrt(10 / 3) / 10
    assert pass1_sides(counts, None).se_claim == pytest.approx(math.sqrt(10 / 3) / 10)
    assert pass1_sides(counts, None, claim_greedy=True).se_claim == 0.0


def test_exact_ties_on_the_band_edge_without_noise():
    zero = Sides(0.0, 0.0, False)
    # gap exactly -3.0 points (decimal inputs, float arithmetic): on the edge is inside
    assert decide(0.525, 0.555, zero, CFG).verdict == "reproduced"
    assert decide(0.585, 0.555, zero, CFG).verdict == "reproduced"
    assert decide(0.524, 0.555, zero, CFG).verdict == "below"
    assert decide(0.586, 0.555, zero, CFG).verdict == "above"


def test_interval_touching_the_band_edge():
    se = 0.01 / Z95  # half-width exactly 1 point
    s = Sides(se, 0.0, False)
    # interval [-5, -3]: touches -3 from outside -> not significantly below, not inside
    v = decide(0.46, 0.50, s, CFG)
    assert v.hi == pytest.approx(-0.03)
    assert v.verdict == "inconclusive"
    # interval [-3, -1]: touches -3 from inside -> reproduced
    assert decide(0.48, 0.50, s, CFG).verdict == "reproduced"
    # interval [+3, +5]: not above
    assert decide(0.54, 0.50, s, CFG).verdict == "inconclusive"
    # interval [-5.01, -3.01]: below
    assert decide(0.4599, 0.50, s, CFG).verdict == "below"


def test_interval_as_wide_as_the_band_reproduces():
    s = Sides(0.03 / Z95, 0.0, False)  # width exactly 6 points = the whole band
    assert decide(0.5, 0.5, s, CFG).verdict == "reproduced"
    v = decide(0.5001, 0.5, s, CFG)
    assert v.verdict == "inconclusive" and "crosses" in v.why


def test_wide_interval_entirely_outside_is_still_below():
    s = Sides(0.1, 0.0, False)  # width ~39 points, far above the maximum
    assert decide(0.1, 0.9, s, CFG).verdict == "below"


def test_forced_inconclusive_and_missing_se():
    zero = Sides(0.0, 0.0, False)
    v = decide(0.5, 0.5, zero, CFG, force_inconclusive="subset: 10 of 500 problems")
    assert (v.verdict, v.why) == ("inconclusive", "subset: 10 of 500 problems")
    assert decide(0.5, 0.5, Sides(math.nan, 0.0, False), CFG).verdict == "inconclusive"


def test_se_bound_and_external_sides():
    assert se_bound(0.5, 64, 30) == pytest.approx(math.sqrt(0.25 / 1920))
    assert se_bound(0.0, 4, 500) == 0.0
    s = external_sides(0.508, 64, 30, 0.555, 64)
    assert s.bound
    assert s.se_measured == pytest.approx(math.sqrt(0.508 * 0.492 / 1920))
    assert s.se_claim == pytest.approx(math.sqrt(0.555 * 0.445 / 1920))
    # the bound is an upper bound of the per-problem estimate at any rates with the same mean
    rates = [1.0, 0.5, 0.25, 0.0]
    assert math.sqrt(sum(p * (1 - p) for p in rates) / 4) / 4 <= se_bound(sum(rates) / 4, 4, 4) + 1e-12


def test_majority_vote_and_cons_se():
    # votes are (answer group, group correct) pairs from metrics.votes; groups numbered by first appearance
    assert majority([(0, True), (1, False), (1, False)]) is False
    assert majority([(0, True), (1, False)]) is True  # tie: the group seen first wins
    assert majority([(1, False), (0, True)]) is True  # ... whatever the order of this subset
    assert majority([(None, False), (1, False), (0, True), (0, True)]) is True
    assert majority([(None, False)]) is False
    always = [[(0, True)] * 4] * 5
    assert cons_rates(always, 64, 20) == [1.0] * 5
    s = cons_sides(always, 4, 64, 20)
    assert (s.se_measured, s.se_claim) == (0.0, 0.0)
    half = [[(0, True), (1, False)]]
    q = cons_rates(half, 1, 4000)[0]
    assert abs(q - 0.5) < 0.05
    # deterministic: same inputs, same estimate
    assert cons_rates(half, 3, 100) == cons_rates(half, 3, 100)


def test_protocol_differences_are_all_listed():
    run = {"k": 4, "temperature": 0.6, "top_p": 0.95, "max_tokens": 64, "system_prompt": None,
           "instruction": "Please reason step by step.", "framework": "harness"}
    claim = {"k": 64, "temperature": 0.6, "top_p": 0.95, "max_tokens": 32768, "system_prompt": None,
             "framework": "Agentless"}
    assert protocol_differences(run, claim, problems=18, benchmark_problems=500) == [
        "subset: 18 of 500 problems",
        "max_tokens: measured 64, claim 32768",
        "k: measured 4, claim 64",
        "framework: measured harness, claim Agentless",
    ]
    # a k range covers the run's k; unstated keys are not compared
    assert protocol_differences(run, {"k": [4, 64]}) == []
    assert protocol_differences(run, {"k": [8, 64], "temperature": 0.8, "system_prompt": "be brief"}) == [
        "temperature: measured 0.6, claim 0.8",
        "k: measured 4, claim 8-64",
        "system prompt: measured none, claim be brief",
    ]


def test_share_of_gap():
    assert share_of_gap(-0.10, 0.04) == pytest.approx(0.4)
    assert share_of_gap(-0.10, 0.25) == 1.0
    assert share_of_gap(0.02, 0.1) is None


def test_verdict_config_file_and_errors(tmp_path):
    cfg = VerdictConfig.load()
    assert 0 < cfg.tolerance < 0.2 and 0 < cfg.confidence < 1
    p = tmp_path / "v.yaml"
    p.write_text("verdict:\n  tolerance: 2\n  confidence: 0.9\n")
    c = VerdictConfig.load(p)
    assert (c.tolerance, c.confidence) == (0.02, 0.9)
    p.write_text("tolerance: 2\nconfidence: 0.9\nmax_interval_width: 8\n")
    with pytest.raises(ConfigError, match="max_interval_width.*remove the key"):
        VerdictConfig.load(p)
    p.write_text("tolerance: 2\nconfidence: 1.5\n")
    with pytest.raises(ConfigError, match="confidence"):
        VerdictConfig.load(p)
    p.write_text("tolerance: 2\nconfidence: 0.9\nsubset: ignore\n")
    with pytest.raises(ConfigError, match="subset"):
        VerdictConfig.load(p)


def test_coverage_benchmark_runs(capsys):
    from harness import bench_stats

    assert bench_stats.main(["--runs", "20", "--profiles", "2"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(("MATH-500", "AIME"))]
    assert len(rows) == 8
    # every row: two coverage percentages and a width
    for line in rows:
        cov = [float(x.rstrip("%")) for x in line.split() if x.endswith("%")]
        assert len(cov) == 2 and all(0 <= c <= 100 for c in cov)
    assert "lowest coverage at k >= 2" in out
