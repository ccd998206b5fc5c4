"""Where the final answer is in a completion: the answer region, and the extraction ladder.

The ladder, tried in order on the answer region (the text after the last ``</think>``):

1. ``boxed``: the last ``\\boxed{...}`` / ``\\fbox{...}`` (several adjacent ones are one list);
2. ``phrase``: the last answer phrase that carries a value ("the final answer is ...",
   "Answer: ...", "**Answer**: ..."), with the value read out of the phrase (math, a number,
   number words);
3. ``statement``: the last sentence of a finished answer region that states a result
   ("... is 4.", "= 5 cm", "So the height is 5 cm.");
4. ``fallback``: the last number of a finished answer region, for integer-answer tasks only.

Every function here is linear in the length of its input (bounded scans, no backtracking regex
over the whole text): a 2 MB completion that loops on ``\\boxed{`` is read in well under a second.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

RULES = ("boxed", "phrase", "statement", "fallback", "none")

# How much of the end of the answer region the phrase and statement rules read: a final answer
# is at the end, and a bound keeps them linear however long the text.
TAIL_CHARS = 6000


@dataclass(frozen=True)
class Extraction:
    answer: str | None
    reason: str  # "ok" when an answer was found, else why not ("no_answer", "unterminated_think", ...)
    rule: str = "none"  # which rung of the ladder found it (RULES)


# Reasoning markers: R1-style think tags, and the thought/solution markers of Sky-T1-style models.
_CLOSERS = (THINK_CLOSE, "<|end_of_thought|>")
_OPENERS = (THINK_OPEN, "<|begin_of_thought|>")
_SOLUTION_MARKS = re.compile(r"<\|(?:begin|end)_of_solution\|>")


# A box written as a tag, "<boxed>203</boxed>" (what some RL fine-tunes of R1-distilled models
# write after </think>): read as \boxed{203} when its content is one plain expression.
_TAG_BOX = re.compile(r"<boxed>([^<>]{1,300}?)</boxed>")


def _tag_box(m: re.Match[str]) -> str:
    inner = m.group(1).strip()
    if not inner or inner.count("{") != inner.count("}") or "\\boxed" in inner:
        return m.group(0)
    return "\\boxed{" + inner + "}"


def answer_region(text: str, think_prefilled: bool = False) -> str | None:
    """The part of a completion that may contain the final answer, or None when the
    reasoning never ended (an unterminated think block). A tag-style ``<boxed>...</boxed>`` in it
    reads as ``\\boxed{...}``."""
    close, marker = max((text.rfind(c), c) for c in _CLOSERS)
    if close != -1:
        region = text[close + len(marker):]
    elif think_prefilled or any(o in text for o in _OPENERS):
        return None
    else:
        region = text
    if "<boxed>" in region:
        region = _TAG_BOX.sub(_tag_box, region)
    return _SOLUTION_MARKS.sub("\n", region) if "<|" in region else region


def last_closer(text: str) -> int:
    """Where the last think-block closer starts (``</think>``, ``<|end_of_thought|>``), or -1."""
    return max(text.rfind(c) for c in _CLOSERS)


# How much of the end of a closed think block stands in for an empty answer region.
REASONING_TAIL_CHARS = 3000


def reasoning_tail(text: str, chars: int = REASONING_TAIL_CHARS) -> str:
    """The last `chars` characters of the reasoning before the last think-block closer ("" when
    there is none). When a model closes its think block and writes nothing after it, having ended
    the reasoning on its answer ("... The answer is \\boxed{2220}.</think>"), this is where the
    answer is; the grader reads it only for a completion that stopped by itself."""
    close, _ = max((text.rfind(c), c) for c in _CLOSERS)
    if close <= 0:
        return ""
    start = max(0, close - chars)
    head = text[start:close]
    for o in _OPENERS:  # the think block's own opening tag is not part of its content
        at = head.rfind(o)
        if at != -1:
            head = head[at + len(o):]
    return _SOLUTION_MARKS.sub("\n", head) if "<|" in head else head


# -- boxed ---------------------------------------------------------------------------------------

_BOX_BEFORE = re.compile(r"\\(?:boxed|fbox) *$")
_BOX_BARE = re.compile(r"\\(?:boxed|fbox) +([^\s{$.,;}][^\s$.,;}]*)")
_BRACE = re.compile(r"[{}]")


def boxed_reversed(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, content) of the complete \\boxed{...} / \\fbox{...} groups of text (also
    ``\\boxed 5``), last first. One backward pass over the braces, matching each '{' with the
    nearest unmatched '}' after it: linear, however many groups are left open (a loop that
    repeats ``\\boxed{`` costs one pass, not one pass per box)."""
    bare = [(m.start(), m.end(), m.group(1)) for m in _BOX_BARE.finditer(text)]
    positions = [m.start() for m in _BRACE.finditer(text)]
    closers: list[int] = []
    for pos in reversed(positions):
        if pos and text[pos - 1] == "\\":  # \{ and \} are literal braces
            continue
        if text[pos] == "}":
            closers.append(pos)
            continue
        if not closers:
            continue  # never closed
        end = closers.pop()
        head = _BOX_BEFORE.search(text, max(0, pos - 40), pos)
        if head is None:
            continue
        while bare and bare[-1][0] > head.start():
            yield bare.pop()
        yield head.start(), end + 1, text[pos + 1:end].strip()
    while bare:
        yield bare.pop()


def boxed_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of every complete box, in text order."""
    return list(reversed(list(boxed_reversed(text))))


_BETWEEN_BOXES = re.compile(r"[\s$,;]*(?:(?:and|or|&)[\s$,;]*)?(?:\\quad|\\text\{\s*(?:and|or)\s*\}|\\,|\\;)*[\s$,;]*",
                            re.IGNORECASE)


def last_boxed(text: str) -> str | None:
    """Content of the last complete, non-empty \\boxed{...} / \\fbox{...} in text. Boxes that
    follow each other with only separators between them ("\\boxed{2} and \\boxed{3}") are one
    answer, joined by commas."""
    group: list[tuple[int, int, str]] = []
    for span in boxed_reversed(text):
        if not span[2]:
            if group:
                break
            continue
        if group:
            if span[1] > group[0][0]:  # a box around the box: the inner one is the answer
                break
            gap = text[span[1]:group[0][0]]
            if len(gap) > 40 or not _BETWEEN_BOXES.fullmatch(gap):
                break
        group.insert(0, span)
    if not group:
        return None
    return ", ".join(s[2] for s in group)


# -- math segments and sentences ------------------------------------------------------------------

# inline math never ends in a space: "$18 + $40" is money, not math
_MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$([^$\s](?:[^$]*?[^$\s\\])?)\$(?!\d)|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_PH = "\x00{}\x01"
_PH_RE = re.compile(r"\x00(\d+)\x01")


def protect_math(text: str) -> tuple[str, list[str]]:
    """Text with every math segment ($...$, $$...$$, \\(...\\), \\[...\\]) replaced by a
    placeholder, and the segments' contents."""
    maths: list[str] = []

    def sub(m: re.Match) -> str:
        maths.append(next(g for g in m.groups() if g is not None).strip())
        return _PH.format(len(maths) - 1)

    return _MATH.sub(sub, text), maths


def restore(text: str, maths: list[str]) -> str:
    return _PH_RE.sub(lambda m: maths[int(m.group(1))], text)


# a sentence ends at . ! ? followed by a space or the end (not a decimal point), or a line break
_SENT_END = re.compile(r"(?<=[.!?])(?=\s|$)|\n+")


def sentences(text: str) -> list[str]:
    """Non-empty sentences of text whose math is protected (placeholders)."""
    return [s.strip() for s in _SENT_END.split(text) if s and s.strip()]


# -- numbers and number words ------------------------------------------------------------------------

_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}
_NUM_WORD = "|".join([*_UNITS, *_TENS, *_SCALES])
_WORDS_RUN = re.compile(rf"\b(?:{_NUM_WORD})(?:(?:[\s-]+|\s+and\s+)(?:{_NUM_WORD}))*\b", re.IGNORECASE)


def _words_value(words: str) -> int | None:
    total, current, seen = 0, 0, False
    for w in re.split(r"[\s-]+", words.lower()):
        if w == "and":
            continue
        if w in _UNITS:
            current += _UNITS[w]
        elif w in _TENS:
            current += _TENS[w]
        elif w == "hundred":
            current = max(current, 1) * 100
        elif w in _SCALES:
            total += max(current, 1) * _SCALES[w]
            current = 0
        else:
            return None
        seen = True
    return total + current if seen else None


def read_number_words(text: str) -> str:
    """Cardinal number words as digits: "three boxes" -> "3 boxes", "twenty-four" -> "24"."""
    def sub(m: re.Match) -> str:
        v = _words_value(m.group(0))
        return m.group(0) if v is None else str(v)

    return _WORDS_RUN.sub(sub, text)


# a value in prose: a math placeholder, or a plain number / fraction / simple expression
_NUMBER = r"-?\d+(?:(?:,|\u2009|\u202f|\u00a0)\d{3})*(?:\.\d+)?"
_VALUE = re.compile(
    rf"\x00\d+\x01(?:\s*(?:,|and|or)\s*\x00\d+\x01)*"
    rf"|\(\s*{_NUMBER}(?:\s*,\s*{_NUMBER})+\s*\)"
    rf"|-?\d*\\(?:[dt]?frac|sqrt|pi|infty|circ)(?![A-Za-z])(?:\{{(?:[^{{}}\s]|\{{[^{{}}\s]*\}})*\}}|[A-Za-z0-9])*"  # bare LaTeX: 22\sqrt{{21}}
    rf"|-?\d+(?:\.\d+)?[a-z](?![A-Za-z])(?:\s*[-+]\s*\d+(?:\.\d+)?(?:[a-z](?![A-Za-z]))?)*"  # -2x, 2n + 1
    rf"|\\?\$?{_NUMBER}(?:\s*/\s*\d+)?(?:\s*%|\s?π)?"
)
_COPULA = re.compile(
    r"(?:\b(?:is|are|was|were|equals?|be|becomes?|gives?|has|have|makes?|yields?|totals?|ist|sind|est|sont|es|"
    r"(?:simplifies|reduces|comes(?:\s+out)?|works\s+out|amounts)\s+to)\b|≡)"
    r"(?:\s+(?:equal\s+to|exactly|approximately|about|just|only|then|now|therefore|thus|indeed|also|simply|still))*"
    r"\s*:?\s*|=\s*|\bof\s+(?=\x00)",
    re.IGNORECASE,
)
_TRAILING_OK = re.compile(r"^[\s,;:)*_]*(?:[A-Za-z'’\-]+[\s,;)*_]*){0,8}[.!]?\s*$")


def _value_text(v: str, maths: list[str]) -> str:
    parts = _PH_RE.findall(v)
    if parts:
        return ", ".join(maths[int(i)] for i in parts)
    return re.sub(r"^\\?\$", "", re.sub(r"\s+", " ", v).strip())


def value_after_copula(clause: str, maths: list[str]) -> str | None:
    """The value a clause states: what follows its last copula ("is", "are", "=", "has", ...)
    when only a few words (units, a noun) follow that value; else a value the clause starts
    with ("3 boxes contain neither ...")."""
    best = None
    for c in _COPULA.finditer(clause):
        m = _VALUE.match(clause, c.end())
        if m and _TRAILING_OK.match(clause[m.end():]):
            best = m
    if best is not None:
        return _value_text(best.group(0), maths)
    m = _VALUE.match(clause.lstrip("*_ :"))
    if m:
        return _value_text(m.group(0), maths)
    return None


# -- answer phrases --------------------------------------------------------------------------------

_CONNECT = r"(?:\s*\*\*)?\s*(?:(?:is|would\s+be|will\s+be|should\s+be)\b\s*:?|:|=)"
_PHRASE_WORDS = (rf"\bfinal\s+answer(?:{_CONNECT}|(?=(?:\s*\*\*)?[ \t]*\n))"
                 rf"|\b(?:answer|antwort|réponse|respuesta|risposta){_CONNECT}")
# math answers also come as "A: 18" or "#### 18" on a line of their own (GSM8K-style)
_PHRASE = re.compile(rf"(?:{_PHRASE_WORDS}|^[ \t]*(?:A:|####)[ \t]*)(?:\s*\*\*)?", re.IGNORECASE | re.MULTILINE)
_PHRASE_RAW = re.compile(rf"(?:{_PHRASE_WORDS})(?:\s*\*\*)?", re.IGNORECASE)
_PHRASE_END = re.compile(r"(?<=[.!?])(?=\s)|\n\s*\n|\n(?=\s*(?:[#*-]|\d+\.))")


def raw_phrase(region: str) -> str | None:
    """The text after the last answer phrase ("final answer is", "Answer:"), up to the end of
    its line, as written (for tasks that read it themselves, e.g. multiple choice)."""
    tail = region[-TAIL_CHARS:]
    last = None
    for m in _PHRASE_RAW.finditer(tail):
        if tail[m.end():m.end() + 200].split("\n", 1)[0].strip():
            last = m
    if last is None:
        return None
    ans = tail[last.end():].split("\n", 1)[0].strip()
    return _strip_phrase(ans) or None


def _strip_phrase(ans: str) -> str:
    ans = ans.strip().rstrip(".").strip().strip("*").strip()  # markdown bold around the answer
    if ans.startswith("$") and ans.count("$") >= 2:
        ans = ans[1: ans.index("$", 1)]
    elif ans.startswith("\\(") and "\\)" in ans:
        ans = ans[2: ans.index("\\)")]
    elif ans.startswith("\\[") and "\\]" in ans:
        ans = ans[2: ans.index("\\]")]
    return ans.strip().rstrip(".").strip()


_HEDGE = re.compile(r"\b(?:maybe|perhaps|might|could|whether|if|check|suppose|guess|wonder|not\s+sure)\b",
                    re.IGNORECASE)
_NOT_AN_ANSWER = re.compile(r"\w+ly\b|\b(?:above|below|shown|given|boxed|highlighted|following|correct|"
                            r"wrong|incorrect|unclear|not|none|that|this|it)\b", re.IGNORECASE)
_TEXT_ANSWER = re.compile(r"^\(?[A-Za-z][A-Za-z '\-]{0,30}\)?$")
_FILLER = re.compile(r"^(?:that\s+|therefore\s+|thus\s+|so\s+|simply\s+|then\s+|indeed\s+)+", re.IGNORECASE)


def phrase_value(region: str, after_last_box: bool = False) -> str | None:
    """The value stated by the last answer phrase that states one, read out of the phrase: its
    math, a number, number words ("three boxes" -> 3), or the value of a statement that follows
    ("**Answer**: 196 has 9 positive divisors." -> 9). With `after_last_box`, only a phrase that
    comes after every \\boxed{} of the text counts."""
    tail = region[-TAIL_CHARS:]
    prot, maths = protect_math(tail)
    matches = list(_PHRASE.finditer(prot))
    for m in reversed(matches):
        if after_last_box and "\\boxed" in restore(prot[m.start():], maths):
            return None
        rest = prot[m.end():m.end() + 600]
        if not rest.split("\n", 1)[0].strip():  # a heading ("**Final Answer**") then the answer
            rest = rest.lstrip()
        end = _PHRASE_END.search(rest)
        frag = rest[:end.start()] if end else rest
        lead = prot[max(0, m.start() - 120):m.start()]
        lead = re.split(r"[.!?\n]\s", lead)[-1]
        if frag.rstrip().endswith("?") or _HEDGE.search(lead):  # "maybe the answer is 6?" is a guess
            continue
        frag = _FILLER.sub("", frag.strip().strip("*_ :").strip())
        if not frag:
            continue
        frag = read_number_words(frag)
        v = value_after_copula(frag, maths)
        if v:
            return v
        words = frag.rstrip(".").strip("*_ ").strip()
        if (not after_last_box and _TEXT_ANSWER.match(words) and len(words.split()) <= 3
                and not _NOT_AN_ANSWER.search(words)):
            return words
    return None


# -- final statement -------------------------------------------------------------------------------

_LEAD = re.compile(r"^(?:[#*>\-\s]|\d+\.\s)*(?:(?:therefore|thus|hence|so|finally|in\s+conclusion|in\s+summary|"
                   r"overall|consequently|this\s+means|which\s+means|we\s+conclude|we\s+get|we\s+find|"
                   r"we\s+have|and)\s*,?\s*)*", re.IGNORECASE)
_NON_STATEMENT = re.compile(r"\?\s*$|\b(?:if|suppose|assume|let|check|verify|hope|feel\s+free|let\s+me)\b",
                            re.IGNORECASE)


def statement_value(region: str, max_sentences: int = 3) -> str | None:
    """The value stated by one of the last sentences of the answer region (the last that
    states one, looking back at most `max_sentences` sentences)."""
    tail = region[-TAIL_CHARS:]
    prot, maths = protect_math(tail)
    sents = sentences(prot)
    for s in reversed(sents[-max_sentences:]):
        conclusion = _CONCLUSION.match(s) is not None
        s = _MODULUS.sub("", s.replace("**", "").replace("__", ""))  # "≡ **333** (mod 1000)."
        s = read_number_words(_LEAD.sub("", s).strip())
        if not re.search(r"\d|\x00", s):
            continue  # "I hope this helps." states nothing: look one sentence back
        if _NON_STATEMENT.search(s):
            return None
        # the last sentence with a number or math is the one that may state the result
        return _stated(s, maths, conclusion)
    return None


_VALUE_IS_ANSWER = re.compile(
    rf"(?:^|\s)({_VALUE.pattern})\s+(?:is|must\s+be|should\s+be|seems\s+to\s+be)\s+(?:indeed\s+|definitely\s+)?"
    r"(?:the|my|our)\s+(?:correct|right|final)\b",
    re.IGNORECASE,
)
_MODULUS = re.compile(r"\s*(?:\((?:mod|modulo)\s+\d+\)|\bmod(?:ulo)?\s+\d+)(?=\s*[.!]?\s*$)", re.IGNORECASE)
_EQUATION_AT_END = re.compile(r"\x00(\d+)\x01(?:\s*[A-Za-z]+){0,3}\s*[.!]?\s*$")
_CONCLUSION = re.compile(r"^\W*(?:therefore|thus|hence|so|in\s+conclusion|in\s+summary|finally|consequently)\b",
                         re.IGNORECASE)
_TRAILING_LONG = re.compile(r"^[\s,;:)*_]*(?:[A-Za-z'’\-]+[\s,;)*_]*){0,16}[.!]?\s*$")


def _stated(s: str, maths: list[str], conclusion: bool = False) -> str | None:
    # a sentence that is only math ("$x = 5$."), or math / a value at its end after a copula
    only = re.fullmatch(r"\s*(\x00\d+\x01)\s*[.!]?\s*", s)
    if only:
        return maths[int(_PH_RE.search(only.group(1)).group(1))]  # type: ignore[union-attr]
    m = _VALUE_IS_ANSWER.search(s)
    if m:
        return _value_text(m.group(1), maths)
    m = _EQUATION_AT_END.search(s)
    if m and "=" in maths[int(m.group(1))]:  # "... $AB + BC = 5$ cm."
        return maths[int(m.group(1))]
    trailing = _TRAILING_LONG if conclusion else _TRAILING_OK
    best = None
    for c in _COPULA.finditer(s):
        m = _VALUE.match(s, c.end())
        if m and trailing.match(s[m.end():]):
            best = m
    if best is not None:
        return _value_text(best.group(0), maths)
    if conclusion:  # "Therefore, it will take 4 beakers to fill the tank.": the one value it names
        values = [v for v in _VALUE.finditer(s) if v.group(0).strip()]
        if len(values) == 1:
            return _value_text(values[0].group(0), maths)
    return None


# -- last number -------------------------------------------------------------------------------------

_LAST_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def last_number(region: str) -> str | None:
    nums = _LAST_NUMBER.findall(region[-TAIL_CHARS:])
    return nums[-1].replace(",", "").rstrip(".") if nums else None


# -- the ladder ---------------------------------------------------------------------------------------

def extract_answer(text: str, think_prefilled: bool = False, last_number_fallback: bool = False,
                   finished: bool = False, ladder: str = "phrase", finish_reason: str | None = None) -> Extraction:
    """The final answer of a completion.

    ``ladder`` says how far down the ladder to go: ``boxed`` (strict graders), ``phrase`` (boxed,
    then the raw text of an answer phrase, for tasks that read it themselves), ``math`` (boxed,
    then the value of an answer phrase, then, for finished completions only, the final
    statement and the optional last-number fallback). With ``finish_reason="stop"``, a think block
    followed by nothing is read at the end of its reasoning, as the math grader does.
    """
    region = answer_region(text, think_prefilled)
    if region is None:
        return Extraction(None, "unterminated_think")
    if not region.strip() and finish_reason == "stop":
        region = reasoning_tail(text)
    boxed = last_boxed(region)
    if boxed:
        if ladder == "math":  # an answer phrase after the last box restates the answer ("\\boxed{6}? No... Answer: 9")
            v = phrase_value(region, after_last_box=True)
            if v:
                return Extraction(v, "ok", "phrase")
        return Extraction(boxed, "ok", "boxed")
    if ladder == "boxed":
        return Extraction(None, "no_answer")
    if ladder == "phrase":
        raw = raw_phrase(region)
        return Extraction(raw, "ok", "phrase") if raw else Extraction(None, "no_answer")
    v = phrase_value(region)
    if v:
        return Extraction(v, "ok", "phrase")
    if finished:
        v = statement_value(region)
        if v:
            return Extraction(v, "ok", "statement")
        if last_number_fallback:
            v = last_number(region)
            if v:
                return Extraction(v, "ok", "fallback")
    return Extraction(None, "no_answer")
