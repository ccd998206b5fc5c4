"""Final-answer extraction from long chain-of-thought text, and equivalence via math-verify.

The extraction rules, in order:

1. Reasoning is not the answer. When a completion contains ``</think>``, only the text after the
   last ``</think>`` is searched. A think block that was opened (in the completion, or by the chat
   template when ``think_prefilled`` is set) and never closed yields no answer.
2. The last ``\\boxed{...}`` (or ``\\fbox{...}``), with nested braces, is the answer.
3. Otherwise an explicit phrase: "final answer is X", "Answer: X" (the last one).
4. Optionally (``last_number_fallback``, meant for integer-answer tasks such as AIME) the last
   number in the text.

Equivalence is decided by math-verify. Its timeouts use ``signal.alarm``, so this module must run in
the main thread of a process (the scorer uses a process pool, never threads).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

_BOX_COMMANDS = ("\\boxed", "\\fbox")
_ANSWER_PHRASES = re.compile(
    r"(?:final\s+answer\s*(?:is|:)|\banswer\s*(?:is|:))\s*(?P<ans>[^\n]+)",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


@dataclass(frozen=True)
class Extraction:
    answer: str | None
    reason: str  # "ok" when an answer was found, else why not ("no_answer", "unterminated_think")


def answer_region(text: str, think_prefilled: bool = False) -> str | None:
    """The part of a completion that may contain the final answer, or None when the
    reasoning never ended (an unterminated think block)."""
    close = text.rfind(THINK_CLOSE)
    if close != -1:
        return text[close + len(THINK_CLOSE) :]
    if think_prefilled or THINK_OPEN in text:
        return None
    return text


def _read_braced(text: str, start: int) -> str | None:
    """Content of the brace group opening at text[start] == '{', honouring nesting and
    backslash-escaped braces. None when the group is never closed."""
    depth = 0
    i = start
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "{}":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i]
        i += 1
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last complete \\boxed{...} / \\fbox{...} in text (also ``\\boxed 5``)."""
    positions = sorted(
        (m.start(), cmd) for cmd in _BOX_COMMANDS for m in re.finditer(re.escape(cmd) + r"(?![a-zA-Z])", text)
    )
    for pos, cmd in reversed(positions):
        j = pos + len(cmd)
        while j < len(text) and text[j] == " ":
            j += 1
        if j < len(text) and text[j] == "{":
            content = _read_braced(text, j)
            if content is not None:
                return content.strip()
        elif j > pos + len(cmd) and j < len(text):  # "\boxed 5": one token after a space
            m = re.match(r"[^\s$.,;]+", text[j:])
            if m:
                return m.group(0)
    return None


def _strip_phrase(ans: str) -> str:
    ans = ans.strip().rstrip(".").strip().strip("*").strip()  # markdown bold around the answer
    if ans.startswith("$") and ans.count("$") >= 2:
        ans = ans[1 : ans.index("$", 1)]
    elif ans.startswith("\\(") and "\\)" in ans:
        ans = ans[2 : ans.index("\\)")]
    elif ans.startswith("\\[") and "\\]" in ans:
        ans = ans[2 : ans.index("\\]")]
    return ans.strip().rstrip(".").strip()


def extract_answer(
    text: str, think_prefilled: bool = False, last_number_fallback: bool = False
) -> Extraction:
    region = answer_region(text, think_prefilled)
    if region is None:
        return Extraction(None, "unterminated_think")
    boxed = last_boxed(region)
    if boxed:
        return Extraction(boxed, "ok")
    phrases = list(_ANSWER_PHRASES.finditer(region))
    if phrases:
        ans = _strip_phrase(phrases[-1].group("ans"))
        if ans:
            return Extraction(ans, "ok")
    if last_number_fallback:
        nums = _NUMBER.findall(region)
        if nums:
            return Extraction(nums[-1].replace(",", ""), "ok")
    return Extraction(None, "no_answer")


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


def _as_latex(s: str) -> str:
    s = s.strip()
    if s.startswith("$") or s.startswith("\\(") or s.startswith("\\["):
        return s
    return f"${s}$"


class MathVerifier:
    """Equivalence of a predicted answer with the gold answer, via math-verify.

    Timeouts are detected from elapsed time (math-verify returns False on timeout), so a timed-out
    comparison is recorded as ``timeout`` rather than as a plain wrong answer.
    """

    def __init__(self, timeout_seconds: int = 5):
        import math_verify  # imported here: workers import it once, the parent may never need it
        from math_verify import ExprExtractionConfig, LatexExtractionConfig

        logging.getLogger("math_verify").setLevel(logging.ERROR)  # it logs whole inputs on timeout
        self._mv = math_verify
        self._configs = [LatexExtractionConfig(), ExprExtractionConfig()]
        self.timeout = timeout_seconds
        self._gold_cache: dict[str, list] = {}

    def _parse(self, s: str) -> tuple[list, bool]:
        t0 = time.monotonic()
        parsed = self._mv.parse(
            _as_latex(s), extraction_config=self._configs, parsing_timeout=self.timeout
        )
        timed_out = not parsed and time.monotonic() - t0 >= self.timeout
        return parsed, timed_out

    def check(self, gold: str, predicted: str) -> tuple[bool, str]:
        """(correct, reason) with reason in ok | unparsed | timeout."""
        gold = str(gold)
        if gold not in self._gold_cache:
            self._gold_cache[gold] = self._parse(gold)[0]
        gold_parsed = self._gold_cache[gold]
        pred_parsed, timed_out = self._parse(predicted)
        if timed_out:
            return False, "timeout"
        if not pred_parsed or not gold_parsed:
            # Nothing math-verify understands: fall back to exact comparison of normalised strings.
            same = normalise(gold) == normalise(predicted)
            return same, ("ok" if same else "unparsed")
        t0 = time.monotonic()
        ok = self._mv.verify(gold_parsed, pred_parsed, timeout_seconds=self.timeout)
        if not ok and time.monotonic() - t0 >= self.timeout:
            return False, "timeout"
        return bool(ok), "ok"
