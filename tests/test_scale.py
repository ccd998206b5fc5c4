"""Sharded runs, reuse of finished runs, seed studies, prompt-length policy and data parallel
device sets, without an engine (the replay backend stands in for one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import MATH_SAMPLE, read_jsonl

from harness import reuse, shards, study
from harness.backends.dp import device_sets
from harness.backends.fit import TOO_LONG, Fit
from harness.errors import ConfigError
from harness.types import Problem, Request, SamplingParams

ROWS = [json.loads(line) for line in MATH_SAMPLE.read_text().splitlines()]


def compose(*overrides: str) -> dict:
    from hydra import compose as hcompose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    from harness.cli import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return OmegaConf.to_container(hcompose(config_name="eval", overrides=list(overrides)), resolve=True)


@pytest.fixture()
def replay_file(tmp_path) -> Path:
    """4 completions per problem, some with the right answer."""
    path = tmp_path / "outs.jsonl"
    with open(path, "w") as f:
        for i, r in enumerate(ROWS):
            for j in range(4):
                ans = r["answer"] if (i + j) % 3 == 0 else "999"
                f.write(json.dumps({"id": r["unique_id"], "sample": j,
                                    "completion": f"The answer is $\\boxed{{{ans}}}$.", "output_tokens": 9}) + "\n")
    return path


def replay_cfg(replay_file: Path, results: Path, *more: str) -> dict:
    return compose("backend=replay", f"backend.path={replay_file}", f"results_dir={results}",
                   "progress=false", "scoring.workers=1", *more)


def run(cfg: dict):
    from harness.runner import run_eval

    return run_eval(cfg)


def runs(results: Path) -> list[Path]:
    return sorted(p for p in (results / "runs").iterdir() if p.is_dir() and not p.name.startswith("."))


def manifest_last(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())["invocations"][-1]


def samples_of(run_dir: Path) -> dict:
    return {(s["id"], s["sample"]): s["text"] for s in read_jsonl(run_dir / "samples.jsonl")}


# -- shards -------------------------------------------------------------------------------------
def test_parse_shard():
    assert shards.parse_shard(None) is None and shards.parse_shard("0/1") is None
    assert shards.parse_shard("2/4") == shards.Shard(2, 4)
    for bad in ("4/4", "1", "a/b", "-1/4", "1/0"):
        with pytest.raises(ConfigError, match="shard"):
            shards.parse_shard(bad)


def test_shards_partition_the_problems_by_id_hash():
    problems = [Problem(id=r["unique_id"], inputs={}, reference=None) for r in ROWS]
    parts = [shards.select(problems, shards.Shard(i, 4)) for i in range(4)]
    ids = [p.id for part in parts for p in part]
    assert sorted(ids) == sorted(p.id for p in problems)  # every problem once
    assert sum(1 for part in parts if part) >= 3  # spread, not all in one shard
    # the split depends on the id only, not on order or on the other problems
    assert [p.id for p in shards.select(problems[::-1], shards.Shard(1, 4))] == [p.id for p in parts[1]][::-1]
    assert shards.select(problems[:5], shards.Shard(1, 4)) == [p for p in parts[1] if p in problems[:5]]


def test_sharded_run_equals_unsharded_and_waits_for_missing_shards(tmp_path, replay_file):
    whole = tmp_path / "whole"
    _, m_whole = run(replay_cfg(replay_file, whole))
    sharded = tmp_path / "sharded"
    order = [2, 0, 3, 1]
    for n, i in enumerate(order[:-1]):
        store, m = run(replay_cfg(replay_file, sharded, f"shard={i}/4"))
        assert m["shards_missing"] == [f"{j}/4" for j in sorted(order[n + 1:])]
        assert not store.metrics_path.exists() and not store.scores_path.exists()
        assert shards.pending_reason(store.path) == "shards missing: " + ", ".join(
            f"{j}/4" for j in sorted(order[n + 1:]))
    (run_dir,) = runs(sharded)  # all shards share one run directory
    assert shards.shard_files(run_dir)
    from harness.report import load_runs

    _, skipped = load_runs(sharded)
    assert skipped == [(run_dir.name, f"shards missing: {order[-1]}/4")]

    store, m = run(replay_cfg(replay_file, sharded, f"shard={order[-1]}/4"))
    assert store.path == run_dir
    assert not shards.shard_files(run_dir) and not list(run_dir.glob("shard-*.json"))
    assert manifest_last(run_dir)["finalize"] is True and manifest_last(run_dir)["to_generate"] == 0
    assert samples_of(run_dir) == samples_of(runs(whole)[0])
    assert len(read_jsonl(run_dir / "samples.jsonl")) == 72
    for key in ("pass@1", "cons@k", "samples", "problems", "pass@1_se_generation", "by"):
        assert m[key] == m_whole[key], key
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert sorted(i["shard"] for i in manifest["invocations"] if i["outcome"] == "shard_complete") == ["0/4", "1/4", "2/4", "3/4"]
    # a shard rerun after completion pays for nothing
    _, again = run(replay_cfg(replay_file, sharded, "shard=1/4"))
    assert again["reused"] is True and len(runs(sharded)) == 1


def test_a_shard_reruns_alone_and_generates_only_its_missing_samples(tmp_path, replay_file):
    res = tmp_path / "r"
    store, _ = run(replay_cfg(replay_file, res, "shard=1/2"))
    path = shards.shard_path(store, shards.Shard(1, 2))
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:3]) + lines[3][:20])  # lost samples and a torn last line
    store, m = run(replay_cfg(replay_file, res, "shard=1/2"))
    rec = json.loads((store.path / "shard-1-of-2.json").read_text())
    assert rec["invocations"][-1]["to_generate"] == len(lines) - 3
    assert len(path.read_text().splitlines()) == len(lines)
    assert m["shards_missing"] == ["0/2"]


def test_concurrent_shards_join_one_run(tmp_path):
    from harness.store import RunStore

    res = tmp_path
    a = RunStore.create(res, "m", "t", "abc123")
    b = RunStore.create(res, "m", "t", "abc123")
    for s in (a, b):
        s.write_manifest({"identity": "abc123", "status": "running"})
    assert shards.claim(a, res, "abc123").path == a.path
    joined = shards.claim(b, res, "abc123")
    assert joined.path == a.path and not b.path.exists()


def test_resume_false_cannot_be_sharded(tmp_path, replay_file):
    with pytest.raises(ConfigError, match="resume"):
        run(replay_cfg(replay_file, tmp_path, "shard=0/2", "resume=false"))


# -- never pay twice ----------------------------------------------------------------------------
def test_finished_run_is_reused_rescored_or_redone_on_request(tmp_path, replay_file):
    res = tmp_path / "r"
    store, m1 = run(replay_cfg(replay_file, res))
    inv = len(json.loads(store.manifest_path.read_text())["invocations"])
    before = store.scores_path.stat().st_mtime_ns
    store2, m2 = run(replay_cfg(replay_file, res))
    assert store2.path == store.path and m2["reused"] is True and m2["pass@1"] == m1["pass@1"]
    assert store.scores_path.stat().st_mtime_ns == before  # not even re-scored
    assert len(json.loads(store.manifest_path.read_text())["invocations"]) == inv
    # a grader setting is not part of the identity: the same run is re-scored, nothing generated
    store3, m3 = run(replay_cfg(replay_file, res, "task.scoring.timeout_seconds=7"))
    assert store3.path == store.path and not m3.get("reused")
    last = json.loads(store.manifest_path.read_text())["invocations"][-1]
    assert last["to_generate"] == 0 and last["resumed"] is True
    assert "timeout_seconds: 7" in store.config_path.read_text()
    assert (store.path / "scores.v2.jsonl").is_file()  # the re-score is a new version beside the old
    assert store.scores_path.stat().st_mtime_ns == before
    assert run(replay_cfg(replay_file, res, "task.scoring.timeout_seconds=7"))[1]["reused"] is True
    # resume=false and a new seed each make a new run
    run(replay_cfg(replay_file, res, "resume=false"))
    run(replay_cfg(replay_file, res, "sampling.seed=5"))
    assert len(runs(res)) == 3


def test_identity_has_engine_version_and_chat_template_not_grader(tmp_path, monkeypatch):
    from harness.runner import run_identity
    from harness.store import identity_hash

    model_dir = tmp_path / "m"
    model_dir.mkdir()
    (model_dir / "tokenizer_config.json").write_text(json.dumps({"chat_template": "A {{ messages }}"}))
    cfg = compose(f"model.path={model_dir}", "model.tiny=null")

    def ident(c):
        return identity_hash({**run_identity(c), **reuse.identity_extras(c)})

    base = ident(cfg)
    graded = compose(f"model.path={model_dir}", "model.tiny=null", "task.scoring.timeout_seconds=9", "scoring.workers=3")
    assert ident(graded) == base
    assert ident(compose(f"model.path={model_dir}", "model.tiny=null", "backend.data_parallel_size=2",
                         "backend.tensor_parallel_size=2")) == base
    assert ident(compose(f"model.path={model_dir}", "model.tiny=null", "sampling.max_tokens=65")) != base
    (model_dir / "tokenizer_config.json").write_text(json.dumps({"chat_template": "B {{ messages }}"}))
    assert ident(cfg) != base
    changed = ident(cfg)
    monkeypatch.setattr(reuse, "engine_version", lambda backend: "vllm==99.0")
    assert ident(cfg) != changed
    assert reuse.scoring_identity(graded) != reuse.scoring_identity(cfg)


# -- studies ------------------------------------------------------------------------------------
def test_study_expands_to_one_run_per_seed():
    runs_ = study.expand(compose("sampling.seeds=[0,1,2]"))
    assert [c["sampling"]["seed"] for c in runs_] == [0, 1, 2]
    assert [c["backend"]["seed"] for c in runs_] == [0, 1, 2]
    assert len({c["study"]["id"] for c in runs_}) == 1
    rep = study.expand(compose("repeats=3", "sampling.seed=4"))
    assert [c["sampling"]["seed"] for c in rep] == [4, 5, 6]
    assert study.expand(compose())[0].get("study") is None
    for bad in (["sampling.seeds=[0,0]"], ["repeats=0"], ["repeats=2", "sampling.seeds=[1,2]"],
                ["sampling.seeds=[0,1]", "shard=0/2"]):
        with pytest.raises(ConfigError):
            study.expand(compose(*bad))


def test_study_runs_share_an_id_and_reuse_single_runs(tmp_path, replay_file):
    res = tmp_path / "r"
    single, _ = run(replay_cfg(replay_file, res, "sampling.seed=1"))
    results = study.run_all(replay_cfg(replay_file, res, "sampling.seeds=[0,1,2]"))
    assert len(results) == 3 and len(runs(res)) == 3
    assert results[1][0].path == single.path and results[1][1]["reused"] is True
    ids = {json.loads((s.path / "manifest.json").read_text())["study"]["id"] for s, _ in results}
    assert len(ids) == 1
    assert study.spread(results)["runs"] == 3


# -- prompts that do not fit --------------------------------------------------------------------
def _req(n=2, max_tokens=50):
    params = SamplingParams(k=n, temperature=0.6, top_p=0.95, max_tokens=max_tokens, seed=0)
    return Request(problem_id="p", messages=[], samples=tuple(range(n)), params=params, seed=1)


def test_fit_records_or_clamps():
    fit = Fit(100, "error")
    assert fit.max_tokens(_req(), 50) == 50
    assert fit.max_tokens(_req(), 51) is None
    errs = fit.errored(_req(), 51)
    assert [c.finish_reason for c in errs] == [TOO_LONG] * 2 and "51" in errs[0].error
    assert fit.usage() == {"prompt_too_long": 2, "prompt_too_long_ids": ["p"]}
    clamp = Fit(100, "clamp")
    assert clamp.max_tokens(_req(), 70) == 30
    assert clamp.max_tokens(_req(), 100) is None  # no room at all
    assert clamp.usage()["max_tokens_clamped"] == 2 and clamp.usage()["prompt_too_long"] == 2
    assert Fit(None, "error").max_tokens(_req(), 10**6) == 50


def test_too_long_samples_score_as_errors_and_are_not_retried(tmp_path):
    from harness.store import RunStore
    from harness.types import Completion

    store = RunStore(tmp_path)
    with store.sample_writer() as w:
        for c in Fit(10, "error").errored(_req(), 20):
            w.write(c)
        w.write(Completion(problem_id="q", sample=0, text="", finish_reason="error", error="HTTP 500"))
    assert dict(store.sample_index()) == {"p": {0, 1}}  # recorded for good; API errors are retried
    cfg = compose()
    from harness.runner import prompt_config
    from harness.tasks import build_task

    task = build_task(cfg["task"], prompt_config(cfg))
    score = task.score(Problem(id="p", inputs={}, reference="1"), Fit(10, "error").errored(_req(), 20)[0])
    assert score.reason == "error" and not score.correct


# -- data parallel device sets ------------------------------------------------------------------
def test_device_sets(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3,4,5,6,7")
    assert device_sets(2, 4, cpu=False) == [{"CUDA_VISIBLE_DEVICES": "0,1,2,3"}, {"CUDA_VISIBLE_DEVICES": "4,5,6,7"}]
    assert device_sets(8, 1, cpu=False)[7] == {"CUDA_VISIBLE_DEVICES": "7"}
    with pytest.raises(ConfigError, match="data_parallel_size"):
        device_sets(3, 4, cpu=False)
    monkeypatch.delenv("VLLM_CPU_OMP_THREADS_BIND", raising=False)
    import os

    cores = sorted(os.sched_getaffinity(0))
    sets = device_sets(len(cores), 1, cpu=True)
    assert [s["VLLM_CPU_OMP_THREADS_BIND"] for s in sets] == [str(c) for c in cores]
    with pytest.raises(ConfigError, match="data_parallel_size"):
        device_sets(len(cores) + 1, 1, cpu=True)
    monkeypatch.setenv("VLLM_CPU_OMP_THREADS_BIND", "0-3|4-7")
    assert device_sets(2, 1, cpu=True) == [{"VLLM_CPU_OMP_THREADS_BIND": "0-3"}, {"VLLM_CPU_OMP_THREADS_BIND": "4-7"}]


# -- multi-node models --------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["deepseek-r1", "deepseek-v3", "deepseek-r1-zero"])
def test_two_node_configs_use_ray_with_tp8_pp2_and_keep_the_identity(model):
    from harness.backends.vllm import VLLMBackend
    from harness.runner import run_identity

    two = compose(f"model={model}-2node", "task=aime24", "sampling=r1")
    one = compose(f"model={model}", "task=aime24", "sampling=r1")
    assert two["model"]["name"] == one["model"]["name"] == model
    args = VLLMBackend(two["backend"], two["model"]).engine_args()
    assert (args["tensor_parallel_size"], args["pipeline_parallel_size"]) == (8, 2)
    assert args["distributed_executor_backend"] == "ray"
    single = VLLMBackend(one["backend"], one["model"]).engine_args()
    assert single["tensor_parallel_size"] == 8 and "pipeline_parallel_size" not in single
    assert "distributed_executor_backend" not in single
    # the single 8 x H200 node on Ray, as an override
    ray1 = compose(f"model={model}", "model.distributed_executor_backend=ray")
    assert VLLMBackend(ray1["backend"], ray1["model"]).engine_args()["distributed_executor_backend"] == "ray"
    assert run_identity(two) == run_identity(one)  # a run resumes on either layout


def test_ray_cluster_dry_run_prints_the_commands():
    import subprocess
    import sys

    from conftest import ROOT

    proc = subprocess.run([sys.executable, "-m", "harness", "ray-cluster", "--dry-run", "--nodes", "gpu-a01,gpu-a02",
                           "--", "model=deepseek-r1-2node", "task=aime24", "sampling=r1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "2 nodes x 8 GPUs for deepseek-r1 (16 GPUs)" in lines[0]
    assert lines[1] == ("srun --nodes=1 --ntasks=1 --overlap -w gpu-a01 ray start --head --node-ip-address=gpu-a01 "
                        "--port=6379 --num-gpus=8 --block &")
    assert lines[2] == "srun --nodes=1 --ntasks=1 --overlap -w gpu-a02 ray start --address=gpu-a01:6379 --num-gpus=8 --block &"
    assert "'/16.0 GPU'" in lines[3]
    assert lines[4].startswith("env RAY_ADDRESS=gpu-a01:6379 ") and lines[4].endswith(
        "-m harness model=deepseek-r1-2node task=aime24 sampling=r1")
    assert [ln.split(" -w ")[1] for ln in lines[5:]] == ["gpu-a01 ray stop --force", "gpu-a02 ray stop --force"]
    # one 8-GPU node is not enough for tensor 8 x pipeline 2
    short = subprocess.run([sys.executable, "-m", "harness", "ray-cluster", "--dry-run", "--nodes", "gpu-a01",
                            "--", "model=deepseek-r1-2node"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert short.returncode != 0 and "needs 16 GPUs" in short.stderr


def test_slurm_scripts_pass_the_shard_and_the_overrides():
    from conftest import ROOT

    shards_script = (ROOT / "scripts" / "slurm" / "shards.sbatch").read_text()
    assert 'shard=${SLURM_ARRAY_TASK_ID}/${N}' in shards_script and '"$@"' in shards_script
    ray_script = (ROOT / "scripts" / "slurm" / "ray_cluster.sbatch").read_text()
    assert "#SBATCH --nodes=2" in ray_script and "ray-cluster" in ray_script


def test_finalising_is_exclusive_and_folds_late_shard_records(tmp_path):
    from harness.store import RunStore

    store = RunStore.create(tmp_path, "m", "t", "abc")
    store.write_manifest({"identity": "abc", "status": "running", "invocations": []})
    s0, s1 = shards.Shard(0, 2), shards.Shard(1, 2)
    for s in (s0, s1):
        with shards.sample_writer(store, s) as w:
            from harness.types import Completion

            w.write(Completion(problem_id=f"p{s.index}", sample=0, text="x", finish_reason="stop"))
    shards.record_invocation(store, s0, {"started": "1", "shard": "0/2", "outcome": "shard_complete"})
    assert shards.try_finalize(store, s0)
    assert not shards.shard_files(store.path) and len(read_jsonl(store.samples_path)) == 2
    held = shards._LOCKS.pop(store.path)  # as if held by another process: same lock, another descriptor
    try:
        assert not shards.try_finalize(RunStore(store.path), s1)  # taken: no waiting, no second scorer
        # a shard that recorded itself while the finaliser was scoring is folded before completion
        shards.record_invocation(store, s1, {"started": "2", "shard": "1/2", "outcome": "shard_complete"})
        shards.fold_records(store)
        assert [i["shard"] for i in store.read_manifest()["invocations"]] == ["0/2", "1/2"]
        assert not list(store.path.glob("shard-*.json"))
        store.update_manifest(status="complete")
    finally:
        held.close()
    assert not shards.try_finalize(RunStore(store.path), s1)  # finalised already: nothing to redo
