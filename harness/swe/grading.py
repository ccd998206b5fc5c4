"""Grading a pytest log the way the swebench harness grades it.

- The log of ``pytest -rA`` ends with one summary line per test: ``PASSED path::name``,
  ``FAILED path::name - message``, ``ERROR ...``, ``SKIPPED ...``, ``XFAIL ...``. The status map
  takes the first word as the status and the second as the test id (as swebench's pytest parser
  does).
- FAIL_TO_PASS: a test succeeds when PASSED or XFAIL; it fails when missing, FAILED, ERROR or
  SKIPPED.
- PASS_TO_PASS: a test succeeds when PASSED, XFAIL or SKIPPED; it fails otherwise.
- Resolved = every FAIL_TO_PASS and every PASS_TO_PASS test succeeds (an empty list counts as
  all succeeded).

One extra rule, because the log is written by the code under test: the exit code must agree
with the parsed lines. pytest exits 0 exactly when nothing failed and 1 when some test failed;
an exit code outside {0, 1} (interrupted, internal error, usage error, no tests, killed by a
signal), 0 with FAILED/ERROR lines, or 1 without any, makes the attempt unresolved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

STATUSES = ("PASSED", "FAILED", "SKIPPED", "ERROR", "XFAIL", "XPASS")
F2P_OK = ("PASSED", "XFAIL")
P2P_OK = ("PASSED", "XFAIL", "SKIPPED")


def parse_pytest_log(log: str) -> dict[str, str]:
    """{test id: status} from the short test summary of `pytest -rA`."""
    status: dict[str, str] = {}
    for line in log.splitlines():
        line = line.strip()
        if not line.startswith(STATUSES):
            continue
        if line.startswith("FAILED"):
            line = line.replace(" - ", " ")
        words = line.split()
        if len(words) <= 1 or words[0] not in STATUSES:
            continue
        status[words[1]] = words[0]
    return status


def tests_report(status: Mapping[str, str], fail_to_pass: Iterable[str],
                 pass_to_pass: Iterable[str]) -> dict[str, dict[str, list[str]]]:
    report: dict[str, dict[str, list[str]]] = {
        "FAIL_TO_PASS": {"success": [], "failure": []},
        "PASS_TO_PASS": {"success": [], "failure": []},
    }
    for t in fail_to_pass:
        report["FAIL_TO_PASS"]["success" if status.get(t) in F2P_OK else "failure"].append(t)
    for t in pass_to_pass:
        report["PASS_TO_PASS"]["success" if status.get(t) in P2P_OK else "failure"].append(t)
    return report


def all_succeeded(report: Mapping[str, Mapping[str, list[str]]]) -> bool:
    return not report["FAIL_TO_PASS"]["failure"] and not report["PASS_TO_PASS"]["failure"]


def exit_code_consistent(exit_code: int | None, status: Mapping[str, str]) -> tuple[bool, str]:
    """Does pytest's exit code agree with the parsed summary lines?"""
    failed = any(s in ("FAILED", "ERROR") for s in status.values())
    if exit_code is None or exit_code < 0:
        return False, f"pytest was killed (signal {-exit_code if exit_code else '?'})"
    if exit_code == 0:
        return (not failed), ("" if not failed else "exit code 0 but the log lists failures")
    if exit_code == 1:
        return failed, ("" if failed else "exit code 1 but the log lists no failure")
    return False, f"pytest exit code {exit_code} (interrupted, internal error, usage error or no tests)"


def grade(log: str, exit_code: int | None, fail_to_pass: Iterable[str],
          pass_to_pass: Iterable[str]) -> tuple[bool, dict[str, dict[str, list[str]]], str]:
    """(resolved, tests report, note)."""
    status = parse_pytest_log(log)
    report = tests_report(status, fail_to_pass, pass_to_pass)
    consistent, note = exit_code_consistent(exit_code, status)
    return (all_succeeded(report) and consistent), report, note
