"""Answer extraction and equivalence on realistic chain-of-thought text."""

from __future__ import annotations

import pytest

from harness.scoring.math import MathVerifier, answer_region, extract_answer, last_boxed, normalise
from harness.tasks.math import MathTask
from harness.types import Completion, Problem

LONG_COT = """<think>
Okay, so I need to find the sum of the roots of $x^2 - 11x + 28 = 0$. Let me think about this.

First, I recall Vieta's formulas: for $ax^2 + bx + c = 0$, the sum of the roots is $-b/a$.
Wait, but let me double check by factoring. $28 = 4 \\cdot 7$ and $4 + 7 = 11$, so
$x^2 - 11x + 28 = (x-4)(x-7)$. The roots are $4$ and $7$.

Hmm, maybe the answer is $\\boxed{28}$? No wait, that's the product. Let me redo this.
The sum is $4 + 7 = 11$. Yes, I'm confident: the sum is 11.
</think>

The quadratic factors as $(x-4)(x-7)$, so the roots are $4$ and $7$, and by Vieta's formulas
their sum is $-\\frac{-11}{1} = 11$.

**Final Answer**
\\[
\\boxed{11}
\\]
"""


def test_last_boxed_wins_and_reasoning_is_ignored():
    ex = extract_answer(LONG_COT)
    assert ex.answer == "11"
    # the boxed 28 inside the think block is never the answer
    assert "28" not in answer_region(LONG_COT)


def test_several_boxed_answers_last_counts():
    text = "First try: $\\boxed{3}$. Correction: the answer is $\\boxed{\\frac{3}{2}}$."
    assert extract_answer(text).answer == "\\frac{3}{2}"


def test_nested_braces():
    assert last_boxed("so $\\boxed{\\frac{\\sqrt{3}}{2}}$ done") == "\\frac{\\sqrt{3}}{2}"
    assert last_boxed("\\boxed{\\left\\{1, 2\\right\\}}") == "\\left\\{1, 2\\right\\}"
    assert last_boxed("\\fbox{42}") == "42"
    assert last_boxed("the answer is \\boxed 7.") == "7"
    assert last_boxed("\\boxed{unclosed") is None


def test_unterminated_think_means_no_answer():
    text = "<think>\nLet me compute... maybe \\boxed{22}? I should check again, and"
    ex = extract_answer(text)
    assert ex.answer is None and ex.reason == "unterminated_think"


def test_prefilled_think_without_close_means_no_answer():
    # R1 chat templates open the think block in the prompt: the completion has only "</think>"
    assert extract_answer("reasoning ... \\boxed{5}", think_prefilled=True).answer is None
    assert extract_answer("reasoning </think> \\boxed{5}", think_prefilled=True).answer == "5"


def test_fallback_phrases_and_none():
    assert extract_answer("We get it.\nFinal answer: $\\frac{9}{6}$.").answer == "\\frac{9}{6}"
    assert extract_answer("Therefore, the answer is **42**.").answer == "42"
    assert extract_answer("I could not solve this problem.").answer is None
    assert extract_answer("I could not solve this problem.").reason == "no_answer"
    # the last-number fallback: only down the math ladder, only for a finished completion
    fallback = extract_answer("it is 17 then 18", last_number_fallback=True, finished=True, ladder="math")
    assert (fallback.answer, fallback.rule) == ("18", "fallback")
    assert extract_answer("it is 17 then 18", last_number_fallback=True, ladder="math").answer is None


def test_normalise_for_voting():
    assert normalise("\\dfrac{3}{2}") == normalise("\\frac{3}{2}") == normalise(" \\frac{3}{2}. ")
    assert normalise("65^\\circ") == "65"
    assert normalise("12.0") == "12"


@pytest.fixture(scope="module")
def verifier():
    return MathVerifier(timeout_seconds=5)


@pytest.mark.parametrize(
    "gold,pred,ok",
    [
        ("\\frac{3}{2}", "\\dfrac{3}{2}", True),
        ("\\frac{3}{2}", "1.5", True),
        ("\\frac{3}{2}", "3/2", True),
        ("\\frac{3}{2}", "\\frac{2}{3}", False),
        ("(1,4)", "(1, 4)", True),
        ("(1,4)", "[1,4]", False),
        ("25\\pi", "25\\pi", True),
        ("\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt3}{2}", True),
        ("65", "65^\\circ", True),
        ("10", "10\\text{ cm}", True),
        ("401", "401", True),
        ("401", "0401", True),
        ("401", "400", False),
    ],
)
def test_equivalence(verifier, gold, pred, ok):
    correct, reason = verifier.check(gold, pred)
    assert correct is ok, (gold, pred, reason)


def _task(**prompt):
    cfg = {"name": "t", "family": "math", "fields": {"id": "id", "problem": "p", "answer": "a"},
           "scoring": {"timeout_seconds": 5}}
    return MathTask(cfg, prompt)


def _score(task, text, finish="stop", ref="11"):
    p = Problem(id="x", inputs={"problem": "?"}, reference=ref)
    return task.score(p, Completion(problem_id="x", sample=0, text=text, finish_reason=finish, output_tokens=5))


def test_task_score_reasons():
    t = _task()
    s = _score(t, LONG_COT)
    assert (s.correct, s.extracted, s.reason) == (True, "11", "ok")
    s = _score(t, "<think> long reasoning cut off here", finish="length")
    assert (s.correct, s.reason) == (False, "truncated")
    s = _score(t, "no idea")
    assert (s.correct, s.reason) == (False, "no_answer")
    s = _score(t, "", finish="error")
    assert (s.correct, s.reason) == (False, "error")
    # an answer given before the budget ran out still counts
    s = _score(t, "</think> \\boxed{11} and then some more text that got cu", finish="length")
    assert (s.correct, s.reason) == (True, "ok")


@pytest.mark.parametrize("pred", ["10^{10^{10}}", "1000000!"])
def test_pathological_input_times_out_cleanly(pred):
    t = _task()
    t.timeout = 1
    s = _score(t, f"\\boxed{{{pred}}}", ref="5")
    assert (s.correct, s.extracted, s.reason) == (False, pred, "timeout")


def test_prompt_follows_model_conventions():
    t = _task(system=None, instruction="Please reason step by step, and put your final answer within \\boxed{}.",
              template="{problem}\n{instruction}")
    msgs = t.prompt(Problem(id="1", inputs={"problem": "What is 1+1?"}, reference="2"))
    assert msgs == [{"role": "user", "content": "What is 1+1?\nPlease reason step by step, and put your final answer within \\boxed{}."}]
    t2 = _task(system="You are helpful.", instruction="", template="{problem}")
    assert t2.prompt(Problem(id="1", inputs={"problem": "Q"}, reference="2"))[0] == {"role": "system", "content": "You are helpful."}
