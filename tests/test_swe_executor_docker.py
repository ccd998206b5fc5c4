"""The docker executor's translation to and from swebench 5.0.2's files, checked against the
package's own readers, writers and constants (no Docker engine here)."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
from swebench.harness import run_evaluation as sb_run
from swebench.harness.constants import (
    APPLY_PATCH_FAIL,
    END_TEST_OUTPUT,
    LOG_INSTANCE,
    LOG_REPORT,
    START_TEST_OUTPUT,
    TEST_EXIT_CODE,
)
from swebench.harness.grading import get_eval_report
from swebench.harness.utils import get_predictions_from_file, load_swebench_dataset, make_test_spec

from harness.errors import ConfigError
from harness.swe import Instance
from harness.swe.executors import docker as dk

ROOT = Path(__file__).resolve().parents[1]
ROW = json.loads((ROOT / "data" / "swe_mini" / "instances.jsonl").read_text().splitlines()[0])
IID = ROW["instance_id"]
# what a swebench 5.x dataset row adds (the SWE-bench/* hub datasets have these columns)
HARNESS_ROW = {**ROW, "image": "swebench/sweb.eval.x86_64.swe-mini_1776_chunked-1:latest",
               "eval_script": "#!/bin/bash\nset -uxo pipefail\necho '>>>>> Start Test Output'\n"
                              "pytest -rA tests\necho '>>>>> End Test Output'\n",
               "log_parser": "parse_log_pytest", "eval_type": "pass_and_fail"}


def _report(tmp_path: Path, run_id: str, body: dict) -> Path:
    p = dk.report_path(tmp_path, run_id, IID)
    p.parent.mkdir(parents=True)
    p.write_text(json.dumps({IID: body}, indent=4))
    return p


def test_predictions_file_is_read_by_swebench(tmp_path):
    path = dk.write_predictions(tmp_path / "p.jsonl", [dk.prediction(IID, "diff", "org/model-x")])
    preds = get_predictions_from_file(str(path), "unused", "test")
    assert preds == [{"instance_id": IID, "model_name_or_path": "org/model-x", "model_patch": "diff"}]


def test_report_path_is_where_swebench_looks(tmp_path, monkeypatch):
    """swebench skips an instance whose report exists: proof that ours is its path."""
    monkeypatch.chdir(tmp_path)  # run_evaluation's log directory is relative to its working directory
    data = tmp_path / "instances.json"
    data.write_text(json.dumps([ROW]))
    pred = dk.prediction(IID, "diff", "org/model-x")
    kwargs = dict(dataset_name=str(data), split="test", instance_ids=[IID], predictions={IID: pred},
                  run_id="r1", rewrite_reports=False)
    assert [d["instance_id"] for d in sb_run.get_dataset_from_preds(**kwargs)] == [IID]
    p = dk.report_path(tmp_path, "r1", IID, "org/model-x")
    assert p.name == LOG_REPORT and p.parent.parent.name == "org__model-x"
    p.parent.mkdir(parents=True)
    p.write_text("{}")
    assert sb_run.get_dataset_from_preds(**kwargs) == []


def test_instance_row_round_trip_through_swebench(tmp_path):
    inst = Instance.from_row(HARNESS_ROW)
    data = tmp_path / "instances.json"
    data.write_text(json.dumps([inst.to_row()]))
    (row,) = load_swebench_dataset(str(data), "test", [IID])
    spec = make_test_spec(row)
    assert spec.instance_id == IID and spec.image == HARNESS_ROW["image"] and spec.log_parser == "parse_log_pytest"
    assert spec.FAIL_TO_PASS == list(inst.fail_to_pass) and spec.PASS_TO_PASS == list(inst.pass_to_pass)
    assert dk.missing_harness_fields(inst) == []
    assert dk.missing_harness_fields(Instance.from_row(ROW)) == ["image", "eval_script", "log_parser", "eval_type"]


def test_read_a_report_written_by_swebench(tmp_path):
    """report.json as run_instance writes it: swebench's get_eval_report on a test output."""
    inst = Instance.from_row(HARNESS_ROW)
    spec = make_test_spec(inst.to_row())
    f2p, p2p = list(inst.fail_to_pass), list(inst.pass_to_pass)

    def report(run_id: str, lines: list[str], code: int) -> Path:
        out = tmp_path / f"{run_id}.txt"
        out.write_text(f"{START_TEST_OUTPUT}\n" + "\n".join(lines) + f"\n{END_TEST_OUTPUT}\n{TEST_EXIT_CODE}: {code}\n")
        rep = get_eval_report(spec, dk.prediction(IID, "diff"), str(out), include_tests_status=True)
        p = dk.report_path(tmp_path, run_id, IID)
        p.parent.mkdir(parents=True)
        p.write_text(json.dumps(rep, indent=4))
        return p

    r = dk.read_report(report("gold", [f"PASSED {t}" for t in f2p + p2p], 0), IID)
    assert r.status == "ok" and r.resolved and r.tests["FAIL_TO_PASS"]["success"] == f2p
    assert set(r.tests) == {"FAIL_TO_PASS", "PASS_TO_PASS"}
    r = dk.read_report(report("bad", [f"FAILED {f2p[0]} - assert"] + [f"PASSED {t}" for t in p2p], 1), IID)
    assert r.status == "ok" and not r.resolved and f"F2P 0/{len(f2p)}" in r.summary()
    # exit code 1 with no failure listed: swebench finds no usable results (an unresolved attempt)
    r = dk.read_report(report("odd", [f"PASSED {t}" for t in f2p + p2p], 1), IID)
    assert r.status == "ok" and not r.resolved and "no usable test results" in r.detail
    with pytest.raises(ValueError):
        dk.read_report(dk.report_path(tmp_path, "gold", IID), "other-instance")


def test_read_reports_without_results(tmp_path):
    p = _report(tmp_path, "r1", {"patch_is_None": True, "patch_exists": False, "patch_successfully_applied": False,
                                 "resolved": False})
    assert dk.read_report(p, IID).status == "no_patch"
    p = _report(tmp_path, "r2", {"patch_is_None": False, "patch_exists": True, "patch_successfully_applied": False,
                                 "resolved": False, "infra_failure": True, "infra_failure_reason": "out_of_memory"})
    r = dk.read_report(p, IID)
    assert r.status == "error" and "out_of_memory" in r.detail


def test_no_report_is_classified_from_the_instance_log(tmp_path):
    log = dk.instance_dir(tmp_path, "r", IID) / LOG_INSTANCE
    log.parent.mkdir(parents=True)
    log.write_text(f"...\n{APPLY_PATCH_FAIL}:\npatch: **** malformed patch\n")
    assert dk.result_without_report(log, "").status == "apply_failed"
    log.write_text("Test runtime: 1_800.00 seconds\nswebench.harness.utils.EvaluationError: Error in evaluation "
                   f"for {IID}: Test timed out after 1800 seconds.\n")
    assert dk.result_without_report(log, "").status == "timeout"
    r = dk.result_without_report(None, "Traceback...\nBuildImageError: failed")
    assert r.status == "error" and "BuildImageError" in r.detail


def test_command_uses_run_evaluations_arguments(tmp_path):
    ex = dk.DockerExecutor(workdir=tmp_path, check=False, timeout=60)
    cmd = ex.command("rid", tmp_path / "p.jsonl", "SWE-bench/SWE-bench_Verified", IID)
    assert cmd[1:3] == ["-m", "swebench.harness.run_evaluation"]
    flags = [a[2:] for a in cmd if a.startswith("--")]
    assert set(flags) <= set(inspect.signature(sb_run.main).parameters)  # argparse dests are main's parameters
    help_text = subprocess.run([sys.executable, "-m", "swebench.harness.run_evaluation", "--help"],
                               capture_output=True, text=True, check=True).stdout
    for flag in flags:
        assert f"--{flag}" in help_text


def test_a_faked_run(tmp_path, monkeypatch):
    ex = dk.DockerExecutor(workdir=tmp_path, check=False, timeout=60)

    def fake_run(cmd, cwd, capture_output, timeout):
        """What swebench does for a gold patch: read the predictions and dataset, write the report."""
        (pred,) = get_predictions_from_file(cmd[cmd.index("--predictions_path") + 1], "unused", "test")
        (row,) = load_swebench_dataset(cmd[cmd.index("--dataset_name") + 1], "test", [pred["instance_id"]])
        spec = make_test_spec(row)
        assert pred["model_patch"] == row["patch"]
        out = Path(cwd) / "test_output.txt"
        passed = "".join(f"PASSED {t}\n" for t in spec.FAIL_TO_PASS + spec.PASS_TO_PASS)
        out.write_text(f"{START_TEST_OUTPUT}\n{passed}{END_TEST_OUTPUT}\n")
        run_id = cmd[cmd.index("--run_id") + 1]
        p = dk.report_path(Path(cwd), run_id, pred["instance_id"], pred["model_name_or_path"])
        p.parent.mkdir(parents=True)
        p.write_text(json.dumps(get_eval_report(spec, pred, str(out), include_tests_status=True)))
        return subprocess.CompletedProcess(cmd, 0, b"", b"")

    monkeypatch.setattr(dk.subprocess, "run", fake_run)
    inst = Instance.from_row(HARNESS_ROW)
    r = ex.evaluate(inst, inst.patch)
    assert r.status == "ok" and r.resolved, r.summary()
    assert ex.evaluate(inst, "").status == "no_patch"
    bad = ex.evaluate(inst, "--- a/../x\n+++ b/../x\n@@ -1 +1 @@\n-a\n+b\n")
    assert bad.status == "rejected_traversal"  # validated before swebench sees it
    # without a dataset, a row that lacks the harness fields is an error, before swebench runs
    r = ex.evaluate(Instance.from_row(ROW), Instance.from_row(ROW).patch)
    assert r.status == "error" and "eval_script" in r.detail
    with pytest.raises(ConfigError, match="dataset_name"):
        ex.check_instances([Instance.from_row(ROW)])
    dk.DockerExecutor(dataset="SWE-bench/SWE-bench_Verified", workdir=tmp_path, check=False).check_instances(
        [Instance.from_row(ROW)])


def test_clear_error_without_docker(monkeypatch):
    monkeypatch.setattr(dk.shutil, "which", lambda name: None)
    monkeypatch.setattr(dk.Path, "exists", lambda self: False)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    with pytest.raises(dk.DockerUnavailable, match="docker executor.*cannot run here.*kind=local"):
        dk.check_docker()


def test_clear_error_without_swebench(monkeypatch):
    import harness.swe as swe

    monkeypatch.setattr(swe.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(swe.HarnessError, match=r"swebench==5\.0\.2.*pip install -e '\.\[swe\]'"):
        swe.require_swebench()
