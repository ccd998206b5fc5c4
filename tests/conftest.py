"""Shared test setup: offline, caches inside the project, the tiny model, a CLI runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("VLLM_CACHE_ROOT", str(CACHE / "vllm"))
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(CACHE / "torchinductor"))
os.environ.setdefault("VLLM_RPC_BASE_PATH", str(CACHE / "vllm-rpc"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
Path(os.environ["VLLM_RPC_BASE_PATH"]).mkdir(parents=True, exist_ok=True)

MATH_SAMPLE = ROOT / "data" / "math500_sample.jsonl"
AIME_SAMPLE = ROOT / "tests" / "fixtures" / "aime24_sample.jsonl"


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    from harness.tiny_model import ensure_tiny_model

    return ensure_tiny_model(CACHE / "tiny-llama", seed=0)


def run_harness(*overrides: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
    """`python -m harness <overrides>` in a subprocess, as a user would run it."""
    proc = subprocess.run(
        [sys.executable, "-m", "harness", *overrides, "progress=false"],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"harness failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def only_run(results_dir: Path) -> Path:
    runs = sorted((results_dir / "runs").iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
