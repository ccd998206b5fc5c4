"""`harness plan`: samples per problem, tokens and GPU-hours, checked against hand-computed cases.

With the shipped verdict config (tolerance 3 points, 95% interval, width at most 10), a zero gap is
`reproduced` when 1.96 * sqrt(SE_run^2 + SE_claim^2) <= 0.03, i.e. SE_run^2 + SE_claim^2 <=
(0.03 / 1.959964)^2 = 2.34286e-4.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness import plan as P
from harness.claims import Claim, Source
from harness.metrics import compute
from harness.types import Score
from harness.verdict import VerdictConfig

ROOT = Path(__file__).resolve().parents[1]
CFG = VerdictConfig(tolerance=0.03, confidence=0.95)
SRC = Source(id="paper", label="paper", document="d", url="https://example.org", kind="paper", path="x.yaml")


def claim(value: float, metric: str = "pass@1", **protocol) -> Claim:
    return Claim(model="m", benchmark="aime24", metric=metric, value=value, source=SRC, table="Table 5",
                 url=SRC.url, protocol=protocol)


def test_aime_against_a_64_sample_claim_needs_78_samples():
    # p = .555, N = 30: SE_claim^2 = .246975 / (64 * 30) = 1.28633e-4; room for the run:
    # 2.34286e-4 - 1.28633e-4 = 1.05653e-4 = .246975 / (30 k)  ->  k = 77.9  ->  78
    n = P.pass1_need(claim(55.5, k=64), problems=30, planned_k=64, cfg=CFG)
    assert n.k_needed == 78
    assert n.decidable_with_claim_k is False and n.conclusive_at_planned_k is False
    assert n.se_claim == pytest.approx((0.555 * 0.445 / (64 * 30)) ** 0.5)
    # at k = 64: the run's SE^2 = .246975 / 1920; a gap beyond 3 + 1.96 * sqrt(2 * 1.28633e-4) = 6.14 points
    assert n.detectable_gap == pytest.approx(0.03 + 1.959964 * (2 * 1.28633e-4) ** 0.5, abs=1e-5)
    assert P.pass1_need(claim(55.5, k=64), problems=30, planned_k=78, cfg=CFG).conclusive_at_planned_k


def test_a_claim_whose_own_noise_is_too_large_cannot_be_settled():
    # GPQA Diamond, p = .491, N = 198, k unstated in [4, 64]: the claim's SE at k = 4 is
    # sqrt(.249919 / 792) = .01776 > .015306 (the whole allowance): no k is enough
    c = Claim(model="m", benchmark="gpqa_diamond", metric="pass@1", value=49.1, source=SRC, table="Table 5",
              url=SRC.url, protocol={"k": [4, 64]})
    n = P.pass1_need(c, problems=198, planned_k=64, cfg=CFG)
    assert n.k_needed is None and n.decidable_with_claim_k is False
    assert "leaves no room" in n.why
    # had the claim used 64 samples: SE_claim^2 = .249919 / 12672 = 1.97222e-5; room 2.14564e-4
    # = .249919 / (198 k) -> k = 5.88 -> 6
    assert n.k_needed_at_claim_k_max == 6 and "k 6 would do" in n.why


def test_small_claim_noise_needs_few_samples():
    # MATH-500, p = .928, claim k = 4: SE_claim^2 = .066816 / 2000 = 3.3408e-5; room 2.00878e-4
    # = .066816 / (500 k) -> k = 0.67 -> 1
    c = claim(92.8, k=[4, 64])
    assert P.pass1_need(c, problems=500, planned_k=4, cfg=CFG).k_needed == 1
    # a greedy claim has no sampling noise: p = .5, N = 500: .25 / (500 k) <= 2.34286e-4 -> k = 2.13 -> 3
    g = claim(50.0, temperature=0.0)
    assert P.pass1_need(g, problems=500, planned_k=1, cfg=CFG).k_needed == 3


def test_per_problem_rates_of_an_earlier_run_replace_the_bound():
    # 15 problems always solved, 10 never, 5 half the time: sum p(1-p) = 1.25, N = 30, claim k = 64:
    # SE_claim^2 = 1.25 / 64 / 900 = 2.17014e-5; room 2.12585e-4 = 1.25 / (900 k) -> k = 6.53 -> 7
    rates = [1.0] * 15 + [0.0] * 10 + [0.5] * 5
    n = P.pass1_need(claim(58.3, k=64), problems=30, planned_k=64, cfg=CFG, rates=rates, rates_from="run r")
    assert n.k_needed == 7 and n.rates == "run r" and not n.se_is_bound


def test_cons_at_64_on_30_problems_is_never_settled_on_the_bound():
    # each side: sqrt(.833 * .167 / 30) = .0681; interval half-width 1.96 * .0963 = 18.9 points
    n = P.cons_need(claim(83.3, metric="cons@64", k=64), problems=30, planned_k=64, cfg=CFG)
    assert n.k_needed is None and n.decidable_with_claim_k is False
    assert n.detectable_gap == pytest.approx(0.03 + 1.959964 * (2 * 0.833 * 0.167 / 30) ** 0.5, abs=1e-4)


def _write_run(results: Path, run_id: str, *, model: str, benchmark: str, correct: list[int], k: int,
               tokens: int, tps: float | None = None, gpus: list[str] | None = None) -> None:
    d = results / "runs" / run_id
    d.mkdir(parents=True)
    scores = [Score(f"p{i:03d}", j, j < c, "1" if j < c else "2", "ok", "stop", tokens, 10)
              for i, c in enumerate(correct) for j in range(k)]
    m = compute(scores)
    proto = {"k": k, "temperature": 0.6, "top_p": 0.95, "max_tokens": 32768}
    m.update(model=model, task=benchmark, benchmark=benchmark, protocol=proto)
    if tps is not None:
        m["usage"] = {"output_tokens_per_second": tps}
    manifest = {"run_id": run_id, "status": "complete", "protocol": proto, "hardware": {"gpus": gpus or []},
                "model": {"name": model, "claims_key": model}, "task": {"name": benchmark, "benchmark": benchmark}}
    (d / "manifest.json").write_text(json.dumps(manifest))
    (d / "metrics.json").write_text(json.dumps(m))
    (d / "scores.jsonl").write_text("".join(json.dumps(s.to_json()) + "\n" for s in scores))


def test_tokens_and_gpu_hours_from_earlier_runs_else_labelled_defaults(tmp_path):
    results = tmp_path / "results"
    # an earlier AIME run of the 7B model on two H100s: 8,000 tokens per sample, 9,000 tokens/s in all
    _write_run(results, "20250101-000000-a", model="r1-distill-qwen-7b", benchmark="aime24",
               correct=[2] * 15 + [0] * 15, k=2, tokens=8000, tps=9000.0, gpus=["NVIDIA H100 80GB HBM3"] * 2)
    plans, _, _, gpu = P.build_plans(["model=r1-distill-qwen-7b", "task=aime24", "sampling=r1"],
                                     results_dir=results)
    p = plans[0]
    assert gpu == "H100" and p.problems == 30 and p.k == 64
    assert p.tokens_per_sample == 8000 and p.tokens_source == "earlier run 20250101-000000-a"
    assert p.throughput == 4500 and "earlier run 20250101-000000-a on 2x NVIDIA H100" in p.throughput_source
    # 30 problems x 64 samples x 8,000 tokens / 4,500 tokens/s = 4.74 GPU-hours
    assert p.gpu_hours == pytest.approx(30 * 64 * 8000 / 4500 / 3600)
    # no run on an A100: the default table, marked as an estimate; tokens still from the run
    plans, _, _, _ = P.build_plans(["model=r1-distill-qwen-7b", "task=aime24", "sampling=r1"], gpu="a100",
                                   results_dir=results)
    assert plans[0].throughput == 2700 and "estimate for a 7B model" in plans[0].throughput_source
    # no earlier run of the 1.5B model: the max-tokens bound, labelled
    plans, _, _, _ = P.build_plans(["model=r1-distill-qwen-1.5b", "task=aime24", "sampling=r1"],
                                   results_dir=results)
    assert plans[0].tokens_per_sample == 32768 and plans[0].tokens_source == "upper bound: max_tokens"
    # 30 x 64 x 32,768 / 9,000 tokens/s per H100 (the 1.5B default) = 1.94 GPU-hours
    assert plans[0].gpu_hours == pytest.approx(30 * 64 * 32768 / 9000 / 3600)


def test_published_tokens_per_sample_when_no_run_has_them(tmp_path):
    ext = tmp_path / "external"
    ext.mkdir()
    (ext / "x.yaml").write_text(
        "source: {id: x, label: X, document: d, url: 'https://example.org', kind: reproduction}\n"
        "results:\n  - {model: r1-distill-qwen-1.5b, benchmark: aime24, metric: pass@1, value: 28.0, k: 16,"
        " tokens_per_sample: 12000, table: T1}\n")
    plans, _, _, _ = P.build_plans(["model=r1-distill-qwen-1.5b", "task=aime24", "sampling=r1"],
                                   results_dir=tmp_path / "none", external_dir=ext)
    assert plans[0].tokens_per_sample == 12000 and plans[0].tokens_source == "published: X, T1"


def test_sweeps_and_subsets():
    assert P.expand_sweep(["model=a,b", "task=x", "sampling.k=4"]) == [
        ["model=a", "task=x", "sampling.k=4"], ["model=b", "task=x", "sampling.k=4"]]
    plans, _, _, _ = P.build_plans(["model=r1-distill-qwen-7b", "task=aime24", "task.limit=5"], results_dir=None)
    assert plans[0].problems == 5
    assert any("subset: 5 of 30" in n for n in plans[0].notes)
    # a local copy of part of the benchmark counts as what it holds (the AIME fixture: 5 problems)
    plans, _, _, _ = P.build_plans(["model=r1-distill-qwen-7b", "task=aime24",
                                    "task.data_files=tests/fixtures/aime24_sample.jsonl"], results_dir=None)
    assert plans[0].problems == 5 and any("subset: 5 of 30" in n for n in plans[0].notes)


def test_claims_table_mode_and_cli():
    plans, skipped, _, _ = P.build_plans([], claims_source="deepseek-r1-paper", table="5", results_dir=None)
    by = {(p.model, p.benchmark, p.needs[0].metric): p for p in plans}
    assert by[("r1-distill-qwen-7b", "aime24", "pass@1")].needs[0].k_needed == 78
    assert by[("r1-distill-qwen-7b", "aime24", "pass@1")].k == 64  # the claim's own k
    assert by[("r1-distill-qwen-7b", "gpqa_diamond", "pass@1")].needs[0].k_needed is None
    assert all(p.needs[0].claim.startswith("R1 paper, Table") for p in plans)
    assert not any("Table 2" == p.needs[0].claim.split(", ")[1] for p in plans)
    proc = subprocess.run([sys.executable, "-m", "harness", "plan", "model=r1-distill-qwen-7b", "task=aime24",
                           "sampling=r1", "--results-dir", "/nonexistent"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("r1-distill-qwen-7b") and "pass@1" in x)
    assert " 78 " in line and "not conclusive" in line
    bad = subprocess.run([sys.executable, "-m", "harness", "plan", "--claims", "nope"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no claims from source 'nope'" in bad.stderr
