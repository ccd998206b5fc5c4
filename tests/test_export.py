"""`harness export`: one row per sample, readable by `datasets.load_dataset`."""

from __future__ import annotations

import json
import subprocess
import sys

import datasets
import pytest
from conftest import AIME_SAMPLE, ROOT, only_run, run_harness

from harness.export import COLUMNS, export


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    rows = [json.loads(line) for line in AIME_SAMPLE.read_text().splitlines()]
    outs = tmp / "outs.jsonl"
    with open(outs, "w") as f:
        for r in rows:
            f.write(json.dumps({"id": r["id"], "sample": 0, "completion": f"<think>hm</think> $\\boxed{{{r['answer']}}}$"})
                    + "\n")
            f.write(json.dumps({"id": r["id"], "sample": 1, "completion": "<think>going on and on",
                                "finish_reason": "length", "output_tokens": 64}) + "\n")
    results = tmp / "results"
    run_harness("model=r1-distill-qwen-7b", "task=aime24", "backend=replay", f"backend.path={outs}",
                f"task.data_files={AIME_SAMPLE}", "sampling.k=2", f"results_dir={results}")
    return only_run(results)


@pytest.mark.parametrize("fmt,builder", [("parquet", "parquet"), ("jsonl", "json")])
def test_export_loads_with_datasets(run_dir, tmp_path, fmt, builder):
    out, n = export(run_dir, fmt, tmp_path / f"x.{fmt}")
    assert n == 10
    ds = datasets.load_dataset(builder, data_files=str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert ds.num_rows == 10 and set(COLUMNS) <= set(ds.column_names)
    first, second = ds[0], ds[1]
    assert first["problem_id"] == "60" and first["sample"] == 0
    assert first["problem"].startswith("Find the number of ordered pairs") and first["gold"] == "24"
    assert first["completion"].endswith("\\boxed{24}$") and first["extracted"] == "24"
    assert first["correct"] is True and first["reason"] == "ok" and first["finish_reason"] == "unknown"
    assert second["correct"] is False and second["reason"] == "truncated" and second["finish_reason"] == "length"
    assert second["output_tokens"] == 64 and second["extracted"] is None
    assert sum(ds["correct"]) == 5


def test_cli(run_dir, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "harness", "export", str(run_dir), "--format", "jsonl"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"exported 10 samples to {run_dir / 'export.jsonl'}" in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "harness", "export", str(tmp_path)], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode == 2 and "no scores.jsonl" in bad.stderr
