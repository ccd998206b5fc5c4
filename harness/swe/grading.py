"""Grading a local test run with the swebench harness's own code (swebench 5.0.2).

The local executor runs the repository's own test command (pytest, Django's runtests.py, sympy's
bin/test, ...). Its output is framed the way swebench's eval scripts frame theirs
(``>>>>> Start Test Output`` / ``>>>>> End Test Output``, then the test command's exit code after
the end marker) and written as the attempt's ``test_output.txt``; swebench's ``get_eval_report``
then parses it with the log parser of the instance's repository (``MAP_REPO_TO_PARSER_PY``, or
the environment spec's ``log_parser``), applies its FAIL_TO_PASS / PASS_TO_PASS rules and decides
``resolved``: the same report a docker run writes as report.json.

Test ids are keyed exactly as swebench keys them (its parser and its matching of truncated
parametrized ids); the FAIL_TO_PASS / PASS_TO_PASS ids that match nothing in the log are listed
(``unmatched``), so that an id the dataset spells differently from the runner is visible.

One rule on top, because the log is written by the code under test: the runner's exit code must
agree with what the log says of the instance's own tests. Killed, interrupted, an internal or
usage error (pytest's 2-5), or exit 0 while a FAIL_TO_PASS / PASS_TO_PASS test is listed as
failing make the attempt unresolved. (Failures of other tests, including the nested runs that
pytest's own test suite prints, do not count.) Any swebench marker the tests print themselves is
defused before framing, so only the executor's frame and exit code reach swebench.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
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
from swebench.harness.grading import _resolve_case, get_eval_report
from swebench.harness.log_parsers import PARSER_REGISTRY
from swebench.harness.log_parsers.python import MAP_REPO_TO_PARSER_PY
from swebench.types import TestSpec

from harness.swe import Instance

DEFAULT_PARSER = "parse_log_pytest"
MARKERS = (START_TEST_OUTPUT, END_TEST_OUTPUT, TEST_EXIT_CODE, APPLY_PATCH_FAIL, RESET_FAILED, TESTS_ERROR,
           TESTS_TIMEOUT)
MODEL_NAME = "harness"  # model_name_or_path of the predictions the harness hands to swebench


def prediction(instance_id: str, patch: str | None, model: str = MODEL_NAME) -> dict[str, Any]:
    """A prediction record in swebench's format."""
    return {"instance_id": instance_id, "model_name_or_path": model, "model_patch": patch}


def log_parser(repo: str) -> str:
    """The PARSER_REGISTRY name of swebench's parser for a repository (pytest's for others)."""
    fn = MAP_REPO_TO_PARSER_PY.get(repo)
    if fn is None:
        return DEFAULT_PARSER
    if PARSER_REGISTRY.get(fn.__name__) is fn:
        return fn.__name__
    return next(name for name, f in PARSER_REGISTRY.items() if f is fn)


def swebench_spec(instance: Instance, parser: str | None = None) -> TestSpec:
    """What swebench's grading reads of an instance (no image or eval script: nothing runs)."""
    return TestSpec(instance_id=instance.instance_id, image="", eval_script_list=[], repo=instance.repo,
                    version=instance.version or "", FAIL_TO_PASS=list(instance.fail_to_pass),
                    PASS_TO_PASS=list(instance.pass_to_pass), log_parser=parser or log_parser(instance.repo),
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


def exit_code_consistent(exit_code: int | None, status: Mapping[str, str],
                         tests: Iterable[str] | None = None) -> tuple[bool, str]:
    """Does the runner's exit code agree with the parsed log? `tests`: the instance's own ids (all
    parsed ids when None); with exit 0 none of them may be listed as failing."""
    bad = (TestStatus.FAILED.value, TestStatus.ERROR.value)
    if tests is None:
        failed = any(s in bad for s in status.values())
    else:
        keys = [_resolve_case(t, dict(status)) for t in tests]
        failed = any(k is not None and status[k] in bad for k in keys)
    any_failed = any(s in bad for s in status.values())
    if exit_code is None or exit_code < 0:
        return False, f"the test run was killed (signal {-exit_code if exit_code else '?'})"
    if exit_code == 0:
        return (not failed), ("" if not failed else "exit code 0 but the log lists a failing test of the instance")
    if exit_code == 1:
        return any_failed, ("" if any_failed else "exit code 1 but the log lists no failure")
    return False, f"test command exit code {exit_code} (interrupted, internal error, usage error or no tests)"


def unmatched_ids(instance: Instance, status: Mapping[str, str]) -> list[str]:
    """FAIL_TO_PASS / PASS_TO_PASS ids that swebench's matching finds nowhere in the parsed log."""
    sm = dict(status)
    return [t for t in (*instance.fail_to_pass, *instance.pass_to_pass) if _resolve_case(t, sm) is None]


@dataclass
class Graded:
    resolved: bool
    tests: dict[str, dict[str, list[str]]]
    note: str
    collected: int  # test results the parser found
    unmatched: list[str] = field(default_factory=list)


def grade(output: str, exit_code: int | None, instance: Instance, parser: str | None = None,
          workdir: Path | None = None) -> Graded:
    """swebench's verdict on the test command's output and exit code (plus the exit-code rule)."""
    spec = swebench_spec(instance, parser)
    with tempfile.TemporaryDirectory(prefix="grade-", dir=workdir) as d:
        log_path = Path(d) / LOG_TEST_OUTPUT
        log_path.write_text(framed_log(output, exit_code), encoding="utf-8")
        # the patch is already applied: grading only asks that the prediction has one
        entry = get_eval_report(spec, prediction(instance.instance_id, ""), str(log_path),
                                include_tests_status=True)[instance.instance_id]
    tests = {k: {"success": list(v["success"]), "failure": list(v["failure"])}
             for k, v in (entry.get("tests_status") or {}).items() if k in (FAIL_TO_PASS, PASS_TO_PASS)}
    status = PARSER_REGISTRY[spec.log_parser](defuse(output), spec)
    consistent, note = exit_code_consistent(exit_code, status, (*instance.fail_to_pass, *instance.pass_to_pass))
    if not entry["patch_successfully_applied"]:  # swebench found no usable test output
        why = entry.get("infra_failure_reason")
        note = "; ".join(x for x in ("swebench: no usable test results in the log"
                                     + (f" ({why})" if why else ""), note) if x)
    return Graded(bool(entry["resolved"]) and consistent, tests, note, len(status), unmatched_ids(instance, status))
