"""A published between-seed spread against the sampling noise it should show, and how the
leaderboard shows it."""

from __future__ import annotations

import pytest

from harness import report
from harness.claims import ClaimsError, load_registry
from harness.spread import check, chi2_quantile


def test_chi2_quantiles():
    # tables: chi2_0.95(1) = 3.841, (2) = 5.991, (9) = 16.919, (63) = 82.529
    assert chi2_quantile(0.95, 1) == pytest.approx(3.841, rel=1e-3)
    assert chi2_quantile(0.95, 2) == pytest.approx(5.991, rel=0.01)
    assert chi2_quantile(0.95, 9) == pytest.approx(16.919, rel=0.01)
    assert chi2_quantile(0.95, 63) == pytest.approx(82.529, rel=0.01)


def test_spread_within_and_beyond_sampling_noise():
    # p = .5 on 30 problems, one sample per problem per seed: one seed's SD is at most
    # sqrt(.25 / 30) = 9.13 points. 10 seeds with SD 6.3: 9 * 6.3^2 / 9.13^2 = 4.3 < 16.9
    ok = check(0.5, 0.063, seeds=10, samples_per_seed=1, problems=30, confidence=0.95)
    assert ok is not None and not ok.excess
    assert ok.noise == pytest.approx((0.25 / 30) ** 0.5)
    assert ok.seed_se == pytest.approx(0.063 / 10**0.5)
    # SD 20 points: 9 * 400 / 83.3 = 43.2 > 16.9: more than sampling explains
    assert check(0.5, 0.20, seeds=10, samples_per_seed=1, problems=30, confidence=0.95).excess
    # MATH-500 at p = .95 with 3 seeds: noise <= sqrt(.0475 / 500) = 0.97 points; SD 3 points is too much
    assert check(0.95, 0.03, seeds=3, samples_per_seed=1, problems=500, confidence=0.95).excess
    # several samples per seed shrink the noise: 8 per seed, sqrt(.25 / 240) = 3.2 points
    assert check(0.5, 0.063, seeds=10, samples_per_seed=8, problems=30, confidence=0.95).excess
    assert check(0.5, 0.063, seeds=1, samples_per_seed=1, problems=30, confidence=0.95) is None


def _external(tmp_path, rows: str):
    ext = tmp_path / "external"
    ext.mkdir()
    (ext / "x.yaml").write_text(
        "source: {id: x, label: X, document: d, url: 'https://example.org', kind: reproduction}\n"
        "protocol: {temperature: 0.6, top_p: 0.95, max_tokens: 32768, grader: rule-based answer check}\n"
        f"results:\n{rows}")
    return ext


def test_the_leaderboard_flags_a_spread_larger_than_sampling_noise(tmp_path):
    ext = _external(tmp_path, (
        "  - {model: r1-distill-qwen-7b, benchmark: aime24, metric: pass@1, value: 52.0, spread: 20.0, k: 10, table: T}\n"
        "  - {model: r1-distill-qwen-7b, benchmark: math500, metric: pass@1, value: 94.0, spread: 0.3, k: 3, table: T}\n"
        "  - {model: r1-distill-qwen-1.5b, benchmark: aime24, metric: pass@1, value: 29.0, spread: 4.0, k: 16,"
        " seeds: 2, table: T}\n"))
    out = tmp_path / "LB.md"
    report.main(["--results-dir", str(tmp_path / "results"), "--external-dir", str(ext), "--out", str(out),
                 "--no-plots"])
    text = out.read_text()
    aime = next(line for line in text.splitlines() if "| DeepSeek-R1-Distill-Qwen-7B | X | pass@1 | 52.0" in line)
    assert "(sd 20.0/10 seeds ⚠)" in aime
    math = next(line for line in text.splitlines() if "| DeepSeek-R1-Distill-Qwen-7B | X | pass@1 | 94.0" in line)
    assert "(sd 0.3/3 seeds)" in math and "⚠" not in math
    assert "more than sampling noise explains" in text
    # 2 seeds of 8 samples: noise <= sqrt(.29 * .71 / 240) = 2.9 points per seed
    small = next(line for line in text.splitlines() if "| DeepSeek-R1-Distill-Qwen-1.5B | X | pass@1 | 29.0" in line)
    assert "(sd 4.0/2 seeds)" in small


def test_external_fields_are_checked(tmp_path):
    ext = _external(tmp_path, "  - {model: r1-distill-qwen-7b, benchmark: aime24, metric: pass@1, value: 52.0,"
                              " spread: 1.0, k: 10, seeds: 3, table: T}\n")
    with pytest.raises(ClaimsError, match="`seeds` must be a positive integer dividing k = 10"):
        load_registry(external_dir=ext)
    reg = load_registry()
    assert {e.source.id for e in reg.external} >= {"opencompass", "openthoughts", "deepscaler", "light-r1",
                                                     "evalchemy", "sober-look", "openmath-nemotron"}
    oc = [e for e in reg.external if e.source.id == "opencompass"]
    assert {(e.model, e.value, e.k) for e in oc} == {("r1-distill-qwen-7b", 56.3, 8), ("r1-distill-qwen-14b", 74.2, 8),
                                                      ("r1-distill-qwen-32b", 74.2, 8)}
    assert all(e.protocol["grader"].startswith("LLM verifier") for e in oc)
