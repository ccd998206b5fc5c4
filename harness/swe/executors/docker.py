"""The docker executor: the official swebench harness (`swebench.harness.run_evaluation`, 5.0.2).

For each attempt the patch is validated like the local executor does, written as a one-line
predictions file in swebench's format ({"instance_id", "model_name_or_path", "model_patch"}),
and `python -m swebench.harness.run_evaluation` runs it in the instance's Docker image. swebench
5.x takes the image, the eval script and the log parser from the instance row (fields `image`,
`eval_script`, `log_parser`, `eval_type`), so the instances come from a dataset that has them:
`executor.docker.dataset_name` (the SWE-bench/* hub datasets), or a one-row JSON file written from
the instance when its row carries them. Its per-instance report,

    <workdir>/logs/run_evaluation/<run_id>/<model_name_or_path with / as __>/<instance_id>/report.json
    {"<instance_id>": {"patch_is_None": false, "patch_exists": true,
                       "patch_successfully_applied": true, "resolved": true, "infra_failure": false,
                       "tests_status": {"FAIL_TO_PASS": {"success": [...], "failure": [...]},
                                        "PASS_TO_PASS": {...}, ...}}}

is read back into an ExecResult. swebench writes no report when the patch does not apply or the
tests time out; the instance log (run_instance.log) then tells which, or that something else
failed. Paths and markers are swebench's own constants.
"""

from __future__ import annotations

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

from swebench.harness.constants import (
    APPLY_PATCH_FAIL,
    FAIL_TO_PASS,
    LOG_INSTANCE,
    LOG_REPORT,
    PASS_TO_PASS,
    RUN_EVALUATION_LOG_DIR,
)

from harness.errors import ConfigError, HarnessError
from harness.scoring.patch import PatchRejected, validate_patch
from harness.swe import APPLY_FAILED, ERROR, HARNESS_FIELDS, NO_PATCH, OK, TIMEOUT, ExecResult, Instance
from harness.swe.grading import MODEL_NAME, prediction

TIMEOUT_SIGN = "Test timed out after"  # swebench's message in the instance log when the tests time out


class DockerUnavailable(HarnessError):
    pass


def check_docker() -> None:
    """Raise DockerUnavailable with what is missing: the docker CLI or a reachable engine."""
    problems = []
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


def write_predictions(path: Path, preds: Iterable[Mapping[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for p in preds:
            f.write(json.dumps(dict(p), ensure_ascii=False) + "\n")
    return path


def instance_dir(workdir: Path, run_id: str, instance_id: str, model: str = MODEL_NAME) -> Path:
    """Where run_evaluation (run from `workdir`) writes an instance's logs and report."""
    return workdir / RUN_EVALUATION_LOG_DIR / run_id / model.replace("/", "__") / instance_id


def report_path(workdir: Path, run_id: str, instance_id: str, model: str = MODEL_NAME) -> Path:
    return instance_dir(workdir, run_id, instance_id, model) / LOG_REPORT


def missing_harness_fields(instance: Instance) -> list[str]:
    """The fields swebench 5.x needs that the instance row lacks (image_assets is optional)."""
    return [f for f in HARNESS_FIELDS if f != "image_assets" and f not in instance.extra]


def read_report(path: Path, instance_id: str) -> ExecResult:
    """An ExecResult from swebench's per-instance report.json."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if instance_id not in data:
        raise ValueError(f"{path}: no entry for {instance_id} (entries: {sorted(data)[:3]})")
    r = data[instance_id]
    if r.get("patch_is_None") or not r.get("patch_exists", True):
        return ExecResult(status=NO_PATCH, detail="swebench: no patch")
    if not r.get("patch_successfully_applied", False):
        # the patch applied (swebench writes no report otherwise) but the test output was unusable
        why = r.get("infra_failure_reason")
        detail = "swebench: no usable test results" + (f" ({why})" if why else "")
        if r.get("infra_failure"):  # the environment broke, not the patch
            return ExecResult(status=ERROR, detail=detail)
        return ExecResult(status=OK, resolved=False, detail=detail)
    tests = {k: {"success": list(v.get("success", [])), "failure": list(v.get("failure", []))}
             for k, v in (r.get("tests_status") or {}).items() if k in (FAIL_TO_PASS, PASS_TO_PASS)}
    return ExecResult(status=OK, resolved=bool(r.get("resolved")), tests=tests)


def result_without_report(instance_log: Path | None, stderr: str) -> ExecResult:
    """Classify an attempt for which swebench wrote no report."""
    text = ""
    if instance_log is not None and instance_log.exists():
        text = instance_log.read_text(encoding="utf-8", errors="replace")
    if APPLY_PATCH_FAIL in text:
        return ExecResult(status=APPLY_FAILED, detail="swebench: patch apply failed", log_tail=text[-4000:])
    if TIMEOUT_SIGN in text:
        return ExecResult(status=TIMEOUT, detail="swebench: tests timed out", limits=["wall_clock"],
                          log_tail=text[-4000:])
    tail = (text or stderr)[-4000:]
    return ExecResult(status=ERROR, detail="swebench wrote no report: " + (tail.strip().splitlines() or ["?"])[-1],
                      log_tail=tail)


class DockerExecutor:
    name = "docker"

    def __init__(self, *, dataset: str | None = None, split: str = "test", timeout: int = 1800,
                 max_workers: int = 1, workdir: str | Path | None = None, python: str | None = None,
                 check: bool = True):
        self.dataset = dataset  # a hub dataset or file with the harness fields; None: one JSON row per attempt
        self.split = split
        self.timeout = int(timeout)
        self.max_workers = int(max_workers)
        self.workdir = Path(workdir or Path.cwd() / ".cache" / "swe" / "docker").resolve()
        self.python = python or sys.executable
        if check:
            check_docker()

    @classmethod
    def from_cfg(cls, cfg: Mapping[str, Any], split: str = "test", check: bool = True) -> DockerExecutor:
        d = dict(cfg.get("docker") or {})
        return cls(dataset=d.get("dataset_name"), split=split, timeout=int(d.get("timeout") or 1800),
                   max_workers=int(d.get("max_workers") or 1), workdir=d.get("workdir"), check=check)

    @classmethod
    def from_task(cls, cfg: Mapping[str, Any], task: Any) -> DockerExecutor:
        return cls.from_cfg(cfg, split=task.cfg.get("split") or "test")

    def check_instances(self, instances: Iterable[Instance]) -> None:
        """Without a dataset, every instance row must carry what swebench needs to run it."""
        if self.dataset:
            return
        for inst in instances:
            missing = missing_harness_fields(inst)
            if missing:
                raise ConfigError(
                    "task.executor.docker.dataset_name",
                    f"instance {inst.instance_id} has no {', '.join(missing)}, which swebench 5.x needs to run "
                    "it in Docker; name a dataset that has them (e.g. SWE-bench/SWE-bench_Verified)")

    def command(self, run_id: str, preds: Path, dataset: str, instance_id: str) -> list[str]:
        """run_evaluation's command line (swebench 5.0.2's argument names)."""
        return [self.python, "-m", "swebench.harness.run_evaluation",
                "--dataset_name", dataset, "--split", self.split,
                "--predictions_path", str(preds), "--instance_ids", instance_id,
                "--run_id", run_id, "--max_workers", str(self.max_workers),
                "--timeout", str(self.timeout), "--report_dir", str(self.workdir / "reports" / run_id)]

    def evaluate(self, instance: Instance, patch: str | None) -> ExecResult:
        t0 = time.time()
        if not patch or not patch.strip():
            return ExecResult(status=NO_PATCH, detail="empty patch")
        try:
            validate_patch(patch)
        except PatchRejected as e:
            return ExecResult(status=e.reason, detail=e.detail)
        try:
            self.check_instances([instance])
        except ConfigError as e:
            return ExecResult(status=ERROR, detail=str(e))
        run_id = f"harness-{uuid.uuid4().hex[:12]}"
        run_dir = self.workdir / "runs" / run_id
        preds = write_predictions(run_dir / "predictions.jsonl", [prediction(instance.instance_id, patch)])
        dataset = self.dataset
        if not dataset:  # swebench reads a local .json file of instances like a hub dataset
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
            r = result_without_report(rp.parent / LOG_INSTANCE, stderr)
        r.seconds = round(time.time() - t0, 3)
        return r
