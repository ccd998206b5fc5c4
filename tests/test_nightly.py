"""The nightly job: a plan of evaluations, each in its own process, then the leaderboard."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import AIME_SAMPLE, ROOT


def _nightly(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", "nightly", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_plan_runs_every_entry_keeps_going_after_a_failure_and_rebuilds_the_leaderboard(tmp_path):
    rows = [json.loads(line) for line in AIME_SAMPLE.read_text().splitlines()]
    outs = tmp_path / "outs.jsonl"
    outs.write_text("".join(json.dumps({"id": r["id"], "completion": f"\\boxed{{{r['answer']}}}"}) + "\n"
                            for r in rows))
    common = f"[task.data_files={AIME_SAMPLE}, backend.path={outs}]"
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "runs:\n"
        f"  - {{name: first, model: r1-distill-qwen-1.5b, task: aime24, backend: replay, args: {common}}}\n"
        f"  - {{name: broken, model: r1-distill-qwen-7b, task: aime24, backend: replay, args: [sampling.k=0]}}\n"
        f"  - {{name: third, model: r1-distill-llama-8b, task: aime24, backend: replay, args: {common}}}\n"
    )
    res = tmp_path / "results"
    proc = _nightly("--plan", str(plan), "--results-dir", str(res))
    assert proc.returncode == 1, proc.stderr
    assert "2 of 3 evaluations succeeded; failed: broken" in proc.stdout
    runs = sorted(p.name for p in (res / "runs").iterdir())
    assert len(runs) == 2 and any("r1-distill-llama-8b" in r for r in runs)
    assert "config error at `sampling.k`" in (res / "nightly-logs" / "broken.log").read_text()
    board = (res / "LEADERBOARD.md").read_text()
    assert "subset: 5 of 30" in board  # both runs reached the AIME table with their verdict notes


def test_only_and_dry_run():
    proc = _nightly("--plan", str(ROOT / "configs" / "nightly" / "cpu.yaml"), "--only", "tiny-aime", "--dry-run")
    assert proc.returncode == 0
    lines = [line for line in proc.stdout.splitlines() if " -m harness " in line]
    assert len(lines) == 1 and "model=tiny-llama" in lines[0] and "task=aime24" in lines[0]
    assert "k needed" in proc.stdout and "tiny-llama  aime24" in proc.stdout  # the plan of the entry follows
    # the shipped GPU plan names only configs that exist
    proc = _nightly("--dry-run")
    assert proc.returncode == 0 and "model=r1-distill-qwen-7b task=gpqa_diamond" in proc.stdout
    for line in proc.stdout.splitlines():
        for part in line.split():
            if part.startswith(("model=", "task=", "sampling=")):
                group, name = part.split("=", 1)
                assert (ROOT / "configs" / group / f"{name}.yaml").is_file(), part


@pytest.mark.parametrize(
    "text,message",
    [
        ("runs: []\n", "non-empty list"),
        ("runs:\n  - {model: tiny-llama}\n", "`task` is required"),
        ("runs:\n  - {model: tiny-llama, task: aime24, gpus: 2}\n", "unknown key(s) gpus"),
        ("runs:\n  - {model: a, task: b}\n  - {model: a, task: b}\n", "duplicate name 'a/b'"),
    ],
)
def test_plan_errors_name_the_entry(tmp_path, text, message):
    plan = tmp_path / "plan.yaml"
    plan.write_text(text)
    proc = _nightly("--plan", str(plan), "--dry-run")
    assert proc.returncode == 2 and message in proc.stderr
