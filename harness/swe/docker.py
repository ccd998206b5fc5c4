"""The docker executor: the official swebench harness (`swebench.harness.run_evaluation`, 5.x).

For each attempt the patch is validated like the local executor does, written as a one-line
predictions file in swebench's format ({"instance_id", "model_name_or_path", "model_patch"}),
and `python -m swebench.harness.run_evaluation` runs it in the instance's Docker image. Its
per-instance report,

    <workdir>/logs/run_evaluation/<run_id>/<model_name_or_path with / as __>/<instance_id>/report.json
    {"<instance_id>": {"patch_is_None": false, "patch_exists": true,
                       "patch_successfully_applied": true, "resolved": true,
                       "tests_status": {"FAIL_TO_PASS": {"success": [...], "failure": [...]},
                                        "PASS_TO_PASS": {...}, ...}}}

is read back into an ExecResult. Without a report, the instance log tells an apply failure or a
timeout from an error. swebench is imported by the subprocess only: this module (and its tests)
do not need the package. Install it with `pip install -e '.[swe]'` where Docker runs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.scoring.patch import PatchRejected, validate_patch
from harness.swe import APPLY_FAILED, ERROR, NO_PATCH, OK, TIMEOUT, ExecResult, Instance

MODEL_NAME = "harness"
RUN_LOG_DIR = Path("logs") / "run_evaluation"  # relative to swebench's working directory


class DockerUnavailable(HarnessError):
    pass


def check_docker() -> None:
    """Raise DockerUnavailable with what is missing: the swebench package, the docker CLI, a
    reachable engine."""
    problems = []
    if importlib.util.find_spec("swebench") is None:
        problems.append("the swebench package is not installed (pip install -e '.[swe]')")
    docker = shutil.which("docker")
    if docker is None and not (os.environ.get("DOCKER_HOST") or Path("/var/run/docker.sock").exists()):
        problems.append("no docker CLI on PATH and no Docker socket (/var/run/docker.sock or DOCKER_HOST)")
    elif docker is not None:
        try:
            p = subprocess.run([docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True, timeout=30)
            if p.returncode != 0:
                problems.append("the Docker engine is not reachable: "
                                + p.stderr.decode(errors="replace").strip().splitlines()[-1:][0]
                                if p.stderr.strip() else "the Docker engine is not reachable")
        except (OSError, subprocess.TimeoutExpired) as e:
            problems.append(f"`docker info` failed: {e}")
    if problems:
        raise DockerUnavailable(
            "the docker executor (task.executor.kind=docker) cannot run here: " + "; ".join(problems)
            + ". Use task.executor.kind=local to run the tests in the local sandbox instead."
        )


def prediction(instance_id: str, patch: str | None, model: str = MODEL_NAME) -> dict[str, Any]:
    return {"instance_id": instance_id, "model_name_or_path": model, "model_patch": patch}


def write_predictions(path: Path, preds: Iterable[Mapping[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for p in preds:
            f.write(json.dumps(dict(p), ensure_ascii=False) + "\n")
    return path


def report_path(workdir: Path, run_id: str, instance_id: str, model: str = MODEL_NAME) -> Path:
    return workdir / RUN_LOG_DIR / run_id / model.replace("/", "__") / instance_id / "report.json"


def read_report(path: Path, instance_id: str) -> ExecResult:
    """An ExecResult from swebench's per-instance report.json."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if instance_id not in data:
        raise ValueError(f"{path}: no entry for {instance_id} (entries: {sorted(data)[:3]})")
    r = data[instance_id]
    if r.get("patch_is_None") or not r.get("patch_exists", True):
        return ExecResult(status=NO_PATCH, detail="swebench: no patch")
    if not r.get("patch_successfully_applied", False):
        return ExecResult(status=APPLY_FAILED, detail="swebench: patch did not apply (or the tests did not run)")
    tests = {k: {"success": list(v.get("success", [])), "failure": list(v.get("failure", []))}
             for k, v in (r.get("tests_status") or {}).items() if k in ("FAIL_TO_PASS", "PASS_TO_PASS")}
    return ExecResult(status=OK, resolved=bool(r.get("resolved")), tests=tests)


def result_without_report(instance_log: Path | None, stderr: str) -> ExecResult:
    """Classify an attempt for which swebench wrote no report."""
    text = ""
    if instance_log is not None and instance_log.exists():
        text = instance_log.read_text(encoding="utf-8", errors="replace")
    if "Patch Apply Failed" in text or ">>>>> Patch Apply Failed" in text:
        return ExecResult(status=APPLY_FAILED, detail="swebench: patch apply failed", log_tail=text[-4000:])
    if "Test timed out" in text or "Timeout error" in text:
        return ExecResult(status=TIMEOUT, detail="swebench: tests timed out", limits=["wall_clock"],
                          log_tail=text[-4000:])
    tail = (text or stderr)[-4000:]
    return ExecResult(status=ERROR, detail="swebench wrote no report: " + (tail.strip().splitlines() or ["?"])[-1],
                      log_tail=tail)


class DockerExecutor:
    name = "docker"

    def __init__(self, *, dataset: str | None = None, split: str = "test", namespace: str | None = "swebench",
                 timeout: int = 1800, max_workers: int = 1, workdir: str | Path | None = None,
                 python: str | None = None, check: bool = True):
        self.dataset = dataset
        self.split = split
        self.namespace = namespace
        self.timeout = int(timeout)
        self.max_workers = int(max_workers)
        self.workdir = Path(workdir or Path.cwd() / ".cache" / "swe" / "docker").resolve()
        self.python = python or sys.executable
        if check:
            check_docker()

    @classmethod
    def from_cfg(cls, cfg: Mapping[str, Any], dataset: str | None = None, split: str = "test",
                 check: bool = True) -> DockerExecutor:
        d = dict(cfg.get("docker") or {})
        return cls(dataset=d.get("dataset_name") or dataset, split=split, namespace=d.get("namespace", "swebench"),
                   timeout=int(d.get("timeout") or 1800), max_workers=int(d.get("max_workers") or 1),
                   workdir=d.get("workdir"), check=check)

    def command(self, run_id: str, preds: Path, dataset: str, instance_id: str) -> list[str]:
        return [self.python, "-m", "swebench.harness.run_evaluation",
                "--dataset_name", dataset, "--split", self.split,
                "--predictions_path", str(preds), "--instance_ids", instance_id,
                "--run_id", run_id, "--max_workers", str(self.max_workers),
                "--timeout", str(self.timeout), "--namespace", str(self.namespace or "none"),
                "--report_dir", str(self.workdir / "reports" / run_id)]

    def evaluate(self, instance: Instance, patch: str | None) -> ExecResult:
        t0 = time.time()
        if not patch or not patch.strip():
            return ExecResult(status=NO_PATCH, detail="empty patch")
        try:
            validate_patch(patch)
        except PatchRejected as e:
            return ExecResult(status=e.reason, detail=e.detail)
        run_id = f"harness-{uuid.uuid4().hex[:12]}"
        run_dir = self.workdir / "runs" / run_id
        preds = write_predictions(run_dir / "predictions.jsonl", [prediction(instance.instance_id, patch)])
        dataset = self.dataset
        if not dataset:  # a local dataset: swebench accepts a JSON file of instances
            dataset = str(run_dir / "instances.json")
            Path(dataset).write_text(json.dumps([instance.to_row()]), encoding="utf-8")
        try:
            p = subprocess.run(self.command(run_id, preds, dataset, instance.instance_id), cwd=self.workdir,
                               capture_output=True, timeout=self.timeout + 3600)
            stderr = p.stderr.decode(errors="replace")
        except subprocess.TimeoutExpired:
            return ExecResult(status=TIMEOUT, detail="swebench run_evaluation did not finish", limits=["wall_clock"],
                              seconds=round(time.time() - t0, 3))
        rp = report_path(self.workdir, run_id, instance.instance_id)
        if rp.exists():
            r = read_report(rp, instance.instance_id)
        else:
            r = result_without_report(rp.parent / "run_instance.log", stderr)
        r.seconds = round(time.time() - t0, 3)
        return r
