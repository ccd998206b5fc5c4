"""The docker executor's translation to and from the swebench harness's files (no Docker here)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from harness.swe import Instance
from harness.swe import docker as dk

ROOT = Path(__file__).resolve().parents[1]
ROW = json.loads((ROOT / "data" / "swe_mini" / "instances.jsonl").read_text().splitlines()[0])
IID = ROW["instance_id"]


def _report(tmp_path: Path, run_id: str, body: dict) -> Path:
    p = dk.report_path(tmp_path, run_id, IID)
    p.parent.mkdir(parents=True)
    p.write_text(json.dumps({IID: body}, indent=4))
    return p


def test_predictions_file_format(tmp_path):
    path = dk.write_predictions(tmp_path / "p.jsonl", [dk.prediction(IID, "diff", "org/model-x")])
    rec = json.loads(path.read_text())
    assert rec == {"instance_id": IID, "model_name_or_path": "org/model-x", "model_patch": "diff"}
    # swebench puts reports under the model name with "/" replaced by "__"
    assert dk.report_path(tmp_path, "r1", IID, "org/model-x").parts[-3:] == ("org__model-x", IID, "report.json")
    assert dk.report_path(tmp_path, "r1", IID).relative_to(tmp_path).parts[:2] == ("logs", "run_evaluation")


def test_read_resolved_report(tmp_path):
    tests = {"FAIL_TO_PASS": {"success": ["t::a"], "failure": []},
             "PASS_TO_PASS": {"success": ["t::b"], "failure": []},
             "FAIL_TO_FAIL": {"success": [], "failure": []}, "PASS_TO_FAIL": {"success": [], "failure": []}}
    p = _report(tmp_path, "r", {"patch_is_None": False, "patch_exists": True, "patch_successfully_applied": True,
                                "resolved": True, "tests_status": tests})
    r = dk.read_report(p, IID)
    assert r.status == "ok" and r.resolved and r.tests["FAIL_TO_PASS"]["success"] == ["t::a"]
    assert "FAIL_TO_FAIL" not in r.tests


def test_read_unresolved_and_unapplied_reports(tmp_path):
    tests = {"FAIL_TO_PASS": {"success": [], "failure": ["t::a"]}, "PASS_TO_PASS": {"success": ["t::b"], "failure": []}}
    p = _report(tmp_path, "r1", {"patch_is_None": False, "patch_exists": True, "patch_successfully_applied": True,
                                 "resolved": False, "tests_status": tests})
    r = dk.read_report(p, IID)
    assert r.status == "ok" and not r.resolved and "F2P 0/1" in r.summary()
    p = _report(tmp_path, "r2", {"patch_is_None": False, "patch_exists": True, "patch_successfully_applied": False,
                                 "resolved": False})
    assert dk.read_report(p, IID).status == "apply_failed"
    p = _report(tmp_path, "r3", {"patch_is_None": True, "patch_exists": False, "patch_successfully_applied": False,
                                 "resolved": False})
    assert dk.read_report(p, IID).status == "no_patch"
    with pytest.raises(ValueError):
        dk.read_report(p, "other-instance")


def test_no_report_is_classified_from_the_instance_log(tmp_path):
    log = tmp_path / "run_instance.log"
    log.write_text("...\n>>>>> Patch Apply Failed:\npatch: **** malformed patch\n")
    assert dk.result_without_report(log, "").status == "apply_failed"
    log.write_text("Test runtime: 1800.00 seconds\nTest timed out after 1800 seconds.\n")
    assert dk.result_without_report(log, "").status == "timeout"
    r = dk.result_without_report(None, "Traceback...\nBuildImageError: failed")
    assert r.status == "error" and "BuildImageError" in r.detail


def test_command_and_a_faked_run(tmp_path, monkeypatch):
    ex = dk.DockerExecutor(workdir=tmp_path, check=False, timeout=60)
    cmd = ex.command("rid", tmp_path / "p.jsonl", "princeton-nlp/SWE-bench_Verified", IID)
    assert cmd[1:3] == ["-m", "swebench.harness.run_evaluation"]
    assert cmd[cmd.index("--instance_ids") + 1] == IID and cmd[cmd.index("--run_id") + 1] == "rid"

    def fake_run(cmd, cwd, capture_output, timeout):
        """What swebench does for a gold patch: read the predictions, write the report."""
        preds = [json.loads(line) for line in Path(cmd[cmd.index("--predictions_path") + 1]).read_text().splitlines()]
        dataset = json.loads(Path(cmd[cmd.index("--dataset_name") + 1]).read_text())
        assert preds[0]["model_patch"] == dataset[0]["patch"] and isinstance(dataset[0]["FAIL_TO_PASS"], str)
        run_id = cmd[cmd.index("--run_id") + 1]
        p = dk.report_path(Path(cwd), run_id, preds[0]["instance_id"], preds[0]["model_name_or_path"])
        p.parent.mkdir(parents=True)
        p.write_text(json.dumps({preds[0]["instance_id"]: {
            "patch_is_None": False, "patch_exists": True, "patch_successfully_applied": True, "resolved": True,
            "tests_status": {"FAIL_TO_PASS": {"success": json.loads(dataset[0]["FAIL_TO_PASS"]), "failure": []},
                             "PASS_TO_PASS": {"success": [], "failure": []}}}}))
        return subprocess.CompletedProcess(cmd, 0, b"", b"")

    monkeypatch.setattr(dk.subprocess, "run", fake_run)
    inst = Instance.from_row(ROW)
    r = ex.evaluate(inst, inst.patch)
    assert r.status == "ok" and r.resolved
    assert ex.evaluate(inst, "").status == "no_patch"
    bad = ex.evaluate(inst, "--- a/../x\n+++ b/../x\n@@ -1 +1 @@\n-a\n+b\n")
    assert bad.status == "rejected_traversal"  # validated before swebench sees it


def test_clear_error_without_docker(monkeypatch):
    monkeypatch.setattr(dk.shutil, "which", lambda name: None)
    monkeypatch.setattr(dk.Path, "exists", lambda self: False)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    with pytest.raises(dk.DockerUnavailable, match="docker executor.*cannot run here.*kind=local"):
        dk.check_docker()
