"""A non-editable install carries its configs and data, and a user's config folder adds to them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "harness", "hydra_plugins", "configs", "data")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """`pip install . --target DIR --no-deps` from a copy of the source tree (so the checkout gets
    no build/ directory)."""
    tmp = tmp_path_factory.mktemp("pkg")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        p = ROOT / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(p, src / name)
    target = tmp / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                           str(src)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 and "No matching distribution" in proc.stderr:
        pytest.skip("no package index to build with")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return target


def _run(target: Path, cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if k != "HARNESS_CONFIG_PATH"}
    e.update(PYTHONPATH=str(target), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", **(env or {}))
    return subprocess.run([sys.executable, *args], cwd=cwd, env=e, capture_output=True, text=True, timeout=600)


def test_installed_package_finds_its_configs(installed, tmp_path):
    assert (installed / "harness" / "configs" / "eval.yaml").is_file()
    assert (installed / "harness" / "data" / "math500_sample.jsonl").is_file()
    proc = _run(installed, tmp_path, "-c",
                "import harness.paths as p, json\n"
                "from harness.compose import compose\n"
                "from harness.claims import load_registry\n"
                "c = compose(['model=r1-distill-qwen-7b', 'task=aime24', 'sampling=r1'])\n"
                "print(json.dumps({'root': str(p.ROOT), 'checkout': p.IN_CHECKOUT, 'k': c['sampling']['k'],\n"
                "                  'claims': len(load_registry().claims), 'data': str(p.bundled('data/math500_sample.jsonl'))}))")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert out["root"] == str(installed / "harness") and out["checkout"] is False
    assert out["k"] == 64 and out["claims"] > 0
    assert out["data"] == str(installed / "harness" / "data" / "math500_sample.jsonl")


def test_installed_package_runs_an_eval_with_a_user_config_folder(installed, tmp_path):
    user = tmp_path / "my-configs"
    (user / "model").mkdir(parents=True)
    (user / "model" / "my-model.yaml").write_text(
        "defaults:\n  - tiny-llama\n  - _self_\nname: my-model\ndisplay_name: my own model\n")
    (user / "claims").mkdir()
    rows = [json.loads(line) for line in (ROOT / "data" / "math500_sample.jsonl").read_text().splitlines()]
    outs = tmp_path / "outs.jsonl"
    outs.write_text("".join(json.dumps({"id": r["unique_id"], "completion": f"\\boxed{{{r['answer']}}}"}) + "\n"
                            for r in rows[:3]))
    proc = _run(installed, tmp_path, "-m", "harness", "model=my-model", "backend=replay", f"backend.path={outs}",
                "task.limit=3", "sampling.k=1", "sampling.temperature=0", "results_dir=res", "progress=false",
                env={"HARNESS_CONFIG_PATH": str(user)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = next((tmp_path / "res" / "runs").iterdir())
    m = json.loads((run / "metrics.json").read_text())
    assert m["model"] == "my-model" and m["pass@1"] == 1.0
    assert (tmp_path / "res" / "LEADERBOARD.md").is_file()
    assert not (installed / "harness" / "results").exists()  # nothing written into the package
