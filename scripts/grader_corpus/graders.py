"""Automatic verdicts used to label the grader corpus, and the baselines that evaluate.py reports.

Every verdict function takes (completion, gold, item) and returns True, False, or None when the
grader has nothing to say about the item (the last-number grader on a non-numeric gold answer).

- ``mathverify``: plain math-verify 0.9.0 over the whole completion, gold parsed from ``$gold$``
  (what lighteval does).
- ``last_number``: the last number in the whole completion compared numerically with the gold
  (the fallback of the Qwen2.5-Math evaluation toolkit and of many GSM8K graders).
- ``harness``: the project's answer extraction (answer region, boxed, answer phrase) with
  math-verify equivalence, ``think_prefilled`` set for sources whose prompt opened the think block,
  the end of the reasoning read when a completion that stopped wrote nothing after its think block
  (the verdict the corpus labels are built from).
- ``strict``, ``default``, ``lenient``: the project's grader profiles as the scorer applies them
  (``harness.scoring.accuracy.profile_verdicts``), for ``evaluate.py --grader default`` etc.

Also here: the structural checks used by the labelling rules (repetition loop at the tail,
unfinished reasoning).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from fractions import Fraction

_NUMBER = re.compile(r"(?<![\w.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?|-?\.\d+")


# ---------------------------------------------------------------- structural checks


def tail_loop(text: str, window: int = 4000, n: int = 8, min_grams: int = 40, ratio: float = 0.6) -> bool:
    """True when the end of the text is a repetition loop: most word n-grams of the last
    ``window`` characters occur at least three times there."""
    tail = text[-window:].split()
    if len(tail) < min_grams + n:
        return False
    grams = [" ".join(tail[i : i + n]) for i in range(len(tail) - n + 1)]
    counts = Counter(grams)
    repeated = sum(1 for g in grams if counts[g] >= 3)
    if repeated / len(grams) >= ratio:
        return True
    # Character-level period, for loops without spaces (formula chains, digit runs).
    t = text[-window:]
    for p in range(4, 400):
        if len(t) >= 4 * p and t[-p:] == t[-2 * p : -p] == t[-3 * p : -2 * p] == t[-4 * p : -3 * p]:
            return True
    return False


# ---------------------------------------------------------------- last number


def _latex_number(s: str) -> Fraction | None:
    """A gold answer as an exact number when it is one (integers, decimals, simple fractions,
    percent and degree marks, thousands separators, a leading dollar sign); None otherwise."""
    s = s.strip().strip("$").strip()
    s = re.sub(r"\\text\{\s*\}", "", s)
    s = re.sub(r"\\(?:,|!|;|:|\s)", "", s)
    s = s.replace("\\$", "").replace("\\%", "").replace("%", "")
    s = re.sub(r"\^\{?\\circ\}?|°", "", s)
    s = re.sub(r"\\[dt]?frac\{(-?\d+)\}\{(-?\d+)\}", r"\1/\2", s)
    s = s.replace("{", "").replace("}", "").replace(" ", "")
    if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", s):
        s = s.replace(",", "")
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?|-?\.\d+)(?:/(-?\d+))?", s)
    if not m:
        return None
    try:
        value = Fraction(m.group(1))
        if m.group(2):
            value /= Fraction(m.group(2))
    except (ValueError, ZeroDivisionError):
        return None
    return value


def last_number_in(text: str) -> str | None:
    nums = _NUMBER.findall(text)
    return nums[-1].replace(",", "") if nums else None


def last_number(completion: str, gold: str, item: dict | None = None) -> bool | None:
    g = _latex_number(gold)
    if g is None:
        return None
    last = last_number_in(completion)
    if last is None:
        return False
    try:
        return Fraction(last) == g
    except (ValueError, ZeroDivisionError):
        return False


# ---------------------------------------------------------------- plain math-verify

_MV = None


def _math_verify():
    global _MV
    if _MV is None:
        import math_verify

        logging.getLogger("math_verify").setLevel(logging.CRITICAL)
        _MV = math_verify
    return _MV


def mathverify(completion: str, gold: str, item: dict | None = None, timeout: int = 5) -> bool:
    mv = _math_verify()
    try:
        gold_parsed = mv.parse(f"${gold}$", parsing_timeout=timeout)
        pred_parsed = mv.parse(completion, parsing_timeout=timeout)
        return bool(mv.verify(gold_parsed, pred_parsed, timeout_seconds=timeout))
    except Exception:  # math-verify raises on some inputs; a crash is not a credit
        return False


# ---------------------------------------------------------------- the project's grader

_VERIFIER = None


def reads_reasoning_tail(completion: str, think_prefilled: bool, finish_reason: str | None) -> bool:
    """Labelling rule 7: a completion that stopped by itself (finish reason ``stop``) and wrote
    nothing after its closed think block is judged on the end of its reasoning."""
    from harness.scoring.extract import answer_region

    if finish_reason != "stop":
        return False
    region = answer_region(completion, think_prefilled)
    return region is not None and not region.strip()


def harness(completion: str, gold: str, item: dict | None = None) -> bool:
    """The project's current answer extraction, as the math task applies it to one completion
    (the end of the reasoning stands in for an empty answer region of a completion that stopped,
    rule 7)."""
    global _VERIFIER
    from harness.scoring.math import MathVerifier, extract_answer

    item = item or {}
    think_prefilled = bool(item.get("think_prefilled", False))
    text = completion
    if reads_reasoning_tail(completion, think_prefilled, item.get("finish_reason")):
        from harness.scoring.extract import reasoning_tail

        text, think_prefilled = reasoning_tail(completion), False
    ex = extract_answer(text, think_prefilled=think_prefilled, last_number_fallback=False)
    if ex.answer is None:
        return False
    if _VERIFIER is None:
        _VERIFIER = MathVerifier(5)
    correct, _ = _VERIFIER.check(gold, ex.answer)
    return bool(correct)


def _profile(name: str):
    def grade(completion: str, gold: str, item: dict | None = None) -> bool:
        """The project's grader profile ``name`` exactly as the math task scores a sample (finish
        reason from the item, last-number fallback on integer-answer benchmarks)."""
        from harness.scoring.accuracy import profile_verdicts

        return profile_verdicts({**(item or {}), "completion": completion, "gold": gold})[name]

    grade.__name__ = name
    return grade


PROFILES = {name: _profile(name) for name in ("strict", "default", "lenient")}

BASELINES = {"mathverify": mathverify, "last_number": last_number, "harness": harness, **PROFILES}
