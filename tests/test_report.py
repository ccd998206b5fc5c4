"""Run reports and the leaderboard from a synthetic results tree with known per-sample outcomes:
a golden LEADERBOARD.md byte for byte, plots, reruns that change nothing, --json."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness import report
from harness.metrics import compute
from harness.types import Score

FIX = Path(__file__).parent / "fixtures" / "report"
ROOT = Path(__file__).resolve().parents[1]
GOLDEN = FIX / "LEADERBOARD.md"

R1_PROTOCOL = {"k": 4, "temperature": 0.6, "top_p": 0.95, "top_k": -1, "max_tokens": 32768, "seed": 0,
               "system_prompt": None, "prompt_template": "{problem}\n{instruction}",
               "instruction": "Please reason step by step, and put your final answer within \\boxed{}.",
               "backend": "vllm", "framework": "harness"}


def write_run(results: Path, run_id: str, *, model: str, display: str, claims_key: str | None, task: str,
              benchmark: str, correct: list[int], k: int, truncated: list[int] | None = None,
              protocol: dict | None = None, status: str = "complete") -> Path:
    """A run directory as the runner writes it. Problem i has correct[i] correct samples (the
    first ones, answer "i"), then truncated[i] samples cut at max_tokens (no answer), then wrong
    answers ("w"). Correct samples use 1000 + 1000 * j output tokens (sample j)."""
    proto = dict(R1_PROTOCOL if protocol is None else protocol, k=k)
    d = results / "runs" / run_id
    d.mkdir(parents=True)
    scores = []
    for i, c in enumerate(correct):
        t = (truncated or [0] * len(correct))[i]
        for j in range(k):
            pid = f"p{i:03d}"
            if j < c:
                scores.append(Score(pid, j, True, str(i), "ok", "stop", 1000 + 1000 * j, 50))
            elif j < c + t:
                scores.append(Score(pid, j, False, None, "truncated", "length", proto["max_tokens"], 50))
            else:
                scores.append(Score(pid, j, False, "w", "ok", "stop", 2000, 50))
    m = compute(scores)
    m.update(run_id=run_id, model=model, task=task, benchmark=benchmark, protocol=proto)
    manifest = {"run_id": run_id, "status": status, "created": "2025-01-01T00:00:00Z",
                "completed": "2025-01-01T01:00:00Z",
                "model": {"name": model, "path": f"org/{model}", "revision": "main", "dtype": "bfloat16",
                          "claims_key": claims_key},
                "task": {"name": task, "benchmark": benchmark, "family": "math"},
                "dataset": {"fingerprint": "sha256:test"}, "protocol": proto, "invocations": []}
    (d / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    if status == "complete":
        (d / "metrics.json").write_text(json.dumps(m, indent=2, sort_keys=True))
    (d / "config.yaml").write_text(f"model:\n  name: {model}\n  display_name: {display}\n")
    (d / "scores.jsonl").write_text("".join(json.dumps(s.to_json()) + "\n" for s in scores))
    return d


def build_tree(results: Path) -> None:
    # R1-Distill-Qwen-7B on AIME 2024, k = 4: 66 of 120 samples correct (pass@1 55.0).
    aime = [4] * 10 + [3] * 4 + [2] * 4 + [1] * 6 + [0] * 6
    write_run(results, "20250101-000000-r1-distill-qwen-7b-aime24-aaaa0000", model="r1-distill-qwen-7b",
              display="DeepSeek-R1-Distill-Qwen-7B", claims_key="r1-distill-qwen-7b", task="aime24",
              benchmark="aime24", correct=[0] * 30, k=4)  # an older run of the same configuration
    write_run(results, "20250102-000000-r1-distill-qwen-7b-aime24-aaaa0000", model="r1-distill-qwen-7b",
              display="DeepSeek-R1-Distill-Qwen-7B", claims_key="r1-distill-qwen-7b", task="aime24",
              benchmark="aime24", correct=aime, k=4)
    # R1-Distill-Qwen-1.5B on MATH-500 with k = 2 and a short budget: 70% correct, most failures truncated.
    math_c = [2] * 330 + [1] * 40 + [0] * 130
    math_t = [0] * 330 + [1] * 40 + [2] * 100 + [0] * 30
    short = dict(R1_PROTOCOL, max_tokens=4096)
    write_run(results, "20250103-000000-r1-distill-qwen-1.5b-math500-bbbb0000", model="r1-distill-qwen-1.5b",
              display="DeepSeek-R1-Distill-Qwen-1.5B", claims_key="r1-distill-qwen-1.5b", task="math500",
              benchmark="math500", correct=math_c, k=2, truncated=math_t, protocol=short)
    # A replay of 10 MATH-500 problems for R1-Distill-Qwen-7B: a subset, never a verdict either way.
    write_run(results, "20250104-000000-r1-distill-qwen-7b-math500-cccc0000", model="r1-distill-qwen-7b",
              display="DeepSeek-R1-Distill-Qwen-7B", claims_key="r1-distill-qwen-7b", task="math500",
              benchmark="math500", correct=[4] * 9 + [2], k=4, protocol=dict(R1_PROTOCOL, backend="replay"))
    # Llama-3.1-8B-Instruct on MATH-500: its card's claim is on the full MATH set, so no comparison.
    write_run(results, "20250105-000000-llama-3.1-8b-instruct-math500-dddd0000", model="llama-3.1-8b-instruct",
              display="Llama-3.1-8B-Instruct", claims_key="llama-3.1-8b-instruct", task="math500",
              benchmark="math500", correct=[1] * 250 + [0] * 250, k=1,
              protocol=dict(R1_PROTOCOL, temperature=0.0, top_p=1.0))
    # The tiny CPU model on the sample task: measured, no verdict.
    write_run(results, "20250106-000000-tiny-llama-math500_sample-eeee0000", model="tiny-llama",
              display="tiny random Llama (CPU smoke test)", claims_key=None, task="math500_sample",
              benchmark="math500_sample", correct=[0] * 17 + [1], k=4, truncated=[3] * 18,
              protocol=dict(R1_PROTOCOL, max_tokens=64))
    # An unfinished run: skipped.
    write_run(results, "20250107-000000-r1-distill-qwen-7b-aime24-ffff0000", model="r1-distill-qwen-7b",
              display="DeepSeek-R1-Distill-Qwen-7B", claims_key="r1-distill-qwen-7b", task="aime24",
              benchmark="aime24", correct=[4] * 30, k=4, status="running")


def run_report(results: Path, *extra: str, out: Path | None = None) -> None:
    args = ["--results-dir", str(results), "--claims-dir", str(FIX / "claims"),
            "--external-dir", str(FIX / "external"), "--verdict-config", str(FIX / "verdict.yaml"), *extra]
    if out is not None:
        args += ["--out", str(out)]
    report.main(args)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    results = tmp_path_factory.mktemp("report") / "results"
    build_tree(results)
    run_report(results)
    return results


def test_golden_leaderboard(tree):
    text = (tree / "LEADERBOARD.md").read_text(encoding="utf-8")
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_leaderboard_content(tree):
    text = (tree / "LEADERBOARD.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| DeepSeek-R1-Distill-Qwen-7B | ours | pass@1")]
    # the latest AIME run (pass@1 55.0) against the paper (55.5) and the reproduction (50.8)
    assert any("55.0 ± " in r and "55.5 (paper, Table 5)" in r for r in rows)
    assert any("50.8 (repro, AIME 2024)" in r for r in rows)
    assert "runs/20250101-000000-r1-distill-qwen-7b-aime24-aaaa0000" not in text  # older run hidden
    assert "20250107" not in text  # unfinished
    # cons@64 with k = 4 cannot be measured
    assert "cons@64 needs 64 samples per problem; the run has 4" in text
    # MATH-500 run well below its claim, with the truncation diagnosis
    assert "🔻 below" in text
    assert "if every truncated sample had been correct" in text.lower()
    assert "subset: 10 of 500 problems" in text
    # full MATH claims never meet MATH-500 runs
    llama = [line for line in text.splitlines() if line.startswith("| Llama-3.1-8B-Instruct | ours")]
    assert llama and all("no claim" in line for line in llama)
    # non-benchmark runs are listed without verdicts
    assert "## Runs without verdicts" in text and "task `math500_sample` is not a benchmark" in text
    # external rows mark the SE as a bound
    assert "50.8 ± ≤" in text


def test_diagnosis_numbers(tree):
    run = report.load_run(tree / "runs" / "20250103-000000-r1-distill-qwen-1.5b-math500-bbbb0000")
    assert run.metrics["pass@1"] == pytest.approx(0.70)
    # 40 problems with 1 truncated of 2, 100 with 2 of 2: (40 * .5 + 100) / 500 = .24
    assert report.fixable_gain(run, "truncated") == pytest.approx(0.24)
    assert report.fixable_gain(run, "unanswered") == pytest.approx(0.24)
    # token budget: correct samples used 1000 (j = 0) or 2000 (j = 1) tokens
    pts = dict(report.budget_points(run))
    assert pts[512] == 0.0
    assert pts[1024] == pytest.approx((330 * 0.5 + 40 * 0.5) / 500)
    assert pts[2048] == pytest.approx(0.70) and pts[4096] == pytest.approx(0.70)


def test_plots_and_run_reports_exist(tree):
    for name in ("aime24-claims", "math500-claims", "aime24-curves", "aime24-budget", "math500-curves",
                 "math500_sample-curves"):
        png = (tree / "plots" / f"{name}.png").read_bytes()
        svg = (tree / "plots" / f"{name}.svg").read_text()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2000, name
        assert "<svg" in svg and len(svg) > 2000, name
    for d in (tree / "runs").iterdir():
        if (d / "metrics.json").exists():
            text = (d / "report.md").read_text()
            assert text.startswith(f"# Run `{d.name}`")
            assert (d / "plots" / "curves.png").stat().st_size > 2000
    rep = (tree / "runs" / "20250102-000000-r1-distill-qwen-7b-aime24-aaaa0000" / "report.md").read_text()
    assert "## Verdicts" in rep and "55.5 ([paper]" in rep and "pass@1 55.0" in rep


def test_rerun_changes_nothing(tree):
    before = snapshot(tree)
    run_report(tree)
    assert snapshot(tree) == before


def test_all_runs_option(tree, tmp_path):
    out = tmp_path / "ALL.md"
    run_report(tree, "--all", "--no-plots", out=out)
    text = out.read_text()
    assert "20250101-000000-r1-distill-qwen-7b-aime24-aaaa0000" in text
    assert "(all runs)" in text


def test_json_has_the_same_content(tree, capsys):
    run_report(tree, "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["counts"]["runs"] == 6 and data["counts"]["runs_shown"] == 5
    assert data["counts"]["runs_skipped"] == 1
    benches = {b["key"]: b for b in data["benchmarks"]}
    aime = [x for x in benches["aime24"]["entries"] if x["kind"] == "run"][0]
    assert aime["value"] == pytest.approx(0.55)
    verdicts = {(c["claim"]["label"], c["metric"]): c["verdict"]["verdict"] for c in aime["comparisons"]}
    assert verdicts[("paper", "cons@64")] == "inconclusive"
    md = (tree / "LEADERBOARD.md").read_text()
    for c in aime["comparisons"]:
        assert f"{c['verdict']['verdict']}" in md
    math_run = [x for x in benches["math500"]["entries"] if x["model"] == "r1-distill-qwen-1.5b"
                and x["kind"] == "run"][0]
    below = [c for c in math_run["comparisons"] if c["claim"]["label"] == "paper"][0]
    assert below["verdict"]["verdict"] == "below"
    assert below["diagnosis"]["truncated_share"] == pytest.approx(min(1.0, 0.24 / (0.839 - 0.70)))
    assert data["plots"]["aime24"]["claimed vs measured"] == "plots/aime24-claims.png"
    assert [x["model"] for x in data["runs_without_verdicts"]] == ["tiny-llama"]


def test_after_eval_hook_writes_reports(tmp_path):
    results = tmp_path / "results"
    write_run(results, "20250101-000000-tiny-llama-math500_sample-0000", model="tiny-llama", display="tiny",
              claims_key=None, task="math500_sample", benchmark="math500_sample", correct=[0, 1], k=2)
    out = report.after_eval(results)
    assert out == results / "LEADERBOARD.md" and out.is_file()
    assert (results / "runs" / "20250101-000000-tiny-llama-math500_sample-0000" / "report.md").is_file()


def _committed_leaderboard() -> str:
    """The committed board (from git, since a local `make eval` rewrites the working copy with
    its own runs), or the working copy when this is not a git checkout."""
    import subprocess

    proc = subprocess.run(["git", "show", "HEAD:results/LEADERBOARD.md"], cwd=ROOT,
                          capture_output=True, text=True)
    if proc.returncode == 0:
        return proc.stdout
    return (ROOT / "results" / "LEADERBOARD.md").read_text(encoding="utf-8")


def test_committed_leaderboard_is_reproducible_from_a_clean_tree(tmp_path):
    """results/LEADERBOARD.md as committed is what `make report` gives on a fresh clone (no runs)."""
    out = tmp_path / "results" / "LEADERBOARD.md"
    out.parent.mkdir()  # a fresh clone has results/ (with the committed leaderboard in it)
    report.main(["--results-dir", str(tmp_path / "results")])
    committed = _committed_leaderboard()
    assert out.read_text(encoding="utf-8") == committed
    for line in committed.splitlines():
        if line.startswith("!["):
            png = line[line.index("](") + 2:-1]
            assert (ROOT / "results" / png).is_file(), png


def test_note_names_cut_off_and_unanswered_samples_when_there_is_no_gap_to_apportion():
    from harness.report.render import _note_text

    comp = {"differences": ["max_tokens: measured 2000, claim 32768"], "metric": "pass@1",
            "claim": {"label": "R1 paper"},
            "verdict": {"verdict": "inconclusive", "why": "max_tokens: measured 2000, claim 32768"},
            "diagnosis": {"truncated_rate": 0.528, "no_answer_rate": 0.60}}
    x = {"kind": "run", "model_display": "M", "label": "ours"}
    note = _note_text(x, comp)
    assert "52.8% of the samples were cut off before an answer" in note
    assert "7.2% finished without an answer the grader could read" in note
    comp["diagnosis"] = {"truncated_rate": 0.01, "no_answer_rate": 0.02}
    assert "cut off" not in _note_text(x, comp)
    comp["verdict"] = {"verdict": "reproduced", "why": None}
    comp["diagnosis"] = {"truncated_rate": 0.5, "no_answer_rate": 0.5}
    assert "cut off" not in (_note_text(x, comp) or "")
