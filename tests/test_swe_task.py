"""The swebench task family on swe_mini: loading, prompts, context cutting, scoring, metrics, and
the replay of SWE-bench predictions files (gold, empty, malicious) through the whole pipeline."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
from pathlib import Path

import pytest

from harness.swe import Instance
from harness.swe.repos import RepoStore, build_repo_from_dir
from harness.tasks import build_task
from harness.tasks.swebench import bm25_rank, swe_metrics
from harness.types import Completion, Score

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "swe_mini" / "instances.jsonl"
ROWS = [json.loads(line) for line in DATA.read_text().splitlines()]


@pytest.fixture(scope="module")
def work():
    d = Path(tempfile.mkdtemp(prefix="harness-swe-test-"))
    os.chmod(d, 0o711)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def task_cfg(work: Path, **over):
    cfg = {
        "name": "swe_mini", "family": "swebench", "data_files": str(DATA),
        "repo_cache": str(work / "repos"), "repo_source": str(ROOT / "data" / "swe_mini" / "repos"),
        "context": {"mode": "oracle"},
        "executor": {"kind": "local", "work_root": str(work),
                     "envs": {"root": str(work / "envs"), "auto_build": True},
                     "limits": {"timeout": 30, "cpu_seconds": 30, "nproc": 64, "address_space": "2GiB"}},
    }
    cfg.update(over)
    return cfg


def test_mini_benchmark_shape():
    assert len(ROWS) >= 8
    for r in ROWS:
        inst = Instance.from_row(r)  # hub schema: test lists are JSON-encoded strings
        assert isinstance(r["FAIL_TO_PASS"], str) and inst.fail_to_pass and inst.pass_to_pass
        assert inst.patch.startswith("diff --git") and inst.test_patch.startswith("diff --git")
        assert not set(inst.fail_to_pass) & set(inst.pass_to_pass)
    multi_file = [r for r in ROWS if r["patch"].count("diff --git") > 1]
    assert multi_file, "one instance needs a multi-file fix"


def test_base_commits_are_reproducible(tmp_path):
    for r in ROWS[:3]:
        name = r["repo"].split("/")[1]
        sha = build_repo_from_dir(ROOT / "data" / "swe_mini" / "repos" / name, tmp_path / name)
        assert sha == r["base_commit"]


def test_instance_accepts_real_lists():
    row = dict(ROWS[0], FAIL_TO_PASS=["a::b"], PASS_TO_PASS=[])
    inst = Instance.from_row(row)
    assert inst.fail_to_pass == ("a::b",) and inst.pass_to_pass == ()
    assert json.loads(inst.to_row()["FAIL_TO_PASS"]) == ["a::b"]


def test_load_and_prompt(work):
    task = build_task(task_cfg(work), {"template": "{problem}", "system": "Be brief."})
    problems = task.load()
    assert [p.id for p in problems] == [r["instance_id"] for r in ROWS]
    assert task.source["fingerprint"].startswith("sha256:")
    msgs = task.prompt(problems[0])
    assert msgs[0] == {"role": "system", "content": "Be brief."}
    user = msgs[1]["content"]
    assert ROWS[0]["problem_statement"].strip()[:40] in user
    assert "[start of chunked/core.py]" in user and "1 def chunk(seq, size):" in user
    assert "<patch>" in user and "</patch>" in user
    ledger = next(p for p in problems if "ledger" in p.id)
    assert ledger.meta["context"]["files"] == ["ledger/format.py", "ledger/parse.py"]


def test_context_is_cut_to_the_window_and_recorded(work):
    from harness.modelpath import resolve_model_path
    from harness.tiny_model import ensure_tiny_model  # noqa: F401  (built on demand below)

    path = resolve_model_path({"path": str(ROOT / ".cache" / "tiny-llama"), "tiny": {"seed": 0}})
    ctx = {"mode": "oracle", "tokenizer": path, "max_model_len": 700, "max_new_tokens": 64}
    task = build_task(task_cfg(work, context=ctx), {"template": "{problem}"})
    problems = task.load()
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    for p in problems:
        c = p.meta["context"]
        assert c["tokens"] <= c["budget"] == 700 - 64 - 16
        ids = tok.apply_chat_template(task.prompt(p), tokenize=True, add_generation_prompt=True)
        ids = ids["input_ids"] if hasattr(ids, "keys") else ids
        assert len(ids) == c["tokens"]
    cut = [p for p in problems if p.meta["context"]["cut_file"] or p.meta["context"]["dropped"]]
    assert cut, "a 700-token window must cut some context"
    c = cut[0].meta["context"]["cut_file"]
    if c:
        assert f"(cut after line {c['kept_lines']})" in cut[0].inputs["problem"]
    stats = task.extra_metrics([])["swe"]["context"]
    assert stats["instances_cut"] == len(cut)


def test_bm25_retrieval(work):
    docs = {"pkg/cache.py": "class LRUCache:\n    def get(self, key): ...", "pkg/money.py": "def parse_amount(text): ..."}
    assert bm25_rank("LRUCache evicts entries that were read with get", docs)[0][0] == "pkg/cache.py"
    task = build_task(task_cfg(work, context={"mode": "bm25", "bm25_top_k": 3}), {"template": "{problem}"})
    problems = {p.id: p for p in task.load()}
    assert "lru/cache.py" in problems["swe-mini__lru-1"].meta["context"]["files"]


def test_score_and_pickle(work):
    task = build_task(task_cfg(work), {"template": "{problem}"})
    problems = {p.id: p for p in task.load()}
    p = problems["swe-mini__slugs-1"]
    gold = p.reference["patch"]
    clone = pickle.loads(pickle.dumps(task))  # what the scoring workers receive
    s = clone.score(p, Completion(p.id, 0, f"<think>hmm</think>Here you go\n<patch>\n{gold}</patch>", "stop"))
    assert s.correct and s.reason == "ok" and "F2P 2/2" in s.extracted
    s = task.score(p, Completion(p.id, 1, "no idea", "length"))
    assert not s.correct and s.reason == "no_patch" and "truncated" in s.extracted
    s = task.score(p, Completion(p.id, 2, "", "error", error="boom"))
    assert s.reason == "error"


def test_metrics():
    scores = [
        Score("a", 0, True, "", "ok"), Score("a", 1, False, "", "ok"),
        Score("b", 0, False, "", "rejected_traversal"), Score("b", 1, False, "", "timeout"),
        Score("c", 0, False, "", "apply_failed"), Score("c", 1, False, "", "no_patch"),
    ]
    m = swe_metrics(scores, n_instances=4)
    assert m["resolved"] == pytest.approx(0.5 / 4)  # d has no sample: unresolved
    assert m["resolved_se_generation"] == pytest.approx((0.25 / 2) ** 0.5 / 4)
    swe = m["swe"]
    assert (swe["applied"], swe["rejected"], swe["apply_failed"], swe["no_patch"], swe["timed_out"]) == (3, 1, 1, 1, 1)
    assert swe["instances_without_samples"] == 1 and swe["rejected_by_reason"] == {"rejected_traversal": 1}


# --- replay of SWE-bench predictions through the whole pipeline -------------------------------


def _run(work: Path, preds: Path, results: Path) -> dict:
    from harness.runner import run_eval

    cfg = {
        "model": {"name": "preds", "path": "unused", "max_model_len": None, "prompt": {}},
        "task": task_cfg(work),
        "backend": {"name": "replay", "path": str(preds)},
        "sampling": {"name": "greedy", "k": 1, "temperature": 0.0, "top_p": 1.0, "max_tokens": 16, "seed": 0},
        "results_dir": str(results), "resume": False, "progress": False, "scoring": {"workers": 2},
    }
    store, m = run_eval(cfg)
    assert json.loads((store.path / "metrics.json").read_text())["resolved"] == m["resolved"]
    return m


def test_replay_gold_empty_and_malicious_predictions(work, tmp_path):
    gold = [{"instance_id": r["instance_id"], "model_name_or_path": "gold", "model_patch": r["patch"]} for r in ROWS]
    (tmp_path / "gold.json").write_text(json.dumps(gold))  # JSON list (SWE-agent style)
    m = _run(work, tmp_path / "gold.json", tmp_path / "r1")
    assert m["resolved"] == 1.0 and m["swe"]["applied"] == len(ROWS)

    empty = {r["instance_id"]: {"model_name_or_path": "empty", "model_patch": ""} for r in ROWS}
    (tmp_path / "empty.json").write_text(json.dumps(empty))  # JSON dict keyed by id (mini-swe-agent style)
    m = _run(work, tmp_path / "empty.json", tmp_path / "r2")
    assert m["resolved"] == 0.0 and m["swe"]["no_patch"] == len(ROWS)

    evil = [
        "diff --git a/../outside b/../outside\nnew file mode 100644\n--- /dev/null\n+++ b/../outside\n@@ -0,0 +1 @@\n+x\n",
        "--- /dev/null\n+++ /etc/harness-evil\n@@ -0,0 +1 @@\n+x\n",
        "diff --git a/l b/l\nnew file mode 120000\n--- /dev/null\n+++ b/l\n@@ -0,0 +1 @@\n+/\n",
        "diff --git a/.git/hooks/pre-commit b/.git/hooks/pre-commit\nnew file mode 100755\n--- /dev/null\n"
        "+++ b/.git/hooks/pre-commit\n@@ -0,0 +1 @@\n+#!/bin/sh\n",
    ]
    with open(tmp_path / "evil.jsonl", "w") as f:  # JSONL (Agentless style)
        for r, patch in zip(ROWS, evil + [ROWS[i]["patch"] for i in range(len(evil), len(ROWS))], strict=True):
            f.write(json.dumps({"instance_id": r["instance_id"], "model_name_or_path": "evil", "model_patch": patch}) + "\n")
    m = _run(work, tmp_path / "evil.jsonl", tmp_path / "r3")
    assert m["swe"]["rejected_by_reason"] == {"rejected_absolute_path": 1, "rejected_git_dir": 1,
                                              "rejected_symlink": 1, "rejected_traversal": 1}
    assert m["resolved"] == pytest.approx((len(ROWS) - 4) / len(ROWS))  # the other instances still resolve
    assert not Path("/etc/harness-evil").exists() and not (work / "outside").exists()


def test_replay_keeps_plain_completions(tmp_path):
    from harness.backends.replay import ReplayBackend
    from harness.types import Problem

    f = tmp_path / "c.jsonl"
    f.write_text(json.dumps({"id": "p1", "completion": "42"}) + "\n")
    b = ReplayBackend({"path": str(f)}, {})
    assert b.plan([Problem("p1", {}, None)], 1) == {"p1": 1}
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps([{"id": "p1", "completion": "x"}]))
    from harness.errors import DataError

    with pytest.raises(DataError, match="SWE-bench predictions"):
        ReplayBackend({"path": str(bad)}, {}).plan([Problem("p1", {}, None)], 1)


def test_validate_command_on_swe_mini(work, capsys):
    from harness.swe.validate import run

    code = run("swe_mini", [f"task.repo_cache={work / 'repos'}", f"task.executor.work_root={work}",
                            f"task.executor.envs.root={work / 'envs'}"], 2,
               ["swe-mini__chunked-1", "swe-mini__ledger-1"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2/2 (100%)" in out and "0/2 (0%)" in out


def test_repo_store_needs_a_cache():
    from harness.errors import ConfigError

    with pytest.raises(ConfigError, match="task.repo_cache"):
        RepoStore(None).path("django/django")


def test_docker_run_without_harness_fields_stops_before_generating(work, monkeypatch):
    import harness.swe.executors.docker as dk
    from harness.errors import ConfigError

    monkeypatch.setattr(dk, "check_docker", lambda: None)  # no engine here; the data check comes next
    cfg = task_cfg(work, executor={"kind": "docker", "docker": {"dataset_name": None}})
    with pytest.raises(ConfigError, match="swe-mini__.*no image, eval_script, log_parser, eval_type"):
        build_task(cfg, {"template": "{problem}"}).load()
    cfg = task_cfg(work, executor={"kind": "docker", "docker": {"dataset_name": "SWE-bench/SWE-bench_Verified"}},
                   limit=1)
    assert len(build_task(cfg, {"template": "{problem}"}).load()) == 1
