"""The grader band on the leaderboard: every measured value with its strict..lenient range, a
note when the verdict depends on the grader, and claims that name their grader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import report
from harness.claims import ClaimsError, load_registry
from harness.metrics import compute
from harness.scoring.profiles import by_grader_metrics
from harness.types import Score

FIX = Path(__file__).parent / "fixtures" / "report"
PROTOCOL = {"k": 4, "temperature": 0.6, "top_p": 0.95, "top_k": -1, "max_tokens": 32768, "seed": 0,
            "system_prompt": None, "prompt_template": "{problem}", "instruction": None, "backend": "vllm",
            "framework": "harness"}


def write_run(results: Path) -> Path:
    """R1-Distill-Qwen-7B on MATH-500, k = 4: 400 problems answered in boxes (every grader
    credits them), 60 answered in prose (default and lenient credit them, strict does not), 5
    credited by lenient only (a number it found in unfinished text), 35 wrong."""
    run_id = "20250101-000000-r1-distill-qwen-7b-math500-aaaa0000"
    d = results / "runs" / run_id
    d.mkdir(parents=True)
    scores = []
    for i in range(500):
        pid = f"p{i:03d}"
        for j in range(4):
            if i < 400:
                by, rule, ext = {"strict": True, "default": True, "lenient": True}, "boxed", None
            elif i < 460:
                by, rule, ext = {"strict": False, "default": True, "lenient": True}, "statement", {"strict": None}
            elif i < 465:
                by, rule, ext = {"strict": False, "default": False, "lenient": True}, "none", {"lenient": "7"}
            else:
                by, rule, ext = {"strict": False, "default": False, "lenient": False}, "boxed", None
            answer = None if rule == "none" else (str(i) if by["default"] else "w")
            scores.append(Score(pid, j, by["default"], answer, "ok" if answer else "truncated",
                                "stop" if answer else "length", 3000, 50, rule=rule, by_grader=by,
                                extracted_by_grader=ext))
    m = compute(scores)
    m.update(run_id=run_id, model="r1-distill-qwen-7b", task="math500", benchmark="math500", protocol=PROTOCOL,
             grader={"profile": "default", "version": "2"}, by_grader=by_grader_metrics(scores))
    manifest = {"run_id": run_id, "status": "complete", "created": "2025-01-01T00:00:00Z",
                "completed": "2025-01-01T01:00:00Z",
                "model": {"name": "r1-distill-qwen-7b", "path": "org/m", "revision": "main", "dtype": "bfloat16",
                          "claims_key": "r1-distill-qwen-7b"},
                "task": {"name": "math500", "benchmark": "math500", "family": "math"},
                "dataset": {"fingerprint": "sha256:test"}, "protocol": PROTOCOL, "invocations": []}
    (d / "manifest.json").write_text(json.dumps(manifest))
    (d / "metrics.json").write_text(json.dumps(m))
    (d / "config.yaml").write_text("model:\n  name: r1-distill-qwen-7b\n  display_name: R1-Distill-Qwen-7B\n")
    (d / "scores.jsonl").write_text("".join(json.dumps(s.to_json()) + "\n" for s in scores))
    return d


CLAIM = """source: {{id: {id}, label: {label}, document: "a report", url: https://example.org/{id}, kind: paper}}
protocol: {{k: 64{grader}}}
claims:
  - {{model: r1-distill-qwen-7b, benchmark: math500, metric: pass@1, value: 92.8, table: Table 5}}
"""


@pytest.fixture()
def board(tmp_path):
    results = tmp_path / "results"
    write_run(results)
    claims = tmp_path / "claims"
    claims.mkdir()
    (claims / "a.yaml").write_text(CLAIM.format(id="plain", label="report", grader=""))
    (claims / "b.yaml").write_text(CLAIM.format(id="strict-grader", label="strict report", grader=", grader: strict"))
    (tmp_path / "external").mkdir()
    args = dict(claims_dir=claims, external_dir=tmp_path / "external", verdict_config=FIX / "verdict.yaml")
    return results, args


def test_band_and_verdicts_by_grader(board):
    results, args = board
    data = report.data_only(results, with_plots=False, **args)
    (entry,) = data["benchmarks"][0]["entries"]
    assert entry["grader_band"] == {"strict": 0.8, "default": 0.92, "lenient": 0.93}
    comps = {c["claim"]["label"]: c for c in entry["comparisons"]}
    plain, strict = comps["report"], comps["strict report"]
    assert plain["grader"] == "default" and not plain["grader_from_claim"]
    assert plain["measured"] == pytest.approx(0.92)
    assert {p: v["verdict"] for p, v in plain["by_grader"].items()} == \
        {"strict": "below", "default": "reproduced", "lenient": "reproduced"}
    # the claim says it was graded strictly: its verdict uses the strict profile
    assert strict["grader"] == "strict" and strict["grader_from_claim"]
    assert strict["measured"] == pytest.approx(0.8) and strict["verdict"]["verdict"] == "below"


def test_leaderboard_shows_the_band_and_the_dependence(board, tmp_path):
    results, args = board
    out = tmp_path / "LEADERBOARD.md"
    report.generate(results, out, with_plots=False, **args)
    text = out.read_text()
    assert "92.0 ± 0.5 (q 1.2) · graders 80.0–93.0" in text
    assert ("The verdict depends on the grader: below with strict, reproduced with default and lenient "
            "(strict 80.0, default 92.0, lenient 93.0; graded default)") in text
    assert "graded strict as the claim states" in text
    assert "`graders a–b`" in text
    run_report = next((results / "runs").iterdir()) / "report.md"
    assert "## Graders" in run_report.read_text() and "| strict | 80.0 ±" in run_report.read_text()


def test_runs_without_profiles_render_as_before(tmp_path):
    from test_report import build_tree  # the golden tree: no grader profiles anywhere

    results = tmp_path / "results"
    build_tree(results)
    out = tmp_path / "LEADERBOARD.md"
    report.main(["--results-dir", str(results), "--claims-dir", str(FIX / "claims"), "--external-dir",
                 str(FIX / "external"), "--verdict-config", str(FIX / "verdict.yaml"), "--no-plots", "--out", str(out)])
    assert "graders" not in out.read_text()


def test_claim_grader_must_be_a_profile(tmp_path):
    (tmp_path / "c.yaml").write_text(CLAIM.format(id="x", label="x", grader=", grader: generous"))
    with pytest.raises(ClaimsError, match="protocol.grader 'generous'"):
        load_registry(tmp_path, tmp_path / "none")
