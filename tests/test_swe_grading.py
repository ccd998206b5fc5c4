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


def grade3(*args, **kwargs):
    r = g.grade(*args, **kwargs)
    return r.resolved, r.tests, r.note


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
    resolved, report, _ = grade3("PASSED t.py::a\n", 0, inst(["t.py::a"]))
    assert resolved and report["FAIL_TO_PASS"] == {"success": ["t.py::a"], "failure": []}
    assert seen and seen[0][1:] == ("swe-mini__demo-1", ["t.py::a"])
    assert "PASSED t.py::a" in seen[0][0] and START_TEST_OUTPUT not in seen[0][0]


def test_fail_to_pass_and_pass_to_pass_rules():
    resolved, report, _ = grade3(LOG, 1, inst(["tests/test_core.py::test_add"], ["tests/test_core.py::test_zero"]))
    assert not resolved and report["FAIL_TO_PASS"]["failure"] == ["tests/test_core.py::test_add"]
    assert report["PASS_TO_PASS"]["success"] == ["tests/test_core.py::test_zero"]
    # a skipped test keeps a PASS_TO_PASS test; a skipped or missing FAIL_TO_PASS test fails
    ok, _, _ = grade3(LOG, 1, inst([], ["tests/test_core.py::test_zero", "tests/test_core.py::test_skip"]))
    assert ok
    ok, report, _ = grade3(LOG, 1, inst(["tests/test_core.py::test_skip", "tests/test_core.py::nope"]))
    assert not ok and len(report["FAIL_TO_PASS"]["failure"]) == 2
    xfail = "XFAIL t.py::a - known\nPASSED t.py::b\n"
    assert grade3(xfail, 0, inst(["t.py::a"], ["t.py::b"]))[0]


def test_cases_where_swebench_differs_from_a_plain_reading():
    # a truncated parametrized id (as in some hub FAIL_TO_PASS lists) matches its full id
    assert grade3("PASSED t.py::test_p[log(photon-1]\n", 0, inst(["t.py::test_p[log(photon"]))[0]
    # only summary lines at the start of a line count: indented output is not a result
    ok, report, _ = grade3("    PASSED t.py::a\nPASSED t.py::b\n", 0, inst(["t.py::a"], ["t.py::b"]))
    assert not ok and report["FAIL_TO_PASS"]["failure"] == ["t.py::a"]
    # XPASS is not a swebench status: a FAIL_TO_PASS test that only XPASSes is missing
    assert not grade3("XPASS t.py::a\n", 0, inst(["t.py::a"]))[0]
    # pytest's "SKIPPED [1] path:line: reason" summary is not a test named "[1]"
    ok, _, _ = grade3("PASSED t.py::a\nSKIPPED [1] t.py:7: no network\n", 0, inst(["t.py::a"], ["[1]"]))
    assert not ok


def test_repository_parser_from_swebench():
    assert g.log_parser("swe-mini/chunked") == "parse_log_pytest"
    assert g.log_parser("pylint-dev/pylint") == "parse_log_pytest_options"
    assert g.log_parser("scikit-learn/scikit-learn") == "parse_log_pytest_v2"
    assert g.log_parser("django/django") == "parse_log_django"
    assert g.log_parser("sympy/sympy") == "parse_log_sympy"
    # parse_log_pytest_options shortens path-like parameters, as pylint's FAIL_TO_PASS ids are written
    log = "PASSED tests/test_f.py::test_func[/work/repo/tests/functional/a.py]\n"
    f2p = ["tests/test_f.py::test_func[/a.py]"]
    assert grade3(log, 0, inst(f2p, repo="pylint-dev/pylint", iid="pylint-dev__pylint-1"))[0]
    assert not grade3(log, 0, inst(f2p))[0]


def test_exit_code_must_agree_with_the_log():
    passed = "PASSED t.py::a\nPASSED t.py::b\n"
    assert grade3(passed, 0, inst(["t.py::a"], ["t.py::b"]))[0]
    ok, _, note = grade3(passed, 1, inst(["t.py::a"], ["t.py::b"]))  # printed PASSED lines, but pytest failed
    assert not ok and "swebench: no usable test results" in note  # swebench's own check
    assert not grade3(passed, 2, inst(["t.py::a"]))[0]
    assert not grade3(passed, -9, inst(["t.py::a"]))[0]
    assert not grade3(passed, None, inst(["t.py::a"]))[0]
    # exit 0 with a FAILED line of a test that is not the instance's (pytest's own suite prints
    # nested runs' summaries): consistent; exit 0 with one of the instance's tests failing: not
    ok, _, note = grade3(passed + "FAILED t.py::other - boom\n", 0, inst(["t.py::a"]))
    assert ok and note == ""
    ok, _, note = grade3("PASSED t.py::a\nFAILED t.py::b - boom\n", 0, inst(["t.py::a"], ["t.py::b"]))
    assert not ok and note == "exit code 0 but the log lists a failing test of the instance"
    assert not g.exit_code_consistent(0, {"t.py::a": "FAILED"})[0]
    assert g.exit_code_consistent(0, {"t.py::a": "PASSED", "t.py::x": "FAILED"}, ["t.py::a"])[0]
    ok, _, note = grade3("no tests ran\n", 5, inst(["t.py::a"]))
    assert not ok and "exit code 5" in note


def test_markers_printed_by_the_tests_are_defused():
    spoof = (f"PASSED t.py::a\n{END_TEST_OUTPUT}\n{TEST_EXIT_CODE}: 0\n>{START_TEST_OUTPUT}\n"
             "FAILED t.py::b - boom\n")
    framed = g.framed_log(spoof, 1)
    for marker in (START_TEST_OUTPUT, END_TEST_OUTPUT, TEST_EXIT_CODE):
        assert framed.count(marker) == 1
    assert framed.startswith(START_TEST_OUTPUT) and framed.endswith(f"{TEST_EXIT_CODE}: 1\n")
    ok, report, _ = grade3(spoof, 1, inst(["t.py::a", "t.py::b"]))
    assert not ok and report["FAIL_TO_PASS"]["failure"] == ["t.py::b"]
    # a log that claims the patch did not apply only hurts itself, and is defused all the same
    assert grade3("PASSED t.py::a\n>>>>> Patch Apply Failed\n", 0, inst(["t.py::a"]))[0]


NESTED = """
testing/test_x.py::test_inner_run PASSED
==================================== PASSES ====================================
_________________________________ test_inner_run _________________________________
----------------------------- Captured stdout call -----------------------------
============================= test session starts ==============================
test_inner.py F                                                          [100%]
=========================== short test summary info ============================
FAILED test_inner.py::test_fails - assert 0
=========================== short test summary info ============================
PASSED testing/test_x.py::test_inner_run
PASSED testing/test_x.py::test_other
"""


def test_nested_pytest_output_does_not_unresolve():
    """pytest-dev/pytest's own tests print the summaries of the runs they start; a gold patch
    with exit code 0 resolves although FAILED lines of the inner run are in the log."""
    r = g.grade(NESTED, 0, inst(["testing/test_x.py::test_inner_run"], ["testing/test_x.py::test_other"],
                                repo="pytest-dev/pytest", iid="pytest-dev__pytest-1"))
    assert r.resolved and r.note == "" and r.unmatched == []


def test_unmatched_ids_are_reported():
    r = g.grade("PASSED t.py::a\nPASSED t.py::b[x-1]\n", 0, inst(["t.py::a", "t.py::b[x"], ["t.py::gone"]))
    assert not r.resolved and r.unmatched == ["t.py::gone"]  # b[x is matched as swebench matches truncated ids
    assert r.collected == 2


DJANGO_LOG = """Testing against Django installed in '/repo/django'
test_ascii_validator (auth_tests.test_validators.UsernameValidatorsTests) ... ok
test_unicode_validator (auth_tests.test_validators.UsernameValidatorsTests) ... FAIL

======================================================================
FAIL: test_unicode_validator (auth_tests.test_validators.UsernameValidatorsTests)
----------------------------------------------------------------------
Ran 2 tests in 0.003s

FAILED (failures=1)
"""


def test_django_log_graded_by_the_django_parser():
    f2p = ["test_unicode_validator (auth_tests.test_validators.UsernameValidatorsTests)"]
    p2p = ["test_ascii_validator (auth_tests.test_validators.UsernameValidatorsTests)"]
    django = inst(f2p, p2p, repo="django/django", iid="django__django-1")
    r = g.grade(DJANGO_LOG, 1, django)
    assert not r.resolved and r.tests["FAIL_TO_PASS"]["failure"] == f2p and r.tests["PASS_TO_PASS"]["success"] == p2p
    fixed = DJANGO_LOG.replace("... FAIL", "... ok").replace("FAILED (failures=1)", "OK")
    assert g.grade(fixed, 0, django).resolved
    assert not g.grade(fixed, 0, django, parser="parse_log_pytest").resolved  # the parser matters
