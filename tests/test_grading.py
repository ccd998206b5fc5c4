"""The extraction ladder, the finished/loop checks and the grader profiles, on realistic long
chain-of-thought text, truncated and looping negatives, and math-verify's own kinds of cases."""

from __future__ import annotations

import signal

import pytest

from harness.scoring.extract import answer_region, extract_answer, last_boxed, phrase_value, statement_value
from harness.scoring.finish import degenerate, ends_complete, find_loop, finished
from harness.scoring.math import GRADERS, MathGrader, prepare
from harness.scoring.profiles import by_grader_metrics, profile_scores, profiles_of
from harness.tasks.math import MathTask
from harness.types import Completion, Problem, Score


# Reasoning as models write it: self-checks, intermediate numbers, abandoned boxed guesses; every
# paragraph different (a text that repeats itself is a loop).
def _paragraph(i: int) -> str:
    n = 3 * i + 4
    return (
        f"Let me try the case $n = {n}$. Then $n^2 = {n * n}$ and $n + 1 = {n + 1}$, so the sum of the first "
        f"{n} odd numbers is {n * n}. Wait, let me double-check that with a smaller case: for $n = {i + 1}$ the "
        f"odd numbers add up to {(i + 1) ** 2}, which matches.\n\n"
        f"Now the factorisation: $196 = 2^2 \\cdot 7^2$, and I want to see whether {n} divides {n * 7}. "
        f"Since ${n * 7} = 7 \\cdot {n}$, it does. Hmm, maybe the answer is $\\boxed{{6}}$? No wait, "
        f"$(2+1)(2+1) = 9$, not $6$: I multiplied wrongly in step {i + 2}.\n\n"
    )


REASONING = "".join(_paragraph(i) for i in range(14))
LONG = REASONING  # ~6,000 characters
# the same without the abandoned box: how models that answer in prose reason
PLAIN = LONG.replace("$\\boxed{6}$", "$6$")
assert len(LONG) > 5000 and "boxed" not in PLAIN


def grade(text: str, gold: str, finish: str | None = "stop", fallback: bool = False, prefilled: bool = False):
    g = MathGrader(timeout_seconds=5, last_number_fallback=fallback)
    return g.grade(text, gold, finish_reason=finish, think_prefilled=prefilled)


# -- each rung of the ladder on long text ----------------------------------------------------------

def test_boxed_after_think_block_long_text():
    text = "<think>\n" + LONG + "</think>\n\n$196 = 2^2 \\cdot 7^2$, so it has $(2+1)(2+1)$ divisors.\n\n" \
           "**Final Answer**\n\\[\n\\boxed{9}\n\\]\n"
    r = grade(text, "9")
    assert (r["default"].correct, r["default"].rule, r["strict"].correct) == (True, "boxed", True)
    # the abandoned \boxed{6} lives in the reasoning: never the answer
    assert r["default"].extracted == "9"


def test_several_boxes_in_the_last_line_are_one_list():
    assert last_boxed("The roots are $\\boxed{2}$ and $\\boxed{-3}$.") == "2, -3"
    r = grade(LONG + "So the solutions are $\\boxed{2}$ and $\\boxed{-3}$.", "-3, 2")
    assert r["default"].correct


@pytest.mark.parametrize("ending,gold", [
    ("**Answer**: 196 has 9 positive whole-number divisors.", "9"),
    ("Therefore, the answer is three boxes contain neither pens nor pencils.", "3"),
    ("The final answer is $\\frac{3}{4}$. I hope it is correct.", "\\frac{3}{4}"),
    ("Final Answer: The final answer is $x = 7$.", "7"),
    ("### Final Answer\nThe number of positive divisors is 9.", "9"),
    ("A: 18", "18"),
    ("#### 1,250", "1250"),
])
def test_answer_phrase_reads_the_value_out_of_the_phrase(ending, gold):
    r = grade(LONG + ending, gold)
    assert (r["default"].correct, r["default"].rule) == (True, "phrase"), r["default"]
    assert not r["strict"].correct


@pytest.mark.parametrize("ending,gold", [
    ("Therefore, the units digit of $18^6$ is 4.", "4"),
    ("So the height is 5 cm.", "5"),
    ("Adding these up, $AB + BC = 5$ cm.", "5"),
    ("Thus $\\tan A = 2$.", "2"),
    ("Profit: $93 - $15 = $78.\n\nEverything seems to add up. I think that's the right answer.", "78"),
    ("I double-checked every case, so I'm confident that 1940 is the correct number of ways.", "1940"),
    ("So, yes, the ratio is 150/200, which simplifies to 3/4.\n\nI think that's the answer.", "\\frac{3}{4}"),
    ("In conclusion, the 8th grade should have 10 representatives for the representation to be fair.", "10"),
    ("**4. Express the answer as an ordered pair:**\n\nThe midpoint is **(-1, 6)**.", "(-1,6)"),
    ("Therefore, 997⁻¹ ≡ **333** (mod 1000).", "333"),
    ("Therefore, the difference is indeed 7π.\n\nI think that's the answer.", "7\\pi"),
    ("So, yes, the equation y = -2x describes this line.\n\nI think that's the final answer.", "y = -2x"),
])
def test_final_statement_of_a_finished_answer(ending, gold):
    r = grade(PLAIN + ending, gold)
    assert (r["default"].correct, r["default"].rule) == (True, "statement"), r["default"]


def test_statement_picks_the_result_not_the_first_number():
    assert statement_value("Therefore, the units digit of $18^6$ is 4.") == "4"
    assert statement_value("So $f(2) = 7$ and the remainder is 3.") == "3"
    assert statement_value("Let me check whether x = 5 works.") is None  # a plan, not a result
    assert statement_value("Is the answer 12?") is None


def test_phrase_value_number_words_and_units():
    assert phrase_value("The answer is twenty-four apples.") == "24"
    assert phrase_value("Answer: $5\\text{ cm}$") == "5\\text{ cm}"
    assert phrase_value("I need to find the answer: first, let me think.") is None


def test_fallback_only_for_integer_tasks_and_finished_texts():
    text = PLAIN + "Putting everything together we get 204 after adding 7 more, then 211"
    assert grade(text, "211", finish=None, fallback=True)["default"].correct is False  # ends mid-sentence
    r = grade(text, "211", finish="stop", fallback=True)
    assert (r["default"].correct, r["default"].rule) == (True, "fallback")
    assert grade(text, "211", finish="stop", fallback=False)["default"].correct is False


# -- cut-off and looping completions are never credited by prose rules ------------------------------

def test_statement_never_reads_a_truncated_completion():
    text = PLAIN + "So far the count is 9."
    assert grade(text, "9", finish="length")["default"].correct is False
    assert grade(text, "9", finish="length")["default"].reason == "truncated"
    # unknown finish reason: the text decides
    assert grade(text, "9", finish=None)["default"].correct is True  # ends in a complete sentence
    assert grade(PLAIN + "So far the count is 9, and then we", "9", finish=None)["default"].correct is False


def test_unterminated_think_block_has_no_answer():
    text = "<think>\n" + LONG + "So the answer is \\boxed{9}. Hmm, but let me"
    for p, g in grade(text, "9", finish="length").items():
        assert g.correct is False, p
    r = grade(LONG + "\\boxed{9}", "9", prefilled=True)  # the template opened the block, never closed
    assert all(not g.correct for g in r.values())


def test_boxed_inside_a_loop_that_hit_the_limit_is_not_an_answer():
    loop = "Wait, so the answer is \\boxed{9}. Let me verify this again. " * 200
    text = "<think>\n" + LONG + "</think>\n\n" + loop
    assert find_loop(text) is not None
    r = grade(text, "9", finish="length")
    assert (r["strict"].correct, r["default"].correct) == (False, False)
    assert r["default"].reason == "truncated"
    assert grade(text, "9", finish=None)["default"].correct is False  # unknown finish: the loop decides
    # the lenient profile is plain math-verify: it credits it, which is the difference it shows
    assert r["lenient"].correct is True


def test_answer_given_before_the_budget_ran_out_still_counts():
    text = "<think>" + LONG + "</think>\nSo the answer is $\\boxed{9}$. To summarise the steps, we first fac"
    assert grade(text, "9", finish="length")["default"].correct is True


def test_answer_at_the_end_of_the_reasoning_counts_when_the_model_stopped():
    # an RL fine-tune that boxes its answer inside the think block and writes nothing after it
    text = ("<think>\n" + LONG + "The least multiple of 30 written with only the digits 0 and 2 is 2220.\n\n"
            "The answer is \\boxed{2220}.</think>")
    r = grade(text, "2220", finish="stop")
    assert all(g.correct for g in r.values()), r
    assert r["default"].rule == "boxed"
    assert grade(text, "6", finish="stop")["default"].correct is False  # the last box, not an earlier one
    # cut off there, or finish reason unknown (a token limit may fall right after </think>): no answer
    for finish in ("length", None):
        assert grade(text, "2220", finish=finish)["default"].correct is False, finish


def test_tag_style_box_after_the_think_block():
    text = ("<think>\n" + LONG + "So the coins before the bag of 53 were $7 \\times 29 = 203$.\n"
            "Thus, the answer is \\(\\boxed{203}\\).</think> <boxed>203</boxed>")
    assert answer_region(text).strip() == "\\boxed{203}"
    r = grade(text, "203")
    assert (r["strict"].correct, r["default"].correct) == (True, True)
    matrix = "</think> <boxed>\\begin{pmatrix} \\frac{16}{49} \\\\ \\frac{48}{49} \\end{pmatrix}</boxed>"
    assert grade(matrix, "\\begin{pmatrix} 16/49 \\\\ 48/49 \\end{pmatrix}")["default"].correct is True
    assert grade("</think> <boxed>55</boxed>", "55^\\circ")["default"].correct is True


def test_loop_through_the_think_closer_that_hit_the_limit_is_not_an_answer():
    # the repeated unit holds </think>: the answer region is only the last repeat, short and clean
    unit = ("</think> The radius of the smaller semicircle is \\(\\boxed{\\frac{14}{3}}\\). </answer> "
            "\\boxed{\\frac{14}{3}} </boxed> </solution> ")
    text = "<think>\n" + LONG + "So the radius is $\\frac{14}{3}$." + unit * 120
    r = grade(text, "\\frac{14}{3}", finish="length")
    assert (r["strict"].correct, r["default"].correct) == (False, False)
    # a stop token emitted inside the loop does not make it a finished answer
    r = grade(text, "\\frac{14}{3}", finish="stop")
    assert (r["strict"].correct, r["default"].correct) == (False, False)
    # a model that loops in its reasoning, then closes the block and answers once, has answered
    looped = "<think>\n" + LONG + "Wait, let me check the radius again. " * 150
    answered = looped + "</think>\n\nThe radius of the smaller semicircle is $\\boxed{\\frac{14}{3}}$."
    assert find_loop(looped) is not None
    assert grade(answered, "\\frac{14}{3}", finish="stop")["default"].correct is True


def test_token_salad_is_a_runaway():
    salad = "pd自如取消 Brig that Bo noon Δ RELEASEvalidation 万平方米常务 exon clap 重返 corps Bain 겠습니다 **** بو 发挥 "
    text = LONG + "Therefore the area is $\\boxed{25}$." + salad * 30
    assert degenerate(text)
    assert grade(text, "25", finish=None)["default"].correct is False
    assert not degenerate("这是一个完整的中文解答。" * 400)  # written in another language throughout


def test_ends_complete():
    assert ends_complete("So the answer is 5.")
    assert ends_complete("$$x = 2$$")
    assert ends_complete("\\[\\boxed{5}\\]")
    assert not ends_complete("Therefore, the value of f(1/5) is:**")
    assert not ends_complete("and then we multiply by")
    assert finished("anything", "stop") and not finished("So it is 5.", "length")


def test_two_megabyte_loop_of_unclosed_boxes_is_linear():
    """16,000 unclosed \\boxed{ took 141 s when every box re-scanned the rest of the text; 300,000
    (2 MB) must take about a second. The alarm turns a quadratic regression into a failure."""
    text = "Let me think. " + "\\boxed{" * 300_000
    assert len(text) > 2_000_000

    def too_slow(signum, frame):
        raise AssertionError("extraction of a 2 MB looping completion is not linear")

    old = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(60)
    try:
        assert last_boxed(text) is None
        assert extract_answer(text, ladder="math", finished=True).answer is None
        r = MathGrader(timeout_seconds=2).grade(text, "5", finish_reason="length", profiles=("strict", "default"))
        assert r["default"].reason == "truncated"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_answer_region_markers():
    assert answer_region("<|begin_of_thought|> x <|end_of_thought|>\n<|begin_of_solution|> 5 <|end_of_solution|>") \
        .strip() == "5"
    assert answer_region("<|begin_of_thought|> cut off") is None


# -- math-verify's kinds of cases --------------------------------------------------------------------

@pytest.mark.parametrize("gold,pred,ok", [
    ("x \\geq 5", "x >= 5", True),
    ("x \\geq 5", "x ≥ 5", True),
    ("[5, \\infty)", "x \\geq 5", True),
    ("(-\\infty, 3]", "(-∞, 3]", True),
    ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}", True),
    ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{pmatrix} 1 & 2 \\\\ 4 & 3 \\end{pmatrix}", False),
    ("1000", "1 000", True),
    ("1000", "1\\,000", True),
    ("1000", "1{,}000", True),
    ("1000", "1\u2009000", True),
    ("7425000", "7,425,000", True),
    ("2.5", "2,5", True),  # a decimal comma
    ("2, 5", "2,5", True),  # a list stays a list
    ("2.5", "2,500", False),  # three digits after the comma: thousands, not a decimal
    ("5", "\\text{5 cm}", True),
    ("5", "5\\text{ cm}", True),
    ("\\text{Evelyn}", "Evelyn", True),
    ("25\\%", "25", True),
    ("30^\\circ", "30", True),
    ("30", "30°", True),
    ("3", "three", True),
    ("\\sqrt{2}", "√2", True),
    ("\\sqrt{53}", "√53", True),  # the whole number under the root, not \\sqrt 53 = 3\\sqrt 5
    ("5", "x = 5", True),
    ("y = 2x + 3", "2x + 3", True),
    ("-2, 1", "1, -2", True),
    ("\\frac{1}{2}", "0.5", True),
    ("\\frac{3}{2}", "\\frac{2}{3}", False),
    ("401", "400", False),
])
def test_equivalence_cases(gold, pred, ok):
    g = MathGrader(timeout_seconds=5)
    assert g.verifier.check(gold, pred)[0] is ok, (gold, pred, prepare(pred, gold))


# -- profiles, scores and metrics --------------------------------------------------------------------

def _task(grader: str = "default", **prompt):
    cfg = {"name": "t", "family": "math", "fields": {"id": "id", "problem": "p", "answer": "a"},
           "scoring": {"timeout_seconds": 5, "grader": grader}}
    return MathTask(cfg, prompt)


def _complete(text: str, finish: str = "stop", sample: int = 0) -> Completion:
    return Completion(problem_id="x", sample=sample, text=text, finish_reason=finish, output_tokens=5)


def test_task_score_records_rule_and_every_profile():
    p = Problem(id="x", inputs={"problem": "?"}, reference="9")
    s = _task().score(p, _complete(PLAIN + "So 196 has 9 divisors in all."))
    assert (s.correct, s.rule, s.extracted) == (True, "statement", "9")
    assert s.by_grader == {"strict": False, "default": True, "lenient": True}
    assert s.extracted_by_grader == {"strict": None}
    s = _task("strict").score(p, _complete(PLAIN + "So 196 has 9 divisors in all."))
    assert (s.correct, s.rule, s.reason) == (False, "none", "no_answer")
    assert set(s.to_json()) >= {"rule", "by_grader"}


def test_unknown_grader_is_a_config_error():
    from harness.errors import ConfigError

    with pytest.raises(ConfigError, match="task.scoring.grader"):
        _task("generous")


def test_profile_scores_and_by_grader_metrics():
    scores = [
        Score("a", 0, True, "9", "ok", "stop", rule="statement", by_grader={"strict": False, "default": True, "lenient": True},
              extracted_by_grader={"strict": None}),
        Score("a", 1, True, "9", "ok", "stop", rule="boxed", by_grader={"strict": True, "default": True, "lenient": True}),
        Score("b", 0, False, None, "truncated", "length", rule="none",
              by_grader={"strict": False, "default": False, "lenient": True}, extracted_by_grader={"lenient": "4"}),
        Score("b", 1, False, "5", "ok", "stop", rule="boxed", by_grader={"strict": False, "default": False, "lenient": False}),
    ]
    assert profiles_of(scores) == list(GRADERS)
    strict = profile_scores(scores, "strict")
    assert [s.correct for s in strict] == [False, True, False, False]
    assert strict[0].extracted is None and strict[0].reason == "no_answer"
    lenient = profile_scores(scores, "lenient")
    assert lenient[2].extracted == "4" and lenient[2].reason == "ok"
    m = by_grader_metrics(scores)
    assert m["strict"]["pass@1"] == pytest.approx((0.5 + 0) / 2)
    assert m["default"]["pass@1"] == pytest.approx((1 + 0) / 2)
    assert m["lenient"]["pass@1"] == pytest.approx((1 + 0.5) / 2)
    assert set(m["default"]) == {"pass@1", "pass@1_se_generation", "cons@k"}
    assert profiles_of([Score("a", 0, True, "1", "ok")]) == []
    # a sample the scorer failed on (no verdicts) does not hide the other samples' profiles
    assert profiles_of([*scores, Score("c", 0, False, "scorer error: ValueError", "error")]) == list(GRADERS)


def test_an_unclosed_think_block_without_a_finish_reason_counts_as_cut_off():
    from harness.scoring.math import MathGrader
    from harness.types import Reason, Score

    g = MathGrader(5)
    text = "<think>\nOkay, so I need to find the area. Let me set up coordinates: A at (0,0), B at (4"
    for finish, reason in (("unknown", "truncated"), ("length", "truncated"), ("stop", "no_answer")):
        got = g.grade(text, "12", finish_reason=finish)["default"]
        assert (got.correct, got.reason) == (False, reason)
    # and the run's truncation rate counts it, so a verdict can name truncation as the reason
    replayed = Score(id="a", sample=0, correct=False, extracted=None, reason=Reason.TRUNCATED, finish_reason="unknown")
    stopped = Score(id="b", sample=0, correct=False, extracted=None, reason=Reason.NO_ANSWER, finish_reason="stop")
    assert replayed.cut_off and not stopped.cut_off
