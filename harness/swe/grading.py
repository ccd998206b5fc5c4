"""Grading a local test run with the swebench harness's own code (swebench 5.0.2).

The local executor runs ``pytest -rA``. Its output is framed the way swebench's eval scripts
frame theirs (``>>>>> Start Test Output`` / ``>>>>> End Test Output``, then the test command's
exit code after the end marker) and written as the attempt's ``test_output.txt``; swebench's
``get_eval_report`` then parses it with its pytest log parser, applies its FAIL_TO_PASS /
PASS_TO_PASS rules and decides ``resolved``: the same report a docker run writes as report.json.

The parser is the one swebench uses for the instance's repository when that one reads pytest's
``-rA`` summary (``MAP_REPO_TO_PARSER_PY``: ``parse_log_pytest``, ``parse_log_pytest_options`` or
``parse_log_pytest_v2``), and ``parse_log_pytest`` for every other repository (swe_mini's).

One rule on top, because the log is written by the code under test: pytest's real exit code must
agree with the parsed lines (0 with no FAILED/ERROR line, 1 with some). Killed, interrupted, an
internal or usage error, no tests collected, or a contradiction make the attempt unresolved. Any
swebench marker the tests print themselves is defused before framing, so only the executor's
frame and exit code reach swebench.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from swebench.harness.constants import (
    APPLY_PATCH_FAIL,
    END_TEST_OUTPUT,
    FAIL_TO_PASS,
    LOG_TEST_OUTPUT,
    PASS_TO_PASS,
    RESET_FAILED,
    START_TEST_OUTPUT,
    TEST_EXIT_CODE,
    TESTS_ERROR,
    TESTS_TIMEOUT,
    EvalType,
    TestStatus,
)
from swebench.harness.grading import get_eval_report
from swebench.harness.log_parsers import PARSER_REGISTRY
from swebench.harness.log_parsers.python import MAP_REPO_TO_PARSER_PY
from swebench.types import TestSpec

from harness.swe import Instance

PYTEST_PARSERS = ("parse_log_pytest", "parse_log_pytest_options", "parse_log_pytest_v2")
DEFAULT_PARSER = "parse_log_pytest"
MARKERS = (START_TEST_OUTPUT, END_TEST_OUTPUT, TEST_EXIT_CODE, APPLY_PATCH_FAIL, RESET_FAILED, TESTS_ERROR,
           TESTS_TIMEOUT)
MODEL_NAME = "harness"  # model_name_or_path of the predictions the harness hands to swebench


def prediction(instance_id: str, patch: str | None, model: str = MODEL_NAME) -> dict[str, Any]:
    """A prediction record in swebench's format."""
    return {"instance_id": instance_id, "model_name_or_path": model, "model_patch": patch}


def log_parser(repo: str) -> str:
    """The PARSER_REGISTRY name of the parser that reads the local executor's pytest log."""
    fn = MAP_REPO_TO_PARSER_PY.get(repo)
    return next((name for name in PYTEST_PARSERS if PARSER_REGISTRY[name] is fn), DEFAULT_PARSER)


def swebench_spec(instance: Instance) -> TestSpec:
    """What swebench's grading reads of an instance (no image or eval script: nothing runs)."""
    return TestSpec(instance_id=instance.instance_id, image="", eval_script_list=[], repo=instance.repo,
                    version=instance.version or "", FAIL_TO_PASS=list(instance.fail_to_pass),
                    PASS_TO_PASS=list(instance.pass_to_pass), log_parser=log_parser(instance.repo),
                    eval_type=EvalType.PASS_AND_FAIL.value)


def defuse(output: str) -> str:
    """The test output with every swebench marker the tests printed made harmless."""
    for marker in MARKERS:
        while marker in output:  # a replacement next to a '>' could form the marker again
            output = output.replace(marker, marker.replace(">>>>>", ">>>>", 1))
    return output


def framed_log(output: str, exit_code: int | None) -> str:
    """test_output.txt as a swebench eval script writes it."""
    tail = "" if exit_code is None else f"{TEST_EXIT_CODE}: {exit_code}\n"
    return f"{START_TEST_OUTPUT}\n{defuse(output)}\n{END_TEST_OUTPUT}\n{tail}"


def exit_code_consistent(exit_code: int | None, status: Mapping[str, str]) -> tuple[bool, str]:
    """Does pytest's exit code agree with the parsed summary lines?"""
    failed = any(s in (TestStatus.FAILED.value, TestStatus.ERROR.value) for s in status.values())
    if exit_code is None or exit_code < 0:
        return False, f"pytest was killed (signal {-exit_code if exit_code else '?'})"
    if exit_code == 0:
        return (not failed), ("" if not failed else "exit code 0 but the log lists failures")
    if exit_code == 1:
        return failed, ("" if failed else "exit code 1 but the log lists no failure")
    return False, f"pytest exit code {exit_code} (interrupted, internal error, usage error or no tests)"


def grade(output: str, exit_code: int | None, instance: Instance,
          workdir: Path | None = None) -> tuple[bool, dict[str, dict[str, list[str]]], str]:
    """(resolved, FAIL_TO_PASS / PASS_TO_PASS report, note) for pytest's output and exit code."""
    spec = swebench_spec(instance)
    with tempfile.TemporaryDirectory(prefix="grade-", dir=workdir) as d:
        log_path = Path(d) / LOG_TEST_OUTPUT
        log_path.write_text(framed_log(output, exit_code), encoding="utf-8")
        # the patch is already applied: grading only asks that the prediction has one
        entry = get_eval_report(spec, prediction(instance.instance_id, ""), str(log_path),
                                include_tests_status=True)[instance.instance_id]
    tests = {k: {"success": list(v["success"]), "failure": list(v["failure"])}
             for k, v in (entry.get("tests_status") or {}).items() if k in (FAIL_TO_PASS, PASS_TO_PASS)}
    status = PARSER_REGISTRY[spec.log_parser](defuse(output), spec)
    consistent, note = exit_code_consistent(exit_code, status)
    if not entry["patch_successfully_applied"]:  # swebench found no usable test output
        why = entry.get("infra_failure_reason")
        note = "; ".join(x for x in ("swebench: no usable test results in the log"
                                     + (f" ({why})" if why else ""), note) if x)
    return bool(entry["resolved"]) and consistent, tests, note
