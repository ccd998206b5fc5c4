"""Math word problems with a single final answer: MATH-500, AIME 2024, AIME 2025."""

from __future__ import annotations

from typing import Any

from harness.errors import DataError
from harness.scoring.math import MathVerifier, extract_answer
from harness.tasks import Task, load_rows, require_fields, sample_score
from harness.types import Completion, Message, Problem, Score


class MathTask(Task):
    def __init__(self, cfg, prompt_cfg):
        super().__init__(cfg, prompt_cfg)
        fields = cfg["fields"]
        self.id_field: str = fields["id"]
        self.problem_field: str = fields["problem"]
        self.answer_field: str = fields["answer"]
        scoring = cfg.get("scoring") or {}
        self.last_number_fallback = bool(scoring.get("last_number_fallback", False))
        self.timeout = int(scoring.get("timeout_seconds", 5))
        self.think_prefilled = bool(prompt_cfg.get("think_prefilled", False))
        self._verifier: MathVerifier | None = None

    def load(self) -> list[Problem]:
        rows, source = load_rows(self.cfg)
        where = source.get("path") or source.get("dataset")
        meta_fields = list(self.cfg.get("group_by") or [])
        require_fields(rows, [self.id_field, self.problem_field, self.answer_field, *meta_fields], where,
                       non_empty=[self.id_field, self.problem_field, self.answer_field], id_field=self.id_field)
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
                    meta={f: r[f] for f in meta_fields},
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
        def result(correct: bool, extracted: str | None, reason: str) -> Score:
            return sample_score(problem, completion, correct, extracted, reason)

        if completion.error is not None or completion.finish_reason == "error":
            return result(False, None, "error")
        truncated = completion.finish_reason == "length"
        ex = extract_answer(
            completion.text,
            think_prefilled=self.think_prefilled and completion.reasoning is None,
            last_number_fallback=self.last_number_fallback,
        )
        if ex.answer is None:
            return result(False, None, "truncated" if truncated else "no_answer")
        if self._verifier is None:
            self._verifier = MathVerifier(self.timeout)
        correct, reason = self._verifier.check(problem.reference, ex.answer)
        return result(correct, ex.answer, reason)

    def same_answer(self, a: str, b: str) -> bool:
        """Math equivalence (`0.5` = `1/2`), via math-verify: harness/equivalence.py."""
        from harness.equivalence import math_equivalence

        return math_equivalence(self.timeout).same(a, b)

    def __getstate__(self) -> dict[str, Any]:  # the verifier is rebuilt in each worker process
        state = dict(self.__dict__)
        state["_verifier"] = None
        return state
