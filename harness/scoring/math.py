"""Grading final math answers: grader profiles, answer normalisation, equivalence via math-verify.

Three grader profiles, all computed from the same completion in one pass:

- ``strict``: the last ``\\boxed{}`` of the answer region, nothing else (the strict-format graders);
- ``default``: the extraction ladder of `harness.scoring.extract` (boxed, answer phrase, final
  statement, last-number fallback), where the statement and fallback rules only read completions
  that finished (`harness.scoring.finish`);
- ``lenient``: math-verify's own extraction over the whole answer region, as lighteval does (it
  credits whatever expression it finds, also in text that was cut off).

Rules common to all three: only the text after the last ``</think>`` counts; a think block that
never closed has no answer. When nothing follows a closed think block and the completion stopped by
itself (finish reason ``stop``; not when it is unknown), the end of the reasoning (its last 3,000
characters) stands in for the answer region, and
the rules apply to it as usual (a model that ends its reasoning on "The answer is \\boxed{2220}."
and closes the block has answered). For ``strict`` and ``default``, a completion that ends in a repetition loop
(or token salad) has no answer at all, whether it hit the limit or stopped inside the loop: a boxed
answer inside a loop is not an answer, and neither is one the model went on to loop after.

Equivalence is math-verify's (``parse`` + ``verify``, the gold wrapped in ``$...$``). What this
module adds is normalisation of the extracted answer before it reaches math-verify: thousands
separators (``1\\,000``, ``1 000``, thin spaces), decimal commas where unambiguous, units inside
``\\text{}``, number words, unicode relations and symbols.

Timeouts: each profile of each sample gets `timeout_seconds` in all (parsing and comparison
together), enforced with one interval timer (``SIGALRM``), so this module must run in the main
thread of a process (the scorer uses a process pool, never threads).
"""

from __future__ import annotations

import logging
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction

from harness.scoring.extract import (  # noqa: F401  (re-exported: the public names of math grading)
    THINK_CLOSE,
    THINK_OPEN,
    Extraction,
    answer_region,
    boxed_spans,
    extract_answer,
    last_boxed,
    last_closer,
    read_number_words,
    reasoning_tail,
)
from harness.scoring.finish import LOOP_TAIL_CHARS, runaway
from harness.scoring.finish import finished as is_finished

GRADERS = ("strict", "default", "lenient")
# Bumped whenever a change to extraction, normalisation or profiles can change a verdict; recorded
# with every scores file so that `harness rescore` can say what re-judged a run.
GRADER_VERSION = "5"


# -- normalisation for voting -------------------------------------------------------------------

_NORMALISE = [
    (re.compile(r"\\[dt]frac"), r"\\frac"),
    (re.compile(r"\\left|\\right|\\!|\\,|\\;|\\:"), ""),
    (re.compile(r"\\text\{\s*\}"), ""),
    (re.compile(r"\s+"), ""),
    (re.compile(r"\^\{?\\circ\}?|°"), ""),
]


def normalise(answer: str) -> str:
    """A cheap canonical string form, used to group answers for majority voting."""
    s = answer.strip().rstrip(".")
    for pat, rep in _NORMALISE:
        s = pat.sub(rep, s)
    if re.fullmatch(r"-?\d+(?:\.0+)?", s):
        s = str(int(float(s)))
    return s


# -- normalisation for math-verify --------------------------------------------------------------

_UNICODE = {
    "≥": r"\geq ", "≤": r"\leq ", "≠": r"\neq ", "−": "-", "–": "-", "∞": r"\infty ", "π": r"\pi ",
    "×": r"\times ", "·": r"\cdot ", "√": r"\sqrt ", "°": r"^\circ ", "∪": r"\cup ", "∩": r"\cap ",
    "±": r"\pm ", "∈": r"\in ", "⩾": r"\geq ", "⩽": r"\leq ",
}
_UNICODE_RE = re.compile("|".join(map(re.escape, _UNICODE)))
_UNICODE_ROOT = re.compile(r"√\s*(\d+(?:\.\d+)?|[A-Za-z]|\{[^{}]*\}|\([^()]*\))")
_ASCII_REL = [(re.compile(r">="), r"\\geq "), (re.compile(r"<="), r"\\leq "), (re.compile(r"!="), r"\\neq ")]
# thin and other spaces between digit groups: 1\,000  1\ 000  1~000  1{,}000  1 000 (U+2009 ...)
_THIN_THOUSANDS = re.compile(r"(?<=\d)(?:\\,|\\ |\\;|\\:|\\!|~|\{,\}|[\u2009\u202f\u00a0])(?=\d{3}(?!\d))")
_DECIMAL_BRACE_COMMA = re.compile(r"(?<=\d)\{,\}(?=\d)")
_SPACE_THOUSANDS = re.compile(r"-?\d{1,3}(?: \d{3})+(?:\.\d+)?")
_DECIMAL_COMMA = re.compile(r"(-?\d+),(\d{1,2}|\d{4,})")
_TEXT_WRAP = re.compile(r"\\(?:text|textbf|textrm|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_NUMBER_THEN_WORDS = re.compile(r"(-?[\d.,]+(?:/\d+)?)\s*(?:\\[,;! ]\s*)*(?:\\text\{\s*)?[A-Za-z][A-Za-z\s.\-^{}0-9]*\}?")
_NUMBER_WORDS_ONLY = re.compile(r"[A-Za-z][A-Za-z\s\-]*")


def _delimited(s: str) -> str:
    s = s.strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if s.startswith(left) and s.endswith(right) and len(s) > len(left) + len(right):
            return s[len(left):-len(right)].strip()
    return s


def prepare(answer: str, gold: str | None = None) -> str:
    """The extracted answer in a form math-verify reads as intended (see the module docstring).
    `gold` disambiguates: a decimal comma is read as one only when the gold is a single value."""
    s = _delimited(answer).rstrip(".").strip()
    gold_is_list = gold is not None and ("," in gold and not re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", gold.strip()))
    gold_has_words = gold is not None and re.search(r"[A-Za-z]{2,}", re.sub(r"\\[A-Za-z]+", "", gold)) is not None
    s = _UNICODE_ROOT.sub(lambda m: "\\sqrt{" + m.group(1).strip("(){}") + "}", s)  # √53 is \sqrt{53}
    s = _UNICODE_RE.sub(lambda m: _UNICODE[m.group()], s)
    for pat, rep in _ASCII_REL:
        s = pat.sub(rep, s)
    s = _THIN_THOUSANDS.sub("", s)
    s = _DECIMAL_BRACE_COMMA.sub(".", s)
    if _SPACE_THOUSANDS.fullmatch(s):
        s = s.replace(" ", "")
    if not gold_is_list:
        m = _DECIMAL_COMMA.fullmatch(s)
        if m:
            s = f"{m.group(1)}.{m.group(2)}"
    gold_has_relation = gold is not None and re.search(r"=|<|>|\\[lg]eq?\b|\\neq|\\in\b", gold) is not None
    if gold is not None and not gold_has_relation and not gold_is_list:
        # "\tan A = 2" -> "2": the value after the last top-level "=" (not inside braces)
        depth, cut = 0, -1
        for i, ch in enumerate(s):
            depth += (ch == "{") - (ch == "}")
            if ch == "=" and depth == 0 and s[i - 1:i] not in ("<", ">", "!"):
                cut = i
        if cut != -1 and s[cut + 1:].strip():
            s = s[cut + 1:].strip()
    if not gold_has_words:
        # "\text{5 cm}" -> "5 cm" -> "5"; "12 ways" -> "12"; "three" -> "3"
        whole = _TEXT_WRAP.fullmatch(s)
        if whole and re.match(r"\s*-?\d", whole.group(1)):
            s = whole.group(1).strip()
        m = _NUMBER_THEN_WORDS.fullmatch(s)
        if m:
            s = m.group(1).rstrip(".,")
        if _NUMBER_WORDS_ONLY.fullmatch(s):
            words = read_number_words(s)
            if re.fullmatch(r"\d+", words.strip()):
                s = words.strip()
    return s


def _as_latex(s: str) -> str:
    s = s.strip()
    if s.startswith("$") or s.startswith("\\(") or s.startswith("\\["):
        return s
    return f"${s}$"


_PLAIN_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")


def _fast_check(gold: str, pred: str) -> bool | None:
    """The verdict without math-verify when it is certain: the same canonical string, or two
    plain decimal numbers (compared exactly). None otherwise."""
    g, p = normalise(gold), normalise(pred)
    if g == p and g:
        return True
    if _PLAIN_NUMBER.fullmatch(g) and _PLAIN_NUMBER.fullmatch(p):
        return Fraction(g) == Fraction(p)
    return None


# -- timeouts -------------------------------------------------------------------------------------

class _Deadline(BaseException):
    """Raised by the interval timer; a BaseException so that no `except Exception` inside
    math-verify or sympy swallows it."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise _Deadline in this block after `seconds` (main thread only; elsewhere no limit)."""
    def fire(signum, frame):  # noqa: ARG001
        raise _Deadline()

    try:
        old = signal.signal(signal.SIGALRM, fire)
    except ValueError:  # not the main thread: no timer available
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# -- the verifier -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Graded:
    correct: bool
    extracted: str | None
    reason: str  # ok | no_answer | truncated | timeout | unparsed | error
    rule: str  # boxed | phrase | statement | fallback | lenient | none


class MathVerifier:
    """Equivalence of a predicted answer with the gold answer, via math-verify, with the answer
    normalised first (`prepare`). Also grades a whole answer region the way lighteval does
    (`lenient`)."""

    def __init__(self, timeout_seconds: float = 5):
        import math_verify  # imported here: workers import it once, the parent may never need it
        from math_verify import ExprExtractionConfig, LatexExtractionConfig

        logging.getLogger("math_verify").setLevel(logging.ERROR)  # it logs whole inputs on errors
        import math_verify.grader as _g
        import math_verify.parser as _p

        _g.TIMEOUT_WARNING_SHOWN = _p.TIMEOUT_WARNING_SHOWN = True  # our own timer bounds every call
        self._mv = math_verify
        self._configs = [LatexExtractionConfig(), ExprExtractionConfig()]
        self._lenient_configs = [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]
        self.timeout = timeout_seconds
        self._gold_cache: dict[str, list] = {}

    def _parse(self, s: str, configs=None) -> list:
        return self._mv.parse(s, extraction_config=configs or self._configs, parsing_timeout=None)

    def _gold(self, gold: str) -> list:
        if gold not in self._gold_cache:
            try:
                with deadline(self.timeout):
                    self._gold_cache[gold] = self._parse(_as_latex(prepare(gold, gold)))
            except _Deadline:
                self._gold_cache[gold] = []
        return self._gold_cache[gold]

    def _verify(self, g: list, p: list) -> bool:
        return bool(self._mv.verify(g, p, timeout_seconds=None, allow_set_relation_comp=True))

    def check(self, gold: str, predicted: str) -> tuple[bool, str]:
        """(correct, reason) with reason in ok | unparsed | timeout."""
        gold = str(gold)
        prepared = prepare(predicted, gold)
        fast = _fast_check(prepare(gold, gold), prepared)
        if fast is not None:
            return fast, "ok"
        gold_parsed = self._gold(gold)
        try:
            with deadline(self.timeout):
                pred_parsed = self._parse(_as_latex(prepared))
                if not pred_parsed or not gold_parsed:
                    # nothing math-verify understands: exact comparison of normalised strings
                    same = normalise(prepare(gold, gold)) == normalise(prepared) or normalise(gold) == normalise(predicted)
                    return same, ("ok" if same else "unparsed")
                if self._verify(gold_parsed, pred_parsed):
                    return True, "ok"
                if prepared != _delimited(predicted):  # the answer as written, in case normalising hurt
                    raw = self._parse(_as_latex(predicted))
                    if raw and self._verify(gold_parsed, raw):
                        return True, "ok"
                return False, "ok"
        except _Deadline:
            return False, "timeout"

    def check_region(self, gold: str, region: str) -> tuple[bool, str | None, str]:
        """math-verify over a whole answer region (lighteval's extraction): (correct, the
        extracted text, reason)."""
        gold = str(gold)
        gold_parsed = self._gold(gold)
        try:
            with deadline(self.timeout):
                pred = self._parse(region, self._lenient_configs)
                if not pred:
                    return False, None, "no_answer"
                extracted = str(pred[-1]) if len(pred) > 1 else str(pred[0])
                if not gold_parsed:
                    return False, extracted, "unparsed"
                return self._verify(gold_parsed, pred), extracted, "ok"
        except _Deadline:
            return False, None, "timeout"


# -- profiles ----------------------------------------------------------------------------------------

def _loops_through_closer(text: str, region: str) -> bool:
    """A loop whose repeated unit holds the think closer ("... \\boxed{5} </think> The answer is
    \\boxed{5}. </think> ..."): the answer region is only the last repeat, too short to show the
    loop. It is one when the region already appeared before the last closer and the whole text ends
    in a runaway (a model that loops in its reasoning and then answers once is not caught: its answer
    is new text)."""
    if not region.strip() or len(region) >= LOOP_TAIL_CHARS:
        return False  # a long region shows its own loop
    close = last_closer(text)
    return close > 0 and region in text[:close] and runaway(text)


class MathGrader:
    """Grades one completion under every profile (GRADERS) at once."""

    def __init__(self, timeout_seconds: float = 5, last_number_fallback: bool = False):
        self.verifier = MathVerifier(timeout_seconds)
        self.last_number_fallback = last_number_fallback

    def grade(self, text: str, gold: str, finish_reason: str | None = None, think_prefilled: bool = False,
              profiles: tuple[str, ...] = GRADERS) -> dict[str, Graded]:
        region = answer_region(text, think_prefilled)
        truncated = finish_reason == "length"
        if region is None:
            # a think block that never closed was cut off, unless the model itself stopped inside it
            none = Graded(False, None, "no_answer" if finish_reason == "stop" else "truncated", "none")
            return {p: none for p in profiles}
        if not region.strip() and finish_reason == "stop":
            # the think block closed and nothing followed: a model that ended its reasoning on its
            # answer and stopped has answered there. Only on a recorded stop: with the finish
            # reason unknown, a token limit may have fallen right after </think>
            region = reasoning_tail(text)
        done = is_finished(region, finish_reason)
        # a completion that ran away (a loop, token salad) has no answer, whether it then hit the
        # limit or emitted a stop token inside the loop: what it said before the runaway was not its
        # last word
        cut = "" if runaway(region) or _loops_through_closer(text, region) else region
        missing = "truncated" if not done else "no_answer"
        out: dict[str, Graded] = {}
        checked: dict[str, tuple[bool, str]] = {}

        def verdict(answer: str | None, rule: str) -> Graded:
            if answer is None:
                return Graded(False, None, missing, "none")
            if answer not in checked:
                checked[answer] = self.verifier.check(gold, answer)
            ok, reason = checked[answer]
            return Graded(ok, answer, reason, rule)

        if "strict" in profiles:
            out["strict"] = verdict(last_boxed(cut), "boxed")
        if "default" in profiles:
            ex = extract_answer(cut, last_number_fallback=self.last_number_fallback, finished=done, ladder="math")
            out["default"] = verdict(ex.answer, ex.rule)
        if "lenient" in profiles:
            ok, extracted, reason = self.verifier.check_region(gold, region)
            if extracted is None and reason == "no_answer":
                reason = "truncated" if truncated else "no_answer"
            out["lenient"] = Graded(ok, extracted, reason, "lenient" if extracted is not None else "none")
        return out
