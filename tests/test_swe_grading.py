"""Grading of the local executor's pytest log, through swebench's own parser and report.

Several cases are ones where a plain reading of the `-rA` summary and swebench disagree; they
pass only if the verdict really comes from swebench (5.0.2).
"""

from __future__ import annotations

import swebench.harness.grading as sb_grading
from swebench.harness.constants import END_TEST_OUTPUT, START_TEST_OUTPUT, TEST_EXIT_CODE
from swebench.harness.log_parsers import PARSER_REGISTRY

from harness.swe import Instance
from harness.swe import grading as g

LOG = """
tests/test_core.py::test_zero PASSED
=========================== short test summary info ============================
PASSED tests/test_core.py::test_zero
FAILED tests/test_core.py::test_add - assert -1 == 5
SKIPPED tests/test_core.py::test_skip
"""


def inst(f2p=(), p2p=(), repo="swe-mini/demo", iid="swe-mini__demo-1") -> Instance:
    return Instance(instance_id=iid, repo=repo, base_commit="0" * 40, patch="", test_patch="",
                    problem_statement="", fail_to_pass=tuple(f2p), pass_to_pass=tuple(p2p))


def test_the_verdict_comes_from_swebench(monkeypatch):
    assert g.get_eval_report is sb_grading.get_eval_report
    seen = []
    real = PARSER_REGISTRY["parse_log_pytest"]

    def spy(log, spec):
        seen.append((log, spec.instance_id, spec.FAIL_TO_PASS))
        return real(log, spec)

    monkeypatch.setitem(PARSER_REGISTRY, "parse_log_pytest", spy)
    resolved, report, _ = g.grade("PASSED t.py::a\n", 0, inst(["t.py::a"]))
    assert resolved and report["FAIL_TO_PASS"] == {"success": ["t.py::a"], "failure": []}
    assert seen and seen[0][1:] == ("swe-mini__demo-1", ["t.py::a"])
    assert "PASSED t.py::a" in seen[0][0] and START_TEST_OUTPUT not in seen[0][0]


def test_fail_to_pass_and_pass_to_pass_rules():
    resolved, report, _ = g.grade(LOG, 1, inst(["tests/test_core.py::test_add"], ["tests/test_core.py::test_zero"]))
    assert not resolved and report["FAIL_TO_PASS"]["failure"] == ["tests/test_core.py::test_add"]
    assert report["PASS_TO_PASS"]["success"] == ["tests/test_core.py::test_zero"]
    # a skipped test keeps a PASS_TO_PASS test; a skipped or missing FAIL_TO_PASS test fails
    ok, _, _ = g.grade(LOG, 1, inst([], ["tests/test_core.py::test_zero", "tests/test_core.py::test_skip"]))
    assert ok
    ok, report, _ = g.grade(LOG, 1, inst(["tests/test_core.py::test_skip", "tests/test_core.py::nope"]))
    assert not ok and len(report["FAIL_TO_PASS"]["failure"]) == 2
    xfail = "XFAIL t.py::a - known\nPASSED t.py::b\n"
    assert g.grade(xfail, 0, inst(["t.py::a"], ["t.py::b"]))[0]


def test_cases_where_swebench_differs_from_a_plain_reading():
    # a truncated parametrized id (as in some hub FAIL_TO_PASS lists) matches its full id
    assert g.grade("PASSED t.py::test_p[log(photon-1]\n", 0, inst(["t.py::test_p[log(photon"]))[0]
    # only summary lines at the start of a line count: indented output is not a result
    ok, report, _ = g.grade("    PASSED t.py::a\nPASSED t.py::b\n", 0, inst(["t.py::a"], ["t.py::b"]))
    assert not ok and report["FAIL_TO_PASS"]["failure"] == ["t.py::a"]
    # XPASS is not a swebench status: a FAIL_TO_PASS test that only XPASSes is missing
    assert not g.grade("XPASS t.py::a\n", 0, inst(["t.py::a"]))[0]
    # pytest's "SKIPPED [1] path:line: reason" summary is not a test named "[1]"
    ok, _, _ = g.grade("PASSED t.py::a\nSKIPPED [1] t.py:7: no network\n", 0, inst(["t.py::a"], ["[1]"]))
    assert not ok


def test_repository_parser_from_swebench():
    assert g.log_parser("swe-mini/chunked") == "parse_log_pytest"
    assert g.log_parser("pylint-dev/pylint") == "parse_log_pytest_options"
    assert g.log_parser("scikit-learn/scikit-learn") == "parse_log_pytest_v2"
    assert g.log_parser("django/django") == "parse_log_pytest"  # not a pytest log parser: ours is a pytest log
    # parse_log_pytest_options shortens path-like parameters, as pylint's FAIL_TO_PASS ids are written
    log = "PASSED tests/test_f.py::test_func[/work/repo/tests/functional/a.py]\n"
    f2p = ["tests/test_f.py::test_func[/a.py]"]
    assert g.grade(log, 0, inst(f2p, repo="pylint-dev/pylint", iid="pylint-dev__pylint-1"))[0]
    assert not g.grade(log, 0, inst(f2p))[0]


def test_exit_code_must_agree_with_the_log():
    passed = "PASSED t.py::a\nPASSED t.py::b\n"
    assert g.grade(passed, 0, inst(["t.py::a"], ["t.py::b"]))[0]
    ok, _, note = g.grade(passed, 1, inst(["t.py::a"], ["t.py::b"]))  # printed PASSED lines, but pytest failed
    assert not ok and "swebench: no usable test results" in note  # swebench's own check
    assert not g.grade(passed, 2, inst(["t.py::a"]))[0]
    assert not g.grade(passed, -9, inst(["t.py::a"]))[0]
    assert not g.grade(passed, None, inst(["t.py::a"]))[0]
    # swebench alone resolves this (the failing test is in neither list); the exit-code rule does not
    ok, _, note = g.grade(passed + "FAILED t.py::other - boom\n", 0, inst(["t.py::a"]))
    assert not ok and note == "exit code 0 but the log lists failures"
    assert not g.exit_code_consistent(0, {"t.py::a": "FAILED"})[0]
    ok, _, note = g.grade("no tests ran\n", 5, inst(["t.py::a"]))
    assert not ok and "exit code 5" in note


def test_markers_printed_by_the_tests_are_defused():
    spoof = (f"PASSED t.py::a\n{END_TEST_OUTPUT}\n{TEST_EXIT_CODE}: 0\n>{START_TEST_OUTPUT}\n"
             "FAILED t.py::b - boom\n")
    framed = g.framed_log(spoof, 1)
    for marker in (START_TEST_OUTPUT, END_TEST_OUTPUT, TEST_EXIT_CODE):
        assert framed.count(marker) == 1
    assert framed.startswith(START_TEST_OUTPUT) and framed.endswith(f"{TEST_EXIT_CODE}: 1\n")
    ok, report, _ = g.grade(spoof, 1, inst(["t.py::a", "t.py::b"]))
    assert not ok and report["FAIL_TO_PASS"]["failure"] == ["t.py::b"]
    # a log that claims the patch did not apply only hurts itself, and is defused all the same
    assert g.grade("PASSED t.py::a\n>>>>> Patch Apply Failed\n", 0, inst(["t.py::a"]))[0]
