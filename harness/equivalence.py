"""Whether two extracted math answers are the same answer, for majority voting (cons@k).

Used by MathTask.same_answer and hence by metrics.votes. Grouping 64 samples of 500 problems must
stay fast, so the cheap tests come first: equal normalised strings, then plain numbers compared
exactly (`0.5` = `1/2` = `\\frac{1}{2}`, `1,000` = `1000`). Other answers are parsed by math-verify
once per process and given a numeric fingerprint (the value of a closed-form number, or of an
expression at a fixed point): two fingerprints that differ settle the question, two equal numbers
too; only the rest (equal fingerprints of expressions, sets, tuples, equations) go to
math-verify's `verify`. math-verify's timeouts use signal.alarm, which works only in a process's
main thread: elsewhere the comparison stops at the cheap tests.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from fractions import Fraction
from functools import cache
from typing import Any

from harness.scoring.math import normalise

_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:/\d+)?")
_FRAC = re.compile(r"(-?)\\frac\{(-?\d+)\}\{(\d+)\}")


def plain_number(s: str) -> Fraction | None:
    """The exact value of a normalised answer that is a plain number (integer, decimal, a/b,
    \\frac{a}{b}, thousands separated by commas), else None."""
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    m = _FRAC.fullmatch(s)
    if m:
        s = f"{m.group(1)}{m.group(2)}/{m.group(3)}"
        s = s.replace("--", "")
    if not _NUMBER.fullmatch(s):
        return None
    try:
        return Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None


def fingerprint(expr: Any) -> tuple[bool, complex] | str | None:
    """(has free symbols, value) of a sympy expression, evaluated with every free symbol set to a
    fixed irrational point; "other" for a set, tuple, interval or matrix (never equal to a plain
    expression); None when unknown (equations, strings, values that do not evaluate)."""
    import sympy

    if isinstance(expr, (sympy.Set, sympy.Tuple, tuple, sympy.MatrixBase)):
        return "other"
    if not isinstance(expr, sympy.Expr):
        return None
    try:
        symbols = sorted(expr.free_symbols, key=lambda x: str(x))
        point = {x: sympy.Float(0.5772156649 + 0.1 * i) for i, x in enumerate(symbols)}
        value = complex(expr.evalf(30, subs=point))
    except Exception:  # sympy raises many types on exotic input; verify decides those pairs
        return None
    if value != value or abs(value) == float("inf"):
        return None
    return bool(symbols), value


def _close(x: complex, y: complex) -> bool:
    return abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y))


class MathEquivalence:
    def __init__(self, timeout_seconds: float = 5):
        # math-verify's timeouts are signal.alarm seconds: whole numbers only
        self.timeout = max(1, math.ceil(timeout_seconds))
        self._mv: Any = None
        self._configs: list[Any] = []
        self._parsed: dict[str, list] = {}
        self._prints: dict[str, tuple[bool, complex] | str | None] = {}

    def _fingerprint(self, s: str) -> tuple[bool, complex] | str | None:
        if s not in self._prints:
            parsed = self._parse(s)
            self._prints[s] = fingerprint(parsed[0]) if parsed else None
        return self._prints[s]

    def _parse(self, s: str) -> list:
        if s not in self._parsed:
            if self._mv is None:
                import math_verify
                from math_verify import ExprExtractionConfig, LatexExtractionConfig

                logging.getLogger("math_verify").setLevel(logging.ERROR)
                self._mv = math_verify
                self._configs = [LatexExtractionConfig(), ExprExtractionConfig()]
            text = s if s.startswith(("$", "\\(", "\\[")) else f"${s}$"
            try:
                self._parsed[s] = self._mv.parse(text, extraction_config=self._configs,
                                                 parsing_timeout=self.timeout)
            except Exception:  # math-verify raises on some malformed input despite its error mode
                self._parsed[s] = []
        return self._parsed[s]

    def same(self, a: str, b: str) -> bool:
        na, nb = normalise(a), normalise(b)
        if na == nb:
            return True
        xa, xb = plain_number(na), plain_number(nb)
        if xa is not None and xb is not None:
            return xa == xb
        if threading.current_thread() is not threading.main_thread():
            return False
        pa, pb = self._parse(a), self._parse(b)
        if not pa or not pb:
            return False
        fa, fb = self._fingerprint(a), self._fingerprint(b)
        if isinstance(fa, tuple) and isinstance(fb, tuple):
            if not _close(fa[1], fb[1]):
                return False
            if not fa[0] and not fb[0]:
                return True  # two closed-form numbers with the same value
        elif (fa == "other" and isinstance(fb, tuple)) or (fb == "other" and isinstance(fa, tuple)):
            return False  # a set, tuple or interval against a plain expression
        try:
            return bool(self._mv.verify(pa, pb, timeout_seconds=self.timeout))
        except Exception:
            return False


@cache
def math_equivalence(timeout_seconds: float = 5) -> MathEquivalence:
    """One shared instance (and parse cache) per process and timeout."""
    return MathEquivalence(timeout_seconds)
