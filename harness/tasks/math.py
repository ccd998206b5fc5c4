"""Math word problems with a single final answer: MATH-500, AIME 2024, AIME 2025.

Every completion is graded under every grader profile (strict, default, lenient) in the same pass;
`task.scoring.grader` chooses the one whose verdict is the sample's `correct`, and the others are
kept beside it (`Score.by_grader`) for the grader band of the report.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from harness.errors import ConfigError, DataError
from harness.scoring.math import GRADER_VERSION, GRADERS, MathGrader
from harness.tasks import Task, load_rows, require_fields, sample_score
from harness.types import Completion, Message, Problem, Score

log = logging.getLogger(__name__)


class MathTask(Task):
    def __init__(self, cfg, prompt_cfg):
        super().__init__(cfg, prompt_cfg)
        fields = cfg["fields"]
        self.id_field: str = fields["id"]
        self.problem_field: str = fields["problem"]
        self.answer_field: str = fields["answer"]
        scoring = cfg.get("scoring") or {}
        self.last_number_fallback = bool(scoring.get("last_number_fallback", False))
        self.timeout = float(scoring.get("timeout_seconds", 5))
        self.grader = str(scoring.get("grader") or "default")
        if self.grader not in GRADERS:
            raise ConfigError("task.scoring.grader", f"unknown grader {self.grader!r} (known: {', '.join(GRADERS)})")
        self.think_prefilled = bool(prompt_cfg.get("think_prefilled", False))
        self._grader: MathGrader | None = None

    def load(self) -> list[Problem]:
        rows, source = load_rows(self.cfg)
        where = str(source.get("path") or source.get("dataset"))
        meta_fields = list(self.cfg.get("group_by") or [])
        require_fields(rows, [self.id_field, self.problem_field, self.answer_field], where,
                       non_empty=[self.id_field, self.problem_field, self.answer_field], id_field=self.id_field)
        absent = [f for f in meta_fields if not any(f in r for r in rows)]
        if absent:  # breakdowns only: a user's own file without them still runs
            log.warning("%s: no row has %s (task.group_by); the report has no breakdown by %s",
                        where, ", ".join(map(repr, absent)), " or ".join(absent))
            meta_fields = [f for f in meta_fields if f not in absent]
        problems: list[Problem] = []
        seen: set[str] = set()
        for r in rows:
            pid = str(r[self.id_field])
            if pid in seen:
                raise DataError(f"{where}: duplicate problem id {pid!r} in field {self.id_field!r}")
            seen.add(pid)
            problems.append(
                Problem(
                    id=pid,
                    inputs={"problem": r[self.problem_field]},
                    reference=str(r[self.answer_field]),
                    meta={f: r.get(f) for f in meta_fields},
                )
            )
        limit = self.cfg.get("limit")
        if limit:
            problems = problems[: int(limit)]
        source["problems"] = len(problems)
        self.source = source
        return problems

    def prompt(self, problem: Problem) -> list[Message]:
        template: str = self.prompt_cfg.get("template") or "{problem}"
        user = template.format(
            problem=problem.inputs["problem"], instruction=self.prompt_cfg.get("instruction") or ""
        ).strip()
        return self.chat(user)

    def score(self, problem: Problem, completion: Completion) -> Score:
        if completion.error is not None or completion.finish_reason == "error":
            return replace(sample_score(problem, completion, False, None, "error"), rule="none",
                           by_grader=dict.fromkeys(GRADERS, False))
        if self._grader is None:
            self._grader = MathGrader(self.timeout, self.last_number_fallback)
        graded = self._grader.grade(
            completion.text, problem.reference, finish_reason=completion.finish_reason,
            think_prefilled=self.think_prefilled and completion.reasoning is None,
        )
        mine = graded[self.grader]
        others = {p: g.extracted for p, g in graded.items() if g.extracted != mine.extracted}
        return replace(sample_score(problem, completion, mine.correct, mine.extracted, mine.reason),
                       rule=mine.rule, by_grader={p: g.correct for p, g in graded.items()},
                       extracted_by_grader=others or None)

    def same_answer(self, a: str, b: str) -> bool:
        """Math equivalence (`0.5` = `1/2`), via math-verify: harness/equivalence.py."""
        from harness.equivalence import math_equivalence

        return math_equivalence(self.timeout).same(a, b)

    def extra_metrics(self, scores: list[Score]) -> dict[str, Any]:
        """pass@1, its standard error and cons@k under every grader profile, and which grader
        (and version) decided `correct`."""
        from harness.scoring.profiles import by_grader_metrics

        out: dict[str, Any] = {"grader": {"profile": self.grader, "version": GRADER_VERSION}}
        by = by_grader_metrics(scores)
        if by:
            out["by_grader"] = by
        return out

    def __getstate__(self) -> dict[str, Any]:  # the grader is rebuilt in each worker process
        state = dict(self.__dict__)
        state["_grader"] = None
        return state
