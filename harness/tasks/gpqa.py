"""Four-way multiple choice science questions: GPQA (Diamond: 198 questions).

Each hub row holds a question, its correct answer and three incorrect ones, always in that order.
The four answers are shuffled per question, deterministically from `task.shuffle_seed` and the
question's id, so the correct letter is spread over A-D and every run with the same seed asks the
same prompts. The shuffled order and the correct letter are stored in the problem's reference;
scoring reads them from there and never re-derives them.

Scoring: the answer text is found with the math task's rules (text after the last ``</think>``,
an unterminated think block has no answer, the last ``\\boxed{}``, else the last "answer is ..." /
"Answer: ..."), then mapped to a letter by `to_letter`. The letter is what is stored in
`Score.extracted`, so majority voting (cons@k) votes over letters.
"""

from __future__ import annotations

import hashlib
import random
import re
import string
from collections.abc import Mapping, Sequence

from harness.errors import ConfigError, DataError
from harness.scoring.math import answer_region, extract_answer, normalise
from harness.tasks import Task, load_rows, require_fields, sample_score
from harness.types import Completion, Message, Problem, Score

LETTERS = "ABCD"

DEFAULT_TEMPLATE = (
    "Answer the following multiple-choice question. Think it through step by step, then give the "
    "letter of the correct choice (A, B, C or D) within \\boxed{{}}.\n\n"
    "{question}\n\nA) {A}\nB) {B}\nC) {C}\nD) {D}"
)
_PLACEHOLDERS = {"question", "A", "B", "C", "D", "instruction"}


# -- the shuffle -----------------------------------------------------------------------------------

def choice_order(problem_id: str, seed: int) -> list[int]:
    """The hub answers in prompt order: order[i] is the index, in (correct, incorrect 1,
    incorrect 2, incorrect 3), of the answer shown under LETTERS[i]. Depends only on the seed
    and the id (not on the row's position, the process or PYTHONHASHSEED)."""
    digest = hashlib.sha256(f"gpqa-shuffle:{seed}:{problem_id}".encode()).digest()
    order = list(range(len(LETTERS)))
    random.Random(int.from_bytes(digest[:8], "big")).shuffle(order)
    return order


# -- answer text -> letter -------------------------------------------------------------------------

_WRAPPERS = re.compile(r"\\(?:text|textbf|textrm|textit|mathrm|mathbf|mathit|mathsf|emph|bf)\s*\{([^{}]*)\}")
_MATH_DELIMS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_PREFIX = re.compile(
    r"^(?:the\s+)?(?:final\s+|correct\s+|best\s+)*(?:answer|option|choice)(?:\s+is)?\s*[:\-]?\s*",
    re.IGNORECASE,
)
_BARE = re.compile(r"[(\[]?\s*([A-Da-d])\s*[)\]]?\.?")
# a letter label followed by text: "(C) 42 K", "C) 42 K", "C. 42 K", "C: 42 K"
_LABELLED = re.compile(r"(?:\(([A-D])\)|([A-D])[).:])\s+(\S.*)", re.DOTALL)
_OTHER_LABEL = re.compile(r"(?:\(([A-D])\)|(?<![A-Za-z])([A-D])\))")


def _clean(s: str) -> str:
    s = s.strip()
    for _ in range(4):  # peel nested wrappers: \text{\textbf{(C)}}, $\text{C}$, **C**
        before = s
        s = _WRAPPERS.sub(r"\1", s).strip()
        for left, right in _MATH_DELIMS:
            if s.startswith(left) and s.endswith(right) and len(s) >= len(left) + len(right):
                s = s[len(left): len(s) - len(right)].strip()
        s = s.strip("*_ \t\n").strip()
        s = s.rstrip(".").strip()
        if s == before:
            break
    return s


def _text_key(s: str) -> str:
    s = _clean(s).lower().replace("$", "")
    s = re.sub(r"\\[,;:! ]", " ", s)  # LaTeX spacing commands
    return re.sub(r"\s+", " ", s).strip()


def to_letter(answer: str, choices: Mapping[str, str], match_text: bool = True) -> str | None:
    """The letter an extracted answer names, or None when it names none (or several).

    Accepted: a bare letter ("C", "(C)", "\\text{(C)}", "**C**"), a letter after a phrase
    ("Answer: C", "option (C)", "the correct answer is C"), a letter label followed by its text
    ("(C) 42 K"), and, with `match_text`, the exact text of one choice (whitespace, case, math
    delimiters and LaTeX spacing aside)."""
    s = _clean(answer)
    if not s:
        return None
    for candidate in (s, _clean(_PREFIX.sub("", s, count=1))):
        m = _BARE.fullmatch(candidate)
        if m:
            return m.group(1).upper()
        m = _LABELLED.fullmatch(candidate)
        if m:
            letter = m.group(1) or m.group(2)
            others = {a or b for a, b in _OTHER_LABEL.findall(m.group(3))} - {letter}
            if not others:
                return letter
            return None
    if match_text:
        key, norm = _text_key(s), normalise(s)
        hits = {letter for letter, text in choices.items()
                if _text_key(text) == key or (norm and normalise(text) == norm)}
        if len(hits) == 1:
            return hits.pop()
    return None


def last_line_letter(region: str) -> str | None:
    """A bare letter on the last non-empty line of the answer region ("(C)", "**C**"), the only
    fallback when no boxed answer or answer phrase exists."""
    lines = [ln for ln in region.splitlines() if ln.strip()]
    if not lines:
        return None
    m = _BARE.fullmatch(_clean(lines[-1]))
    return m.group(1).upper() if m and m.group(1).isupper() else None


# -- the task --------------------------------------------------------------------------------------

class GPQATask(Task):
    def __init__(self, cfg, prompt_cfg):
        super().__init__(cfg, prompt_cfg)
        fields = cfg["fields"]
        self.id_field: str = fields["id"]
        self.question_field: str = fields["question"]
        self.correct_field: str = fields["correct"]
        incorrect = fields["incorrect"]
        if isinstance(incorrect, str) or len(incorrect) != len(LETTERS) - 1:
            raise ConfigError("task.fields.incorrect", f"needs {len(LETTERS) - 1} field names, got {incorrect!r}")
        self.incorrect_fields: list[str] = [str(f) for f in incorrect]
        seed = cfg.get("shuffle_seed")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError("task.shuffle_seed", f"must be an integer, got {seed!r}")
        self.seed: int = seed
        self.template: str = prompt_cfg.get("template") or DEFAULT_TEMPLATE
        _check_template(self.template)
        scoring = cfg.get("scoring") or {}
        self.match_text = bool(scoring.get("match_choice_text", True))
        self.last_line = bool(scoring.get("last_line_letter", True))
        self.think_prefilled = bool(prompt_cfg.get("think_prefilled", False))

    def load(self) -> list[Problem]:
        rows, source = load_rows(self.cfg)
        where = source.get("path") or source.get("dataset")
        meta_fields = list(self.cfg.get("group_by") or [])
        answer_fields = [self.correct_field, *self.incorrect_fields]
        require_fields(rows, [self.id_field, self.question_field, *answer_fields, *meta_fields], where,
                       non_empty=[self.id_field, self.question_field, self.correct_field], id_field=self.id_field)
        problems: list[Problem] = []
        seen: set[str] = set()
        for r in rows:
            pid = str(r[self.id_field]).strip()
            if pid in seen:
                raise DataError(f"{where}: duplicate problem id {pid!r} in field {self.id_field!r}")
            seen.add(pid)
            answers = [str(r[f] if r[f] is not None else "").strip() for f in answer_fields]
            empty = [f for f, a in zip(answer_fields, answers, strict=True) if not a]
            if empty:
                raise DataError(f"{where}: problem {pid!r} has an empty {empty[0]!r}")
            order = choice_order(pid, self.seed)
            choices = {letter: answers[i] for letter, i in zip(LETTERS, order, strict=True)}
            problems.append(
                Problem(
                    id=pid,
                    inputs={"question": str(r[self.question_field]).strip(), **choices},
                    reference={"answer": LETTERS[order.index(0)], "order": order, "seed": self.seed},
                    meta={f: r[f] for f in meta_fields},
                )
            )
        limit = self.cfg.get("limit")
        if limit:
            problems = problems[: int(limit)]
        source["problems"] = len(problems)
        source["shuffle_seed"] = self.seed
        self.source = source
        return problems

    def prompt(self, problem: Problem) -> list[Message]:
        user = self.template.format(
            **problem.inputs, instruction=self.prompt_cfg.get("instruction") or ""
        ).strip()
        return self.chat(user)

    def choices(self, problem: Problem) -> dict[str, str]:
        return {letter: problem.inputs[letter] for letter in LETTERS}

    def score(self, problem: Problem, completion: Completion) -> Score:
        def result(correct: bool, extracted: str | None, reason: str) -> Score:
            return sample_score(problem, completion, correct, extracted, reason)

        if completion.error is not None or completion.finish_reason == "error":
            return result(False, None, "error")
        truncated = completion.finish_reason == "length"
        prefilled = self.think_prefilled and completion.reasoning is None
        ex = extract_answer(completion.text, think_prefilled=prefilled, finish_reason=completion.finish_reason)
        letter: str | None = None
        if ex.answer is not None:
            letter = to_letter(ex.answer, self.choices(problem), self.match_text)
            if letter is None:
                return result(False, None, "unparsed")
        elif self.last_line:
            region = answer_region(completion.text, prefilled)
            letter = last_line_letter(region) if region is not None else None
        if letter is None:
            return result(False, None, "truncated" if truncated else "no_answer")
        return result(letter == problem.reference["answer"], letter, "ok")


def _check_template(template: str) -> None:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as e:
        raise ConfigError("task.prompt_template", f"is not a valid format string: {e}") from e
    unknown = sorted(names - _PLACEHOLDERS)
    if unknown:
        raise ConfigError("task.prompt_template", f"unknown placeholder {{{unknown[0]}}} "
                          f"(known: {', '.join('{' + p + '}' for p in sorted(_PLACEHOLDERS))}; "
                          "write literal braces as {{ }})")
    missing: Sequence[str] = [p for p in ("question", *LETTERS) if p not in names]
    if missing:
        raise ConfigError("task.prompt_template", f"has no {{{missing[0]}}} placeholder")
