"""Replay: recorded completions through the same scoring and metrics, via the Hydra entry point."""

from __future__ import annotations

import json

import pytest
from conftest import AIME_SAMPLE, MATH_SAMPLE, ROOT, only_run, read_jsonl, run_harness

CORRECT = "<think>\nLet me work through this carefully. {noise}\n</think>\nSo the answer is $\\boxed{{{ans}}}$."
WRONG = "<think>\nHmm, I think it is \\boxed{{{ans}}}.\n</think>\nThe answer is $\\boxed{{999}}$."


def _write_replay(path, rows, plan):
    """plan[i] = list of outcomes per sample for problem i: 'c' correct, 'w' wrong, 'n' no answer,
    't' truncated inside the think block."""
    with open(path, "w") as f:
        for r, outcomes in zip(rows, plan, strict=True):
            for o in outcomes:
                if o == "c":
                    text, fin = CORRECT.format(noise="step " * 50, ans=r["answer"]), "stop"
                elif o == "w":
                    text, fin = WRONG.format(ans=r["answer"]), "stop"
                elif o == "n":
                    text, fin = "I am not sure how to solve this.", "stop"
                else:
                    text, fin = "<think>\nLet me think about " + "this " * 100, "length"
                f.write(json.dumps({"id": r.get("unique_id", r.get("id")), "completion": text, "finish_reason": fin}) + "\n")


def test_replay_math500_exact_pass1_and_cons(tmp_path):
    rows = [json.loads(line) for line in MATH_SAMPLE.read_text().splitlines()]
    # 18 problems x 4 samples with a known outcome pattern
    patterns = ["cccc", "cccw", "ccww", "cwww", "wwww", "ccnt", "nnnn", "tttt", "cwcw"]
    plan = [patterns[i % len(patterns)] for i in range(len(rows))]
    _write_replay(tmp_path / "outs.jsonl", rows, plan)
    res = tmp_path / "results"
    run_harness("model=r1-distill-qwen-1.5b", "task=math500", f"task.data_files={MATH_SAMPLE}",
                "backend=replay", f"backend.path={tmp_path / 'outs.jsonl'}", f"results_dir={res}")
    run = only_run(res)
    m = json.loads((run / "metrics.json").read_text())
    expected_p1 = sum(p.count("c") / 4 for p in plan) / len(plan)
    # majority vote over answered samples: correct answer wins when it has the most votes
    # (ties go to the earliest answer: "ccww" and "cwcw" start with a correct sample)
    expected_cons = sum(1 for p in plan if p in ("cccc", "cccw", "ccww", "ccnt", "cwcw")) / len(plan)
    assert m["pass@1"] == pytest.approx(expected_p1)
    assert m["cons@k"] == pytest.approx(expected_cons)
    assert m["problems"] == 18 and m["samples"] == 72
    n_t = sum(p.count("t") for p in plan)
    assert m["truncated_rate"] == pytest.approx(n_t / 72)
    assert m["reasons"]["truncated"] == n_t
    assert m["reasons"]["no_answer"] == sum(p.count("n") for p in plan)
    assert set(m["by"]) == {"subject", "level"}
    scores = read_jsonl(run / "scores.jsonl")
    assert len(scores) == 72 and all({"id", "sample", "correct", "extracted", "reason"} <= set(s) for s in scores)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["dataset"]["fingerprint"].startswith("sha256:")
    # the R1 distill convention: the think block was opened by the chat template
    assert "Please reason step by step" in manifest["protocol"]["instruction"]


def test_replay_variable_samples_and_missing_problems(tmp_path):
    rows = [json.loads(line) for line in AIME_SAMPLE.read_text().splitlines()]
    lines = []
    for s in range(3):  # problem 60: 3 samples, 2 correct
        ans = rows[0]["answer"] if s < 2 else "7"
        lines.append({"id": 60, "sample": s, "completion": f"\\boxed{{{ans}}}"})
    lines.append({"id": "61", "completion": "\\boxed{180}"})  # ids matched as strings
    (tmp_path / "outs.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    res = tmp_path / "results"
    proc = run_harness("task=aime24", f"task.data_files={AIME_SAMPLE}", "backend=replay",
                       f"backend.path={tmp_path / 'outs.jsonl'}", f"results_dir={res}")
    m = json.loads((only_run(res) / "metrics.json").read_text())
    assert m["problems"] == 2 and m["samples"] == 4
    assert m["pass@1"] == pytest.approx((2 / 3 + 1) / 2)
    assert m["samples_per_problem"] == {"min": 1, "max": 3}
    assert sorted(m["problems_without_samples"]) == ["62", "63", "64"]
    assert "3 of 5 problems have no line" in proc.stderr


def test_replay_unknown_id_is_an_error_naming_id_and_line(tmp_path):
    (tmp_path / "outs.jsonl").write_text('{"id": 60, "completion": "x"}\n{"id": 12345, "completion": "y"}\n')
    proc = run_harness("task=aime24", f"task.data_files={AIME_SAMPLE}", "backend=replay",
                       f"backend.path={tmp_path / 'outs.jsonl'}", f"results_dir={tmp_path / 'r'}", check=False)
    assert proc.returncode == 2
    assert "outs.jsonl:2" in proc.stderr and "'12345'" in proc.stderr


def test_missing_field_names_field_and_source(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"unique_id": "a", "problem": "p"}) + "\n")
    proc = run_harness("task=math500", f"task.data_files={bad}", "backend=replay",
                       f"backend.path={bad}", f"results_dir={tmp_path / 'r'}", check=False)
    assert proc.returncode == 2
    assert "'answer'" in proc.stderr and "bad.jsonl" in proc.stderr


def test_parquet_data_files(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [json.loads(line) for line in AIME_SAMPLE.read_text().splitlines()]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "aime.parquet")
    (tmp_path / "outs.jsonl").write_text(
        "".join(json.dumps({"id": r["id"], "completion": f"\\boxed{{{r['answer']}}}"}) + "\n" for r in rows))
    res = tmp_path / "results"
    run_harness("task=aime24", f"task.data_files={tmp_path / 'aime.parquet'}", "backend=replay",
                f"backend.path={tmp_path / 'outs.jsonl'}", f"results_dir={res}")
    assert json.loads((only_run(res) / "metrics.json").read_text())["pass@1"] == 1.0


def test_multirun_sweep_gives_one_run_per_configuration(tmp_path):
    rows = [json.loads(line) for line in AIME_SAMPLE.read_text().splitlines()]
    (tmp_path / "outs.jsonl").write_text(
        "".join(json.dumps({"id": r["id"], "completion": f"\\boxed{{{r['answer']}}}"}) + "\n" for r in rows))
    res = tmp_path / "results"
    run_harness("-m", "task=aime24", f"task.data_files={AIME_SAMPLE}", "backend=replay",
                f"backend.path={tmp_path / 'outs.jsonl'}", f"results_dir={res}",
                "model=r1-distill-qwen-1.5b,r1-distill-llama-8b")
    runs = sorted(p.name for p in (res / "runs").iterdir())
    assert len(runs) == 2 and any("r1-distill-llama-8b" in r for r in runs)
    assert not (ROOT / "multirun").exists()  # Hydra's own sweep files stay under .cache
