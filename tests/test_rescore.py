"""`harness rescore`: an existing run re-graded without generating, into a new scores version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import MATH_SAMPLE, read_jsonl

from harness.errors import DataError
from harness.rescore import main as rescore_main
from harness.rescore import rescore
from harness.store import RunStore, next_scores_path, scores_versions


def _problems() -> list[dict]:
    return [json.loads(line) for line in MATH_SAMPLE.read_text().splitlines() if line.strip()]


def make_run(tmp_path: Path, fingerprint: str | None = None) -> Path:
    """A finished run as an older grader left it: samples of 18 problems, two per problem, the
    first a boxed answer, the second a prose answer that the old grader could not read."""
    run = tmp_path / "results" / "runs" / "20250101-000000-m-math500-aaaa0000"
    run.mkdir(parents=True)
    cfg = {
        "model": {"name": "m", "prompt": {"system": None, "instruction": "", "think_prefilled": False}},
        "task": {"name": "math500", "benchmark": "math500", "family": "math", "data_files": str(MATH_SAMPLE),
                 "fields": {"id": "unique_id", "problem": "problem", "answer": "answer"},
                 "group_by": ["subject"], "prompt_template": "{problem}", "scoring": {"timeout_seconds": 5}},
        "sampling": {"k": 2}, "backend": {"name": "replay"},
    }
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    samples, old_scores = [], []
    for r in _problems():
        pid, gold = r["unique_id"], r["answer"]
        samples.append({"id": pid, "sample": 0, "text": f"Working it out... so the answer is $\\boxed{{{gold}}}$.",
                        "finish_reason": "stop", "output_tokens": 20})
        samples.append({"id": pid, "sample": 1, "text": f"Working it out step by step, the result is {gold}.",
                        "finish_reason": "stop", "output_tokens": 20})
        old_scores.append({"id": pid, "sample": 0, "correct": True, "extracted": gold, "reason": "ok",
                           "finish_reason": "stop", "output_tokens": 20, "prompt_tokens": 10})
        old_scores.append({"id": pid, "sample": 1, "correct": False, "extracted": None, "reason": "no_answer",
                           "finish_reason": "stop", "output_tokens": 20, "prompt_tokens": 10})
    (run / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    (run / "scores.jsonl").write_text("".join(json.dumps(s) + "\n" for s in old_scores))
    (run / "metrics.json").write_text(json.dumps({"pass@1": 0.5, "run_id": run.name, "model": "m",
                                                  "usage": {"output_tokens": 720}, "generation_seconds": 12.0}))
    manifest = {"run_id": run.name, "status": "complete", "created": "2025-01-01T00:00:00Z",
                "completed": "2025-01-01T01:00:00Z", "dataset": {"fingerprint": fingerprint}}
    (run / "manifest.json").write_text(json.dumps(manifest))
    return run


def test_rescore_writes_a_new_version_and_the_store_reads_it(tmp_path):
    run = make_run(tmp_path)
    v1 = (run / "scores.jsonl").read_bytes()
    out = rescore(run, workers=1, progress=False)
    assert out.name == "scores.v2.jsonl"
    assert (run / "scores.jsonl").read_bytes() == v1  # never overwritten
    assert RunStore(run).scores_path == out
    scores = read_jsonl(out)
    assert len(scores) == 36 and all(s["correct"] for s in scores)
    assert {s["rule"] for s in scores} == {"boxed", "statement"}
    assert all(s["by_grader"]["strict"] is (s["sample"] == 0) for s in scores)
    m = json.loads((run / "metrics.json").read_text())
    assert m["pass@1"] == pytest.approx(1.0)
    assert m["by_grader"]["strict"]["pass@1"] == pytest.approx(0.5)
    assert 0.5 < m["by_grader"]["lenient"]["pass@1"] <= 1.0
    assert m["usage"] == {"output_tokens": 720} and m["generation_seconds"] == 12.0  # generation figures kept
    assert m["grader"]["profile"] == "default"
    manifest = json.loads((run / "manifest.json").read_text())
    versions = manifest["scores_versions"]
    assert [v["file"] for v in versions] == ["scores.jsonl", "scores.v2.jsonl"]
    assert versions[0]["version"].startswith("1") and versions[1]["profile"] == "default"
    assert manifest["grader"]["version"] == versions[1]["version"]

    # a second rescore with another grader: a third version, metrics from it
    out3 = rescore(run, grader="strict", workers=1, progress=False)
    assert out3.name == "scores.v3.jsonl" and scores_versions(run)[-1] == out3
    assert read_jsonl(out) == scores  # the previous version is untouched
    m = json.loads((run / "metrics.json").read_text())
    assert m["pass@1"] == pytest.approx(0.5) and m["grader"]["profile"] == "strict"
    assert next_scores_path(run).name == "scores.v4.jsonl"

    from harness.report import load_run

    assert sum(s.correct for s in load_run(run).scores) == 18  # the report reads the newest version


def test_rescore_refuses_other_problems(tmp_path):
    run = make_run(tmp_path, fingerprint="sha256:not-these-problems")
    with pytest.raises(DataError, match="fingerprint"):
        rescore(run, workers=1, progress=False)
    assert scores_versions(run) == [run / "scores.jsonl"]


def test_rescore_command_line(tmp_path, capsys):
    run = make_run(tmp_path)
    rescore_main([str(run), "--grader", "lenient", "--workers", "1", "--no-report"])
    assert "scores.v2.jsonl" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        rescore_main([str(tmp_path / "nothing-here"), "--no-report"])
