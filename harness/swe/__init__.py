"""SWE-bench-style evaluation: instances, repositories, executors and grading.

An *instance* is one row of a SWE-bench dataset (the hub schema): a repository at a base commit,
an issue text, a gold patch, a test patch and the tests that must flip (FAIL_TO_PASS) or keep
passing (PASS_TO_PASS). An *executor* takes an instance and a candidate patch and says whether the
patch resolves the issue:

- ``local`` (harness.swe.executors.local): a fresh working copy in the instance's environment
  (harness.swe.envs), the repository's own test command in a contained subprocess;
- ``docker`` (harness.swe.executors.docker): the official swebench harness in its Docker images.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from typing import Any

from harness.errors import DataError, HarnessError

FIELDS = ("instance_id", "repo", "base_commit", "patch", "test_patch", "problem_statement",
          "FAIL_TO_PASS", "PASS_TO_PASS")
OPTIONAL_FIELDS = ("hints_text", "version", "environment_setup_commit", "created_at")
# What swebench 5.x's harness needs of an instance to run it in Docker (the SWE-bench/* hub datasets
# carry them; the original princeton-nlp ones do not). Kept in Instance.extra and written back.
HARNESS_FIELDS = ("image", "eval_script", "log_parser", "eval_type", "image_assets")

# Outcome of one executed attempt (the sample's `reason`). Rejections are "rejected_<why>".
OK = "ok"                  # the tests ran; resolved or not
NO_PATCH = "no_patch"      # no diff could be extracted from the completion (or it was empty)
APPLY_FAILED = "apply_failed"
TIMEOUT = "timeout"
ERROR = "error"

SWEBENCH_VERSION = "5.0.2"  # the version grading is tested with (pyproject's swe extra, the CPU lock)


def require_swebench() -> None:
    """SWE-bench tasks are graded by the swebench package: say how to get it when it is missing."""
    if importlib.util.find_spec("swebench") is None:
        raise HarnessError(
            f"SWE-bench tasks are graded by the swebench package (swebench=={SWEBENCH_VERSION}), which is "
            "not installed: pip install -e '.[swe]' (make install does it)"
        )


def _test_list(value: Any, field_name: str, iid: str) -> list[str]:
    """FAIL_TO_PASS / PASS_TO_PASS: JSON-encoded strings on the hub, real lists accepted."""
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError as e:
            raise DataError(f"instance {iid}: {field_name} is neither a list nor a JSON list: {e}") from e
    if not isinstance(value, (list, tuple)) or not all(isinstance(t, str) for t in value):
        raise DataError(f"instance {iid}: {field_name} must be a list of test ids, got {type(value).__name__}")
    return list(value)


@dataclass(frozen=True)
class Instance:
    instance_id: str
    repo: str  # "owner/name"
    base_commit: str
    patch: str  # the gold patch
    test_patch: str
    problem_statement: str
    fail_to_pass: tuple[str, ...]
    pass_to_pass: tuple[str, ...]
    hints_text: str = ""
    version: str | None = None
    environment_setup_commit: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Instance:
        iid = str(row.get("instance_id", "?"))
        missing = [f for f in FIELDS if f not in row]
        if missing:
            raise DataError(f"instance {iid}: missing field {missing[0]!r} (fields present: {sorted(row)})")
        return cls(
            instance_id=iid,
            repo=str(row["repo"]),
            base_commit=str(row["base_commit"]),
            patch=str(row["patch"] or ""),
            test_patch=str(row["test_patch"] or ""),
            problem_statement=str(row["problem_statement"] or ""),
            fail_to_pass=tuple(_test_list(row["FAIL_TO_PASS"], "FAIL_TO_PASS", iid)),
            pass_to_pass=tuple(_test_list(row["PASS_TO_PASS"], "PASS_TO_PASS", iid)),
            hints_text=str(row.get("hints_text") or ""),
            version=None if row.get("version") is None else str(row["version"]),
            environment_setup_commit=row.get("environment_setup_commit"),
            extra={k: row[k] for k in HARNESS_FIELDS if row.get(k) is not None},
        )

    def to_row(self) -> dict[str, Any]:
        """The hub schema (test lists JSON-encoded) and the harness fields the row had."""
        return {
            "instance_id": self.instance_id, "repo": self.repo, "base_commit": self.base_commit,
            "patch": self.patch, "test_patch": self.test_patch,
            "problem_statement": self.problem_statement, "hints_text": self.hints_text,
            "FAIL_TO_PASS": json.dumps(list(self.fail_to_pass)),
            "PASS_TO_PASS": json.dumps(list(self.pass_to_pass)),
            "version": self.version, "environment_setup_commit": self.environment_setup_commit,
            **self.extra,
        }


@dataclass
class ExecResult:
    """What an executor found for one (instance, patch) attempt."""

    status: str  # ok | no_patch | rejected_<why> | apply_failed | timeout | error
    resolved: bool = False
    detail: str = ""  # human-readable: why rejected, which tests failed, which limit was hit
    tests: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # FAIL_TO_PASS/PASS_TO_PASS success/failure
    limits: list[str] = field(default_factory=list)  # resource limits the tests ran into
    seconds: float = 0.0
    log_tail: str = ""
    collected: int | None = None  # test results the log parser found (None: the tests did not run)
    unmatched: list[str] = field(default_factory=list)  # FAIL_TO_PASS/PASS_TO_PASS ids absent from the log

    @property
    def applied(self) -> bool:
        return self.status in (OK, TIMEOUT)

    def summary(self) -> str:
        parts = [self.status if self.status != OK else ("resolved" if self.resolved else "unresolved")]
        for key, label in (("FAIL_TO_PASS", "F2P"), ("PASS_TO_PASS", "P2P")):
            t = self.tests.get(key)
            if t is not None:
                n = len(t["success"]) + len(t["failure"])
                parts.append(f"{label} {len(t['success'])}/{n}")
        if self.unmatched:
            parts.append(f"{len(self.unmatched)} ids not in the log")
        if self.limits:
            parts.append("limits: " + ",".join(self.limits))
        if self.detail:
            parts.append(self.detail)
        return "; ".join(parts)[:2000]
