"""Bad inputs and faults a new user runs into, each answered by one clear line or a recorded
failure: never a hang, a traceback, or a silent wrong number.

Cheap by construction: the replay backend, the scripted OpenAI-compatible server and small
fixtures; no inference engine. Cases that need the real command line run `python -m harness`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import MATH_SAMPLE, ROOT, only_run, read_jsonl, run_harness
from fake_openai_server import FakeOpenAI

from harness.compose import compose
from harness.config import parse
from harness.errors import ConfigError, DataError, HarnessError
from harness.runner import NothingScoredError, run_eval
from harness.store import REDACTED, RunStore, redact

ROWS = [json.loads(line) for line in MATH_SAMPLE.read_text().splitlines() if line.strip()]


def one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """The command failed with an ERROR line holding every needle, and no traceback."""
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-2000:]
    assert "Traceback" not in out, out[-4000:]
    lines = [line for line in out.splitlines() if "ERROR" in line or line.startswith("error")]
    assert lines, out[-2000:]
    assert all(n in " ".join(lines) for n in needles), lines
    return lines[0]


def replay_file(path: Path, per_problem: int, rows=ROWS, right: bool = True) -> Path:
    with open(path, "w") as f:
        for r in rows:
            for _ in range(per_problem):
                ans = r["answer"] if right else "nonsense"
                f.write(json.dumps({"id": r["unique_id"], "completion": f"So \\boxed{{{ans}}}."}) + "\n")
    return path


def replay_cfg(tmp_path: Path, outs: Path, *extra: str) -> dict:
    return compose(["backend=replay", f"backend.path={outs}", f"results_dir={tmp_path / 'results'}",
                    "progress=false", "scoring.workers=1", *extra])


# -- 1. a repetition loop of unclosed \boxed{ must not make extraction quadratic ----------------------

def test_1_boxed_repetition_loop_is_extracted_in_bounded_time():
    # 2 MB of unclosed \boxed{ (a degenerate completion): run in a child so a hang cannot stall the
    # suite; the child must finish and find no answer.
    code = ("from harness.scoring.math import extract_answer\n"
            "text = 'The answer is \\\\boxed{' + 'x \\\\boxed{' * 250_000\n"
            "assert len(text) > 2_000_000\n"
            "print(extract_answer(text).answer)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "None"


# -- 2. rows without an answer are a data error naming the row, never graded against 'None' ---------

def test_2_row_without_answer_is_a_data_error_naming_the_row(tmp_path):
    rows = [dict(r) for r in ROWS[:3]]
    rows[1]["answer"] = None
    data = tmp_path / "math.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    outs = replay_file(tmp_path / "outs.jsonl", 1, rows=[{**r, "answer": "None"} for r in rows])
    with pytest.raises(DataError, match=rf"row 1 \(id '{rows[1]['unique_id']}'\) has an empty 'answer'"):
        run_eval(replay_cfg(tmp_path, outs, f"task.data_files={data}"))
    assert not (tmp_path / "results" / "runs").exists()  # nothing was created

    # a row without the field (JSON readers fill it with null) or with a blank answer: the same error
    for broken in ({k: v for k, v in rows[1].items() if k != "answer"}, {**rows[1], "answer": "  "}):
        data.write_text("".join(json.dumps(r) + "\n" for r in (rows[0], broken, rows[2])))
        with pytest.raises(DataError, match=r"row 1 \(id .*\) has an empty 'answer'"):
            run_eval(replay_cfg(tmp_path, outs, f"task.data_files={data}"))


# -- 3. a total API failure exits non-zero, says nothing was scored, and the nightly job flags it ----

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


DEAD_SERVER = ["backend=openai", "backend.check_model=false", "backend.max_retries=0", "task.limit=2",
               "sampling.k=1", "sampling.temperature=0"]


def test_3_total_api_failure_exits_nonzero_and_says_nothing_was_scored(tmp_path):
    url = f"backend.base_url=http://127.0.0.1:{_free_port()}/v1"  # nothing listens there
    cfg = compose([*DEAD_SERVER, url, f"results_dir={tmp_path}", "progress=false", "scoring.workers=1"])
    with pytest.raises(NothingScoredError, match="nothing was scored: all 2 samples"):
        run_eval(cfg)
    manifest = json.loads((only_run(tmp_path) / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"  # the same command retries the samples

    proc = run_harness(*DEAD_SERVER, url, f"results_dir={tmp_path / 'cli'}", check=False, timeout=300)
    assert proc.returncode == 3
    one_line_error(proc, "nothing was scored")


def test_3_nightly_flags_a_run_that_scored_nothing(tmp_path):
    plan = tmp_path / "plan.yaml"
    url = f"backend.base_url=http://127.0.0.1:{_free_port()}/v1"
    plan.write_text(json.dumps({"runs": [{"name": "dead-api", "model": "tiny-llama", "task": "math500_sample",
                                          "backend": "openai", "args": [*DEAD_SERVER[1:], url]}]}))
    proc = subprocess.run([sys.executable, "-m", "harness", "nightly", "--plan", str(plan), "--no-report",
                           "--results-dir", str(tmp_path / "results")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1
    assert "nothing scored: dead-api" in proc.stdout
    assert "NOTHING SCORED" in proc.stderr


# -- 4. a run directory is locked while a command works on it --------------------------------------

def _hold_lock(lock: Path) -> subprocess.Popen:
    code = ("import fcntl, os, sys, time\n"
            f"f = open({str(lock)!r}, 'a+')\n"
            "fcntl.flock(f.fileno(), fcntl.LOCK_EX)\n"
            "f.seek(0); f.truncate(); f.write(f'process {os.getpid()} (test)'); f.flush()\n"
            "print('locked', flush=True)\n"
            "time.sleep(600)\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "locked"
    return p


def test_4_second_command_on_a_locked_run_refuses_naming_run_and_pid(tmp_path):
    outs = replay_file(tmp_path / "outs.jsonl", 4, rows=ROWS[:3])
    cfg = replay_cfg(tmp_path, outs, "task.limit=3")
    store, _ = run_eval(cfg)
    m = json.loads(store.manifest_path.read_text())
    m["status"] = "running"  # as a first command still working on it would leave it
    store.manifest_path.write_text(json.dumps(m))
    holder = _hold_lock(store.lock_path)
    try:
        with pytest.raises(HarnessError, match=rf"run {store.run_id} is in use by process {holder.pid}"):
            run_eval(cfg)
    finally:
        holder.kill()  # kill -9: the OS releases the lock with the process
        holder.wait()
    store2, m2 = run_eval(cfg)  # resumes the same run now
    assert store2.path == store.path
    pairs = [(s["id"], s["sample"]) for s in read_jsonl(store.samples_path)]
    assert len(pairs) == len(set(pairs)) == 12 and m2["samples"] == 12


# -- 5. task.limit and unknown keys are validated against the schema -------------------------------

@pytest.mark.parametrize("value, shown", [("abc", "'abc'"), ("0", "0"), ("-1", "-1"), ("2.5", "2.5")])
def test_5_task_limit_must_be_a_positive_whole_number(value, shown):
    with pytest.raises(ConfigError, match=rf"^config error at `task.limit`: must be a whole number >= 1 .*got {shown}$"):
        parse(compose([f"task.limit={value}"]))


def test_5_task_limit_null_means_all_and_n_the_first_n(tmp_path):
    outs = replay_file(tmp_path / "outs.jsonl", 1, rows=ROWS[:2])
    assert parse(replay_cfg(tmp_path, outs)).task.limit is None
    _, m = run_eval(replay_cfg(tmp_path, outs, "task.limit=2", "sampling.k=1", "sampling.temperature=0"))
    assert m["problems"] == 2


@pytest.mark.parametrize("override, message", [
    ("+sampling.temprature=0.5", "sampling.temprature`: unknown key (did you mean temperature?)"),
    ("+task.limt=5", "task.limt`: unknown key (did you mean limit?)"),
    ("+backend.max_inflight=8", "backend.max_inflight`: unknown key (did you mean max_inflight_samples?)"),
    ("+model.max_model_length=4096", "model.max_model_length`: unknown key (did you mean max_model_len?)"),
    ("+resme=false", "resme`: unknown key (did you mean resume?)"),
])
def test_5_unknown_keys_are_rejected_with_the_nearest_valid_one(override, message):
    with pytest.raises(ConfigError) as e:
        parse(compose([override]))
    assert str(e.value).endswith(message)


def test_5_on_the_command_line_it_is_one_line(tmp_path):
    proc = run_harness("+sampling.temprature=0.5", f"results_dir={tmp_path}", check=False, timeout=300)
    assert proc.returncode == 2
    one_line_error(proc, "sampling.temprature", "did you mean temperature?")
    proc = run_harness("task.limit=abc", f"results_dir={tmp_path}", check=False, timeout=300)
    one_line_error(proc, "task.limit", "'abc'")
    assert not (tmp_path / "runs").exists()


# -- 6. a missing local model path fails before any engine starts, with no run left behind ----------

def test_6_missing_local_model_path_fails_before_the_engine(tmp_path):
    cfg = compose(["model.tiny=null", f"model.path={tmp_path / 'no-such-model'}", f"results_dir={tmp_path}"])
    with pytest.raises(ConfigError, match=r"^config error at `model.path`: .*no-such-model: no such directory"):
        run_eval(cfg)
    assert not (tmp_path / "runs").exists()
    # the check imports no engine
    proc = subprocess.run([sys.executable, "-c",
                           "import sys\nfrom harness.compose import compose\nfrom harness.config import parse\n"
                           "try:\n    parse(compose(['model.tiny=null', 'model.path=./missing']))\n"
                           "except Exception as e:\n    print(type(e).__name__, 'vllm' in sys.modules)\n"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.stdout.strip() == "ConfigError False", proc.stderr[-2000:]


def test_6_offline_hub_model_not_in_cache_fails_before_the_engine(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = compose(["model=r1-distill-qwen-1.5b", "model.path=nobody-here/no-such-model", f"results_dir={tmp_path}"])
    with pytest.raises(ConfigError, match="not in the local hub cache and HF_HUB_OFFLINE is set"):
        parse(cfg)


# -- 7. replay files: more samples than k are cut to k; an empty file is an error --------------------

def test_7_replay_with_more_samples_than_k_keeps_k(tmp_path, caplog):
    outs = replay_file(tmp_path / "outs.jsonl", 6)
    store, m = run_eval(replay_cfg(tmp_path, outs, "sampling.k=4"))
    assert "more samples than sampling.k=4 (up to 6)" in caplog.text
    assert m["samples_per_problem"] == {"min": 4, "max": 4} and m["k"] == 4
    manifest = json.loads(store.manifest_path.read_text())
    assert manifest["protocol"]["k"] == 4 and manifest["backend"]["problems_cut_to_k"] == len(ROWS)
    assert len(read_jsonl(store.samples_path)) == 4 * len(ROWS)


def test_7_empty_replay_file_is_an_error_not_a_complete_run(tmp_path):
    outs = tmp_path / "empty.jsonl"
    outs.write_text("")
    with pytest.raises(DataError, match="empty.jsonl: no completions in the file"):
        run_eval(replay_cfg(tmp_path, outs))
    assert not (tmp_path / "results" / "runs").exists()


# -- 8. Ctrl-C during generation: one line, and the run marked interrupted -------------------------

def test_8_ctrl_c_during_generation_prints_one_line_and_marks_the_run(tmp_path):
    with FakeOpenAI(answers={r["problem"]: r["answer"] for r in ROWS}) as fake:
        fake.push("ok", "hold", "hold", "hold")
        cmd = [sys.executable, "-m", "harness", "backend=openai", f"backend.base_url={fake.base_url}",
               "backend.concurrency=1", "backend.n_per_request=false", "task.limit=4", "sampling.k=1",
               "sampling.temperature=0", f"results_dir={tmp_path}", "progress=false"]
        p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            for _ in range(1200):  # until the first completion is on disk (at most ~2 minutes)
                runs = list((tmp_path / "runs").glob("*/samples.jsonl"))
                if runs and runs[0].read_text().count("\n") >= 1:
                    break
                assert p.poll() is None, p.communicate()
                time.sleep(0.1)
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
            fake.release()
    assert p.returncode == 130
    assert "Traceback" not in out + err, err[-4000:]
    errors = [line for line in (out + err).splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "interrupted: run" in errors[0] and "the same command resumes it" in errors[0], errors
    manifest = json.loads(next((tmp_path / "runs").glob("*/manifest.json")).read_text())
    assert manifest["status"] == "interrupted"
    assert manifest["invocations"][-1]["outcome"] == "interrupted"


# -- 9. `make report` names unreadable runs in the leaderboard and on the console -------------------

def test_9_report_names_unreadable_runs(tmp_path, caplog):
    from harness import report

    outs = replay_file(tmp_path / "outs.jsonl", 1, rows=ROWS[:2])
    store, _ = run_eval(replay_cfg(tmp_path, outs, "task.limit=2", "sampling.k=1", "sampling.temperature=0"))
    store.metrics_path.write_text('{"pass@1": 0.5, ')  # cut short
    report.main(["--results-dir", str(tmp_path / "results"), "--no-plots"])
    board = (tmp_path / "results" / "LEADERBOARD.md").read_text()
    assert "Unreadable runs, left out:" in board
    assert f"- `{store.run_id}`: metrics.json: unreadable" in board
    assert f"skipped run {store.run_id} (unreadable): metrics.json: unreadable" in caplog.text


# -- 10. config.yaml keeps max_tokens; secrets are never written ------------------------------------

def test_10_redaction_keeps_protocol_fields_and_drops_secrets():
    cfg = {"sampling": {"max_tokens": 32768, "max_new_tokens": 5}, "model": {"eos_token": "</s>"},
           "backend": {"api_key": "sk-1", "api_key_env": "OPENAI_API_KEY", "hf_token": "hf_x", "token": "t",
                       "auth_token": "a", "headers": {"Authorization": "Bearer b"}, "password": "p",
                       "client_secret": "s"}}
    out = redact(cfg)
    assert out["sampling"] == cfg["sampling"] and out["model"] == cfg["model"]
    b = out["backend"]
    assert b["api_key_env"] == "OPENAI_API_KEY"  # the variable's name, not the key
    assert all(b[k] == REDACTED for k in ("api_key", "hf_token", "token", "auth_token", "password", "client_secret"))
    assert b["headers"]["Authorization"] == REDACTED


def test_10_config_snapshot_keeps_max_tokens(tmp_path):
    outs = replay_file(tmp_path / "outs.jsonl", 1, rows=ROWS[:1])
    store, _ = run_eval(replay_cfg(tmp_path, outs, "task.limit=1", "sampling.k=1", "sampling.temperature=0",
                                   "sampling.max_tokens=77"))
    text = store.config_path.read_text()
    assert "max_tokens: 77" in text and REDACTED not in text


# -- faults that were already answered, kept answered -----------------------------------------------

def test_kill_9_mid_generation_then_resume_without_duplicates(tmp_path):
    with FakeOpenAI(answers={r["problem"]: r["answer"] for r in ROWS}) as fake:
        fake.push("ok", "ok", "hold", "hold", "hold", "hold")
        args = ["backend=openai", f"backend.base_url={fake.base_url}", "backend.concurrency=1",
                "backend.n_per_request=false", "task.limit=3", "sampling.k=2", f"results_dir={tmp_path}",
                "progress=false"]
        p = subprocess.Popen([sys.executable, "-m", "harness", *args], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(1200):
                runs = list((tmp_path / "runs").glob("*/samples.jsonl"))
                if runs and runs[0].read_text().count("\n") >= 2:
                    break
                assert p.poll() is None
                time.sleep(0.1)
            p.kill()
            p.wait()
        finally:
            fake.release()
        run = only_run(tmp_path)
        assert json.loads((run / "manifest.json").read_text())["status"] == "running"
        with open(run / "samples.jsonl", "a") as f:
            f.write('{"id": "torn')  # as a kill mid-write leaves it
        proc = run_harness(*args, timeout=300)  # the lock died with the process
    assert "torn last line" in proc.stderr
    assert only_run(tmp_path) == run
    samples = read_jsonl(run / "samples.jsonl")
    assert sorted((s["id"], s["sample"]) for s in samples) == sorted(
        (r["unique_id"], i) for r in ROWS[:3] for i in range(2))
    assert json.loads((run / "manifest.json").read_text())["status"] == "complete"


def test_kill_9_mid_scoring_then_rescore(tmp_path):
    outs = replay_file(tmp_path / "outs.jsonl", 4)
    args = ["backend=replay", f"backend.path={outs}", f"results_dir={tmp_path}", "scoring.workers=2"]
    p = subprocess.Popen([sys.executable, "-m", "harness", *args, "progress=false"], cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(1200):  # generation (replay) done: scoring is under way
        runs = list((tmp_path / "runs").glob("*/samples.jsonl"))
        if runs and runs[0].read_text().count("\n") >= 4 * len(ROWS):
            break
        assert p.poll() is None
        time.sleep(0.05)
    p.kill()
    p.wait()
    run = only_run(tmp_path)
    if json.loads((run / "manifest.json").read_text())["status"] == "complete":
        pytest.skip("scoring finished before the kill")
    run_harness(*args, timeout=300)
    assert only_run(tmp_path) == run
    scores = read_jsonl(run / "scores.jsonl")
    assert len(scores) == 4 * len(ROWS) == len({(s["id"], s["sample"]) for s in scores})
    assert json.loads((run / "metrics.json").read_text())["pass@1"] == 1.0


def test_unknown_problem_id_in_replay_names_the_id_and_line(tmp_path):
    outs = replay_file(tmp_path / "outs.jsonl", 1, rows=ROWS[:2])
    with open(outs, "a") as f:
        f.write(json.dumps({"id": "no/such/problem.json", "completion": "\\boxed{1}"}) + "\n")
    with pytest.raises(DataError, match=r"outs.jsonl:3: problem id 'no/such/problem.json' is not in the dataset"):
        run_eval(replay_cfg(tmp_path, outs))


def test_pathological_latex_is_graded_or_timed_out_not_hung():
    from harness.tasks import build_task
    from harness.types import Completion

    cfg = compose(["task.limit=1"])
    task = build_task(cfg["task"], {"template": "{problem}"})
    problem = task.load()[0]
    for text in ("\\boxed{" + "\\frac{1}{" * 200 + "2" + "}" * 400 + "}",
                 "\\boxed{10^{10^{10^{10^{10}}}}}",
                 "\\boxed{\\left( \\right. \\sqrt[}",
                 "\\boxed{" + "x+" * 5000 + "1}"):
        s = task.score(problem, Completion(problem_id=problem.id, sample=0, text=text, finish_reason="stop"))
        # a tail of 200 surplus braces reads as a runaway repetition: no answer is as good as unparsed
        assert s.reason in ("ok", "unparsed", "timeout", "no_answer") and not s.correct


def test_run_records_round_trip_unknown_fields(tmp_path):
    outs = replay_file(tmp_path / "outs.jsonl", 1, rows=ROWS[:2])
    store, _ = run_eval(replay_cfg(tmp_path, outs, "task.limit=2", "sampling.k=1", "sampling.temperature=0"))
    raw = json.loads(store.manifest_path.read_text())
    raw["shards"] = {"of": 2}  # written by another version or tool
    store.manifest_path.write_text(json.dumps(raw))
    m = RunStore(store.path).load_manifest()
    assert m.extra == {"shards": {"of": 2}} and m.status == "complete"
    store.save_manifest(m)
    assert json.loads(store.manifest_path.read_text()) == raw
    metrics = store.read_metrics()
    assert metrics.get("pass@1") == 1.0 and metrics.problems_loaded == 2
    assert json.loads(store.metrics_path.read_text()) == metrics.to_json()


# -- replay and dataset files as other tools write them, and as they get damaged -------------------

@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe not text\n", r"bad.jsonl:1: not UTF-8 text"),
    (b'"just a string"\n', r"bad.jsonl:1: each line must be a JSON object"),
    (b'{"id": "sample/algebra/1.json", "completion": "x", "sample": "first"}\n',
     r"bad.jsonl:1: \"sample\" must be a whole number"),
    (b'{"id": "sample/algebra/1.json", "completion": {"text": "x"}}\n', r"bad.jsonl:1: the completion must be text"),
])
def test_damaged_replay_lines_are_data_errors_naming_the_line(tmp_path, content, message):
    outs = tmp_path / "bad.jsonl"
    outs.write_bytes(content)
    with pytest.raises(DataError, match=message):
        run_eval(replay_cfg(tmp_path, outs))


def test_null_completion_is_a_failed_sample_not_the_text_null(tmp_path):
    outs = replay_file(tmp_path / "outs.jsonl", 1, rows=ROWS[:2])
    with open(outs, "a") as f:
        f.write(json.dumps({"id": ROWS[2]["unique_id"], "completion": None}) + "\n")
    store, m = run_eval(replay_cfg(tmp_path, outs))
    samples = {s["id"]: s for s in read_jsonl(store.samples_path)}
    failed = samples[ROWS[2]["unique_id"]]
    assert failed["finish_reason"] == "error" and failed["text"] == "" and "null" in failed["error"]
    scores = {s["id"]: s for s in read_jsonl(store.path / "scores.jsonl")}
    assert scores[ROWS[2]["unique_id"]]["correct"] is False


def test_other_tools_finish_reasons_are_read(tmp_path, caplog):
    outs = tmp_path / "outs.jsonl"
    reasons = ["EOS", "max_tokens", "truncated", "weird-reason"]
    with open(outs, "w") as f:
        for r, why in zip(ROWS, reasons, strict=False):
            f.write(json.dumps({"id": r["unique_id"], "completion": f"So \\boxed{{{r['answer']}}}.",
                                "finish_reason": why}) + "\n")
    store, _ = run_eval(replay_cfg(tmp_path, outs))
    got = [s["finish_reason"] for s in read_jsonl(store.samples_path)]
    assert got == ["stop", "length", "length", "unknown"]
    assert "'weird-reason' is not one the harness knows" in caplog.text


def test_replay_path_that_is_a_directory_says_so(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        run_eval(replay_cfg(tmp_path, tmp_path))


@pytest.mark.parametrize("content, message", [
    (b"", r"the file is empty"),
    (b"\xff\xfe\n", r"could not read .* as json: 'utf-8' codec can't decode"),
])
def test_damaged_dataset_file_is_one_data_error(tmp_path, content, message):
    data = tmp_path / "problems.jsonl"
    data.write_bytes(content)
    outs = replay_file(tmp_path / "outs.jsonl", 1, rows=ROWS[:1])
    with pytest.raises(DataError, match=message):
        run_eval(replay_cfg(tmp_path, outs, f"task.data_files={data}"))


def test_dataset_as_csv_is_read(tmp_path):
    data = tmp_path / "problems.csv"
    data.write_text("unique_id,problem,answer\nq1,What is 2+3?,5\nq2,What is 2*3?,6\n")
    outs = tmp_path / "outs.jsonl"
    outs.write_text('{"id": "q1", "completion": "So \\\\boxed{5}."}\n{"id": "q2", "completion": "So \\\\boxed{7}."}\n')
    _, m = run_eval(replay_cfg(tmp_path, outs, f"task.data_files={data}"))
    assert m["pass@1"] == 0.5


# -- damaged run directories ---------------------------------------------------------------------

def _finished_run(tmp_path: Path) -> Path:
    outs = replay_file(tmp_path / "outs.jsonl", 2, rows=ROWS[:3])
    store, _ = run_eval(replay_cfg(tmp_path, outs))
    return store.path


def test_rescore_names_a_damaged_sample_line(tmp_path):
    from harness.rescore import rescore

    run = _finished_run(tmp_path)
    lines = (run / "samples.jsonl").read_text().splitlines(keepends=True)
    lines.insert(1, "{not json\n")
    (run / "samples.jsonl").write_text("".join(lines))
    for workers in (1, 2):
        with pytest.raises(DataError, match=r"samples.jsonl: the sample line at byte \d+ is unreadable"):
            rescore(run, workers=workers, progress=False)


def test_rescore_skips_a_torn_last_sample_line(tmp_path):
    from harness.rescore import rescore

    run = _finished_run(tmp_path)
    with open(run / "samples.jsonl", "a") as f:
        f.write('{"id": "sample/alg\n')  # a crash mid-write, newline and all
    out = rescore(run, workers=1, progress=False)
    assert len(read_jsonl(out)) == 6


def test_unreadable_manifest_is_one_error(tmp_path):
    from harness.rescore import rescore

    run = _finished_run(tmp_path)
    (run / "manifest.json").write_text("garbage")
    with pytest.raises(DataError, match="manifest.json: unreadable"):
        rescore(run, workers=1, progress=False)


def test_report_on_a_results_dir_under_a_missing_folder_is_an_error_not_a_new_tree(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "harness", "report", "--results-dir", str(tmp_path / "typo" / "res")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "does not exist, nor does its parent" in proc.stderr + proc.stdout
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize("argv, needle", [
    (["serve", "model=no-such-model", "--dry-run"], "Could not find 'model/no-such-model'"),
    (["plan", "model=no-such-model"], "Could not find 'model/no-such-model'"),
    (["lm-eval", "--tasks", "gsm8k", "--limit", "-3"], "--limit -3"),
    (["lm-eval", "--tasks", "gsm8k", "--model", "no-such-model"], "Could not find 'model/no-such-model'"),
])
def test_subcommands_answer_bad_arguments_in_one_line(argv, needle):
    proc = subprocess.run([sys.executable, "-m", "harness", *argv], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-2000:]
    assert "Traceback" not in out and needle in out, out[-2000:]
