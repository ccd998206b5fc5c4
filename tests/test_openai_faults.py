"""Faults, through the Hydra entry point (`python -m harness ... backend=openai`) against the scripted
server on 127.0.0.1: 429 with Retry-After, 5xx, dropped connections, slow answers, garbage; a
resume that fills in exactly the errored samples; hosted-API sampling rules; no key in any file."""

from __future__ import annotations

import json
import uuid
from collections import Counter

import pytest
from conftest import MATH_SAMPLE, only_run, read_jsonl, run_harness
from fake_openai_server import FakeOpenAI

PROBLEMS = [json.loads(line) for line in MATH_SAMPLE.read_text().splitlines() if line.strip()]
ANSWERS = {p["problem"]: p["answer"] for p in PROBLEMS}  # the fake server boxes the right answer
FAST_RETRIES = ["backend.backoff.base=0.02", "backend.backoff.max=0.1"]


@pytest.fixture
def fake():
    with FakeOpenAI(answers=ANSWERS) as f:
        yield f


def harness(fake: FakeOpenAI, tmp_path, *args: str, check: bool = True):
    return run_harness("backend=openai", f"backend.base_url={fake.base_url}", f"results_dir={tmp_path}",
                       *args, check=check, timeout=300)


def outcome(run):
    metrics = json.loads((run / "metrics.json").read_text())
    manifest = json.loads((run / "manifest.json").read_text())
    return metrics, manifest, read_jsonl(run / "samples.jsonl"), read_jsonl(run / "scores.jsonl")


def test_every_fault_is_retried_and_nothing_is_lost_or_duplicated(fake, tmp_path):
    faults = ["status:429:1", "status:500", "drop", "slow:5", "garbage", "status:503"]
    fake.push(*faults)
    harness(fake, tmp_path, "task.limit=5", "sampling.k=2", "backend.n_per_request=false",
            "backend.concurrency=2", "backend.timeout=1", *FAST_RETRIES)
    m, manifest, samples, scores = outcome(only_run(tmp_path))

    hits = fake.chat_hits()
    assert len(hits) == 10 + len(faults)
    assert Counter(h.action for h in hits)["ok"] == 10
    # every sample exactly once, all scored from the server's (correct) answers
    assert sorted((s["id"], s["sample"]) for s in samples) == sorted(
        (p["unique_id"], i) for p in PROBLEMS[:5] for i in range(2))
    assert all(s["finish_reason"] == "stop" for s in samples)
    assert m["samples"] == 10 and m["pass@1"] == 1.0 and m.get("error_rate", 0) == 0
    assert all(s["reason"] == "ok" for s in scores)

    u = m["usage"]
    assert u["requests"] == 16 and u["retries"] == 6 and u["errors"] == 0
    assert u["rate_limited"] == 1 and u["server_errors"] == 2
    assert u["connection_errors"] == 1 and u["timeouts"] == 1 and u["invalid_responses"] == 1
    assert u["backoff_seconds"] >= 1.0  # the Retry-After wait is in it
    assert manifest["invocations"][-1]["usage"]["retries"] == 6

    # Retry-After: the rate-limited call came back no sooner than the server asked
    limited = next(h for h in hits if h.action == "status:429:1")
    retry = next(h for h in hits if h.key == limited.key and h.arrived > limited.arrived)
    assert retry.arrived - limited.responded >= 1.0
    # every retried call was sent again with the same body (same seed: the same sample)
    for h in hits:
        if h.action != "ok":
            assert any(o.key == h.key and o.action == "ok" for o in hits)


def test_calls_that_keep_failing_become_errored_samples_and_a_resume_retries_exactly_those(fake, tmp_path):
    broken = {PROBLEMS[1]["problem"]: "status:500", PROBLEMS[2]["problem"]: "drop"}
    for text, action in broken.items():
        fake.rule(text, action)
    args = ["task.limit=4", "sampling.k=3", "backend.max_retries=2", *FAST_RETRIES]
    proc = harness(fake, tmp_path, *args)
    run = only_run(tmp_path)
    m, manifest, samples, scores = outcome(run)

    bad_ids = {PROBLEMS[1]["unique_id"], PROBLEMS[2]["unique_id"]}
    assert len(samples) == 12 and len({(s["id"], s["sample"]) for s in samples}) == 12
    errored = [s for s in samples if s["finish_reason"] == "error"]
    assert {s["id"] for s in errored} == bad_ids and len(errored) == 6
    assert all(s["text"] == "" and "gave up after 2 retries" in s["error"] for s in errored)
    assert any(s["error"].startswith("server_errors: HTTP 500") for s in errored)
    assert any(s["error"].startswith("connection_errors") for s in errored)
    # errored samples are reported as errors, not as wrong answers
    assert Counter(s["reason"] for s in scores) == {"ok": 6, "error": 6}
    assert m["reasons"]["error"] == 6
    assert m["usage"]["errors"] == 6 and m["usage"]["retries"] == 4
    assert "6 samples could not be generated" in proc.stderr + proc.stdout
    assert len(fake.chat_hits()) == 2 + 2 * 3  # one call per good problem, three per broken one

    first = samples
    # the server recovers; the same command again generates exactly the errored samples
    fake.heal()
    before = len(fake.chat_hits())
    harness(fake, tmp_path, *args)
    assert only_run(tmp_path) == run
    new_hits = fake.chat_hits()[before:]
    assert sorted(h.user.split("\n")[0] for h in new_hits) == sorted(p.split("\n")[0] for p in broken)
    assert all(h.body.get("n") == 3 for h in new_hits)
    m, manifest, samples, scores = outcome(run)
    assert len(samples) == 12 + 6
    assert samples[:12] == first  # the first invocation's lines are kept as they were
    good = {(s["id"], s["sample"]) for s in samples if s["finish_reason"] != "error"}
    assert len(good) == 12 and len([s for s in samples if s["finish_reason"] != "error"]) == 12
    assert Counter(s["reason"] for s in scores) == {"ok": 12}
    assert m["samples"] == 12 and m["pass@1"] == 1.0
    inv = manifest["invocations"]
    assert [i["to_generate"] for i in inv] == [12, 6] and inv[-1]["resumed"] is True
    assert m["usage"]["errors"] == 6  # summed over both invocations: the first one's errors stay on record


def test_a_resume_may_use_another_server_address_and_transport_settings(fake, tmp_path):
    """The server's address (e.g. `make serve` restarted on another port), the key variable and the
    retry settings do not change what is measured: the rerun resumes the same run."""
    fake.rule(PROBLEMS[0]["problem"], "status:503")
    harness(fake, tmp_path, "task.limit=2", "sampling.k=2", "backend.max_retries=0")
    run = only_run(tmp_path)
    with FakeOpenAI(answers=ANSWERS) as other:
        harness(other, tmp_path, "task.limit=2", "sampling.k=2", "backend.max_retries=3", "backend.concurrency=1",
                "backend.backoff.base=0.5")
        assert len(other.chat_hits()) == 1
    assert only_run(tmp_path) == run
    m = json.loads((run / "metrics.json").read_text())
    assert m["samples"] == 4 and m["pass@1"] == 1.0


def test_no_api_key_in_any_file_of_the_run_or_in_the_logs(fake, tmp_path, monkeypatch):
    key = f"sk-leaktest-{uuid.uuid4().hex}"
    monkeypatch.setenv("HARNESS_LEAK_TEST_KEY", key)
    fake.rule(PROBLEMS[0]["problem"], "echo_key:400")  # a server error message that quotes the key
    fake.push("status:429:0", "status:500")
    proc = harness(fake, tmp_path, "task.limit=3", "sampling.k=2", "backend.api_key_env=HARNESS_LEAK_TEST_KEY",
                   *FAST_RETRIES)
    run = only_run(tmp_path)
    assert {h.authorization for h in fake.hits} == {f"Bearer {key}"}  # the key was used ...
    files = [p for p in run.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"config.yaml", "manifest.json", "samples.jsonl", "scores.jsonl",
                                       "metrics.json", "run.log"}
    for p in files:  # ... and written nowhere
        assert key not in p.read_text(errors="replace"), p
    assert key not in proc.stdout and key not in proc.stderr
    assert "HARNESS_LEAK_TEST_KEY" in (run / "config.yaml").read_text()  # the variable's name is kept
    errored = [s for s in read_jsonl(run / "samples.jsonl") if s["finish_reason"] == "error"]
    assert len(errored) == 2 and all("client_errors: HTTP 400" in s["error"] for s in errored)


def test_o1_protocol_records_what_was_sent_and_the_cost(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-o1")
    fake.models = ["o1-2024-12-17"]
    harness(fake, tmp_path, "model=o1", "task.limit=3", "sampling.k=2")
    m, manifest, samples, _ = outcome(only_run(tmp_path))
    hits = fake.chat_hits()
    assert len(hits) == 6  # o1: one sample per call
    for h in hits:
        b = h.body
        assert b["model"] == "o1-2024-12-17" and b["max_completion_tokens"] == 64
        assert not {"temperature", "top_p", "seed", "n", "max_tokens"} & set(b)
        assert b["reasoning_effort"] == "medium"
    backend = manifest["backend"]
    assert backend["protocol_overrides"]["temperature"] == 1.0
    # the run's protocol (what claims are compared against) says what the API really used
    for proto in (manifest["protocol"], m["protocol"]):
        assert proto["temperature"] == 1.0 and proto["top_p"] == 1.0 and proto["seed"] is None
        assert proto["requested"]["temperature"] == 0.6 and proto["requested"]["top_p"] == 0.95
    assert backend["base_url"] == fake.base_url and backend["api_key_env"] == "OPENAI_API_KEY"
    u = m["usage"]
    expected = u["prompt_tokens"] / 1e6 * 15.0 + u["output_tokens"] / 1e6 * 60.0
    assert u["cost_usd"] == pytest.approx(expected, abs=1e-4) and u["cost_usd"] > 0
    assert u["requests"] == 6
    assert manifest["invocations"][-1]["usage"]["sent"]["max_completion_tokens"] == 64


def test_deepseek_reasoning_is_kept_and_the_answer_scored_from_the_content(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-test-ds")
    fake.models = ["deepseek-reasoner"]
    fake.reasoning = True
    harness(fake, tmp_path, "model=deepseek-reasoner", "task.limit=3", "sampling.k=2")
    m, manifest, samples, scores = outcome(only_run(tmp_path))
    assert all(s["reasoning"].startswith("Let me think") and r"\boxed" in s["text"] for s in samples)
    assert m["pass@1"] == 1.0
    assert manifest["backend"]["protocol_overrides"]["temperature"] is None  # set by the API, unknown
    assert manifest["invocations"][-1]["usage"]["served_by"] == {"deepseek-reasoner": 6}
