"""`python -m harness serve` (vllm serve of the tiny model on 127.0.0.1) and an evaluation through it
with the openai backend, from the Hydra entry point to metrics.json."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections import Counter

import pytest
from conftest import ROOT, only_run, read_jsonl, run_harness

from harness.serve import main as serve_main
from harness.serve import model_config, serve_command, wait_ready

SMALL = ["task.limit=6", "sampling.k=3", "sampling.max_tokens=24"]


def test_serve_command_carries_the_model_settings():
    cmd = serve_command(model_config(["model=tiny-llama"]), port=8123)
    joined = " ".join(cmd)
    assert cmd[:5] == [sys.executable, "-m", "harness.serve", "--vllm-cli", "serve"]
    for part in ("--host 127.0.0.1", "--port 8123", "--served-model-name tiny-llama", "--generation-config vllm",
                 "--dtype bfloat16", "--max-model-len 1024", "--tensor-parallel-size 1",
                 "--gpu-memory-utilization 0.15", "--enforce-eager"):
        assert part in joined, part
    big = serve_command(model_config(["model=r1-distill-qwen-32b", "model.max_model_len=16384"]), extra=["--foo", "1"])
    assert "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B" in big and "--revision" in big
    assert "--tensor-parallel-size 2" in " ".join(big) and "--max-model-len 16384" in " ".join(big)
    assert big[-2:] == ["--foo", "1"]


def test_api_models_have_nothing_to_serve():
    with pytest.raises(SystemExit, match="hosted API model"):
        serve_main(["model=o1", "--dry-run"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_model):
    port = _free_port()
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "harness", "serve", "model=tiny-llama", "--port", str(port)],
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        try:
            served = wait_ready(base_url, proc, timeout=600)
        except Exception as e:
            raise AssertionError(f"server did not start: {e}\n{log_path.read_text()[-3000:]}") from e
        assert served == ["tiny-llama"]
        yield base_url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # `harness serve` stops its vllm server and exits
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.mark.engine
def test_eval_through_vllm_serve(server, tmp_path):
    run_harness("backend=openai", f"backend.base_url={server}", *SMALL, f"results_dir={tmp_path}")
    run = only_run(tmp_path)
    m = json.loads((run / "metrics.json").read_text())
    assert m["problems"] == 6 and m["samples"] == 18 and 0.0 <= m["pass@1"] <= 1.0
    samples = read_jsonl(run / "samples.jsonl")
    assert len({(s["id"], s["sample"]) for s in samples}) == 18
    assert set(Counter(s["id"] for s in samples).values()) == {3}
    assert all(s["finish_reason"] in ("stop", "length") for s in samples)
    assert all(1 <= s["output_tokens"] <= 24 for s in samples)  # exact per choice (token ids)
    assert all(s["output_tokens"] == 24 for s in samples if s["finish_reason"] == "length")
    assert all(s["prompt_tokens"] > 10 for s in samples)
    texts: dict[str, set[str]] = {}
    for s in samples:
        texts.setdefault(s["id"], set()).add(s["text"])
    assert sum(len(v) for v in texts.values()) > 6  # seeded per call, not copies of each other
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["backend"]["name"] == "openai" and manifest["backend"]["served_models"] == ["tiny-llama"]
    u = m["usage"]
    assert u["requests"] == 6 and u["retries"] == 0 and u["errors"] == 0
    assert u["output_tokens"] == sum(s["output_tokens"] for s in samples)
    assert manifest["invocations"][-1]["usage"]["api_completion_tokens"] == u["output_tokens"]


@pytest.mark.engine
def test_same_seeds_same_samples(server, tmp_path):
    """Samples are reproducible through the server: a second run of the same configuration gives
    the same texts."""
    args = ["backend=openai", f"backend.base_url={server}", *SMALL, "task.limit=3", "resume=false"]
    run_harness(*args, f"results_dir={tmp_path / 'a'}")
    run_harness(*args, f"results_dir={tmp_path / 'b'}")

    def texts(d):
        return {(s["id"], s["sample"]): s["text"] for s in read_jsonl(only_run(d) / "samples.jsonl")}

    assert texts(tmp_path / "a") == texts(tmp_path / "b")
