"""Did a completion finish? Repetition loops at the tail, complete last sentences.

The statement and fallback rules read prose, so they must never read a completion that was cut
off mid-reasoning. A completion counts as finished when its finish reason is ``stop``; when the
finish reason is unknown (a replayed file without it), when its text ends in a complete sentence
and its tail is not a repetition loop. A loop is what a model that ran into its token limit
usually produces: the same few words or characters over and over (or token salad in other
scripts). These checks read a bounded tail, so they cost the same on a 2 MB completion as on a
short one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LOOP_TAIL_CHARS = 8000  # how much of the end is examined for a loop
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Loop:
    period: int  # length of the repeated unit (characters or words, see `unit`)
    unit: str  # "chars" | "words"
    start: int  # index in the text where the repetition begins (approximate for word loops)


def _char_loop(text: str, max_period: int = 400, min_chars: int = 200) -> Loop | None:
    """An exact character-level repetition at the end of text: the last max(2p, min_chars) + p
    characters have period p (so the unit occurs at least three times)."""
    tail = text[-LOOP_TAIL_CHARS:]
    n = len(tail)
    for p in range(1, max_period + 1):
        span = max(2 * p, min_chars)
        if span + p > n:
            break
        if tail[-span:] == tail[-span - p:-p]:
            # walk back one period at a time while the text keeps repeating (C-level compares)
            start = len(text) - span - p
            while start - p >= 0 and text[start - p:start] == text[start:start + p]:
                start -= p
            return Loop(p, "chars", start)
    return None


def _word_loop(text: str, max_period: int = 120, match: float = 0.9) -> Loop | None:
    """A word-level repetition at the end of text, tolerant of small variations: for some period
    p, at least `match` of the last max(3p, 60) words equal the word p positions earlier."""
    tail = text[-LOOP_TAIL_CHARS:]
    offset = len(text) - len(tail)
    spans = [(m.start(), m.group()) for m in _WORD.finditer(tail)]
    words = [w for _, w in spans]
    n = len(words)
    for p in range(1, max_period + 1):
        span = max(3 * p, 60)
        if span + p > n:
            break
        hits = sum(1 for i in range(n - span, n) if words[i] == words[i - p])
        if hits >= match * span:
            i = n - span
            while i - p > 0 and words[i - 1] == words[i - 1 - p]:
                i -= 1
            return Loop(p, "words", offset + spans[max(i - p, 0)][0])
    return None


def find_loop(text: str) -> Loop | None:
    """The repetition loop the text ends in, or None."""
    if len(text) < 200:
        return None
    return _char_loop(text) or _word_loop(text)


_SALAD_TOKEN = re.compile(r"[^\x00-\u024f\s]|[a-z][A-Z]|\ufffd")


def _salad(s: str) -> float:
    """Share of the words of s that look like token salad: letters of other scripts, case changes
    inside a word ("vestsReceiptvilla"), replacement characters."""
    words = s.split()
    if not words:
        return 0.0
    return sum(1 for w in words if _SALAD_TOKEN.search(w)) / len(words)


def degenerate(text: str, tail: int = 600) -> bool:
    """Whether the text ends in token salad (a model that lost its way, typically until the token
    limit). A completion written in another script throughout is not flagged."""
    if len(text) < 3 * tail:
        return False
    end = _salad(text[-tail:])
    return end > 0.3 and end > 4 * _salad(text[:1000])


def runaway(text: str) -> bool:
    """A repetition loop or token salad at the end: a completion that never stopped by itself."""
    return find_loop(text) is not None or degenerate(text)


_COMPLETE_END = re.compile(
    r"(?:[.!?][\"'”’)\]*_]*|\$\$|\$|\\\]|\\\)|\}|\*\*|```|\|)\s*$"
)


def ends_complete(text: str) -> bool:
    """Whether text ends like a finished answer: a sentence end, a closed math block, a closed
    box or a markdown table row, not a dangling word."""
    tail = text[-400:].rstrip()
    if not tail or re.search(r":\W{0,4}$", tail):  # "... the value is:" announces what never came
        return False
    if not _COMPLETE_END.search(tail):
        return False
    # a closing brace or dollar only counts when the math is balanced in the tail's last paragraph
    last = tail.split("\n\n")[-1]
    if tail.endswith("}") and last.count("{") - last.count("\\{") != last.count("}") - last.count("\\}"):
        return False
    return not tail.endswith("$") or last.count("$") % 2 == 0


def finished(text: str, finish_reason: str | None) -> bool:
    """Whether the completion ended by itself (see the module docstring)."""
    if finish_reason == "stop":
        return True
    if finish_reason in ("length", "error"):
        return False
    return ends_complete(text) and not runaway(text)
