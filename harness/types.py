"""The small typed records that cross module boundaries.

Problem -> (Task.prompt) -> Request -> (Backend.generate) -> Completion -> (Task.score) -> Score
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
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


class Reason(StrEnum):
    """Why a sample scored as it did. A str, so `score.reason == "ok"` holds; written to
    scores.jsonl as its value."""

    OK = "ok"                    # an answer was found and graded (correct or not)
    NO_ANSWER = "no_answer"      # the completion ended without an answer
    TRUNCATED = "truncated"      # it hit the token limit before answering
    TIMEOUT = "timeout"          # grading (or the tests) ran out of time
    UNPARSED = "unparsed"        # an answer was found but could not be read
    ERROR = "error"              # generation or the scorer failed: not a wrong answer
    NO_PATCH = "no_patch"        # code tasks: no diff in the completion
    APPLY_FAILED = "apply_failed"  # code tasks: the diff did not apply

    @classmethod
    def _missing_(cls, value: object) -> Reason | None:
        # code tasks record why a patch was rejected as rejected_<why>: an open family of values
        if isinstance(value, str) and value.startswith("rejected_"):
            member = str.__new__(cls, value)
            member._name_ = value.upper()
            member._value_ = value
            return cls._value2member_map_.setdefault(value, member)  # type: ignore[return-value]
        return None


@dataclass
class Score:
    id: str
    sample: int
    correct: bool
    extracted: str | None
    reason: Reason
    finish_reason: str | None = None
    output_tokens: int | None = None
    prompt_tokens: int | None = None
    rule: str | None = None  # which extraction rule found the answer (boxed, phrase, statement, ...)
    by_grader: dict[str, bool] | None = None  # the verdict under every grader profile
    extracted_by_grader: dict[str, str | None] | None = None  # answers of profiles that extracted another

    def __post_init__(self) -> None:
        if not isinstance(self.reason, Reason):
            self.reason = Reason(self.reason)

    @property
    def cut_off(self) -> bool:
        """The completion was cut off: it hit the token limit, or (no finish reason recorded, as in
        a replay) its grader found it unfinished (a think block never closed, text stopping
        mid-sentence or in a loop)."""
        if self.finish_reason == "length":
            return True
        return self.finish_reason not in ("stop", "error") and self.reason == Reason.TRUNCATED

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["reason"] = str(self.reason)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Score:
        """A record of scores.jsonl; fields this version does not know are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


REASONS = tuple(r.value for r in Reason)
