"""The small typed records that cross module boundaries.

Problem -> (Task.prompt) -> Request -> (Backend.generate) -> Completion -> (Task.score) -> Score
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

Message = dict[str, str]  # {"role": ..., "content": ...}


@dataclass(frozen=True)
class Problem:
    id: str
    inputs: dict[str, Any]  # fields the prompt is built from (e.g. {"problem": "..."})
    reference: Any  # the gold answer (or, for code tasks, what grading needs)
    meta: dict[str, Any] = field(default_factory=dict)  # subject, level, ... for breakdowns


@dataclass(frozen=True)
class SamplingParams:
    k: int  # samples per problem
    temperature: float
    top_p: float
    max_tokens: int
    seed: int
    top_k: int = -1


@dataclass(frozen=True)
class Request:
    problem_id: str
    messages: list[Message]
    samples: tuple[int, ...]  # the sample indices to produce (the j-th completion gets samples[j])
    params: SamplingParams
    seed: int  # derived per request so that samples are independent across problems

    @property
    def n(self) -> int:
        return len(self.samples)


@dataclass
class Completion:
    problem_id: str
    sample: int
    text: str
    finish_reason: str  # "stop" | "length" | "error" | other engine-specific reasons
    output_tokens: int | None = None
    prompt_tokens: int | None = None
    reasoning: str | None = None  # separate reasoning channel, when a server returns one
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["id"] = d.pop("problem_id")
        return {k: v for k, v in d.items() if v is not None or k in ("output_tokens",)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Completion:
        return cls(
            problem_id=str(d["id"]),
            sample=int(d["sample"]),
            text=d.get("text", ""),
            finish_reason=d.get("finish_reason", "stop"),
            output_tokens=d.get("output_tokens"),
            prompt_tokens=d.get("prompt_tokens"),
            reasoning=d.get("reasoning"),
            error=d.get("error"),
        )


@dataclass
class Score:
    id: str
    sample: int
    correct: bool
    extracted: str | None
    reason: str  # ok | no_answer | truncated | timeout | unparsed | error
    finish_reason: str | None = None
    output_tokens: int | None = None
    prompt_tokens: int | None = None
    rule: str | None = None  # which extraction rule found the answer (boxed, phrase, statement, ...)
    by_grader: dict[str, bool] | None = None  # the verdict under every grader profile
    extracted_by_grader: dict[str, str | None] | None = None  # answers of profiles that extracted another

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


REASONS = ("ok", "no_answer", "truncated", "timeout", "unparsed", "error")
