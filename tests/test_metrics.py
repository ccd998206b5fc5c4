"""Metrics against hand-computed values."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from harness import plots, verdict
from harness.metrics import (
    compute,
    ks_for,
    majority,
    pass1_se,
    pass1_se_array,
    pass_at_k,
    same_text,
    votes,
)
from harness.tasks import Task
from harness.tasks.math import MathTask
from harness.types import Score


def S(pid, sample, correct, extracted=None, reason="ok", finish="stop", tokens=10):
    if extracted is None and correct:
        extracted = "right"
    return Score(id=pid, sample=sample, correct=correct, extracted=extracted, reason=reason,
                 finish_reason=finish, output_tokens=tokens)


def test_pass_at_k_edge_cases():
    assert pass_at_k(10, 0, 1) == 0.0  # c = 0
    assert pass_at_k(10, 10, 5) == 1.0  # c = n
    assert pass_at_k(5, 3, 1) == pytest.approx(0.6)
    # 1 - C(2,2)/C(4,2) = 1 - 1/6
    assert pass_at_k(4, 2, 2) == pytest.approx(5 / 6)
    # n - c < k: every k-subset contains a correct sample
    assert pass_at_k(4, 3, 2) == 1.0
    with pytest.raises(ValueError, match="undefined"):
        pass_at_k(3, 1, 4)  # n < k
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)


def test_pass_at_k_matches_combinatorial_definition():
    for n in range(1, 9):
        for c in range(n + 1):
            for k in range(1, n + 1):
                exact = 1 - math.comb(n - c, k) / math.comb(n, k)
                assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12)


def test_ks_for():
    assert ks_for(1) == [1]
    assert ks_for(4) == [1, 2, 4]
    assert ks_for(6) == [1, 2, 4, 6]
    assert ks_for(64) == [1, 2, 4, 8, 16, 32, 64]


def math_task() -> MathTask:
    return MathTask({"name": "m", "family": "math", "fields": {"id": "id", "problem": "q", "answer": "a"}}, {})


def test_majority_vote_ties_go_to_the_earliest_answer():
    ss = [S("a", 2, False, "5"), S("a", 0, True, "7"), S("a", 1, False, "5"), S("a", 3, True, "7")]
    # in sample order: 7 (group 0), 5 (group 1), 5, 7: 2 vs 2, "7" appeared first (sample 0)
    assert votes(ss) == [(0, True), (1, False), (1, False), (0, True)]
    assert majority(votes(ss)) is True
    assert majority(votes([S("a", 0, False, None, "no_answer")])) is False


def test_three_sample_example_is_one_value_in_metrics_and_plots():
    # "5" (grader timeout, scored wrong), "5" (verified correct), "7" (wrong): "5" wins 2 to 1 and
    # is the right answer; a timeout on one copy of it does not make it wrong. Before, metrics.json
    # said 0 (first sample of the group) and the plot said 1 (any sample of the group).
    ss = [S("a", 0, False, "5", "timeout"), S("a", 1, True, "5", "ok"), S("a", 2, False, "7", "ok")]
    v = votes(ss)
    assert v == [(0, True), (0, True), (1, False)]
    assert compute(ss)["cons@k"] == 1.0
    assert plots.cons_first_k([v], 3) == 1.0
    assert plots.cons_first_k([v], 1) == 1.0  # the first sample alone votes for the right answer
    # the cons@k SE resamples the same votes: 3 draws are wrong only with >= 2 "7"s:
    # 3 (1/3)^2 (2/3) + (1/3)^3 = 7/27, so q = 20/27
    q = verdict.cons_rates([v], 3, 4000)[0]
    assert q == pytest.approx(20 / 27, abs=0.03)


def test_who_votes():
    ss = [S("a", 0, False, None, "no_answer"), S("a", 1, False, None, "truncated", "length"),
          S("a", 2, False, "3", "error"), S("a", 3, False, "4", "unparsed"), S("a", 4, False, "  ", "ok"),
          S("a", 5, True, "4", "timeout")]
    assert votes(ss) == [(None, False), (None, False), (None, False), (0, True), (None, False), (0, True)]


def test_answers_are_grouped_by_math_equivalence():
    t = math_task()
    assert t.same_answer("0.5", "1/2") and t.same_answer("1,000", "1000") and t.same_answer("\\frac{1}{2}", "0.5")
    assert t.same_answer("2\\sqrt{2}", "\\sqrt{8}") and t.same_answer("x+1", "1+x")
    assert not t.same_answer("5", "7") and not t.same_answer("1,000", "100")
    # two wrong "7"s against three spellings of the right 1/2
    ss = [S("a", 0, False, "7"), S("a", 1, False, "7"), S("a", 2, True, "0.5"), S("a", 3, True, "1/2"),
          S("a", 4, True, "\\frac{1}{2}")]
    assert votes(ss, t.same_answer) == [(0, False), (0, False), (1, True), (1, True), (1, True)]
    assert compute(ss, same=t.same_answer)["cons@k"] == 1.0
    assert compute(ss)["cons@k"] == 0.0  # as strings, "7" would win 2 to 1
    ss = [S("b", 0, True, "1000"), S("b", 1, True, "1,000"), S("b", 2, False, "999"), S("b", 3, False, "999")]
    assert majority(votes(ss, t.same_answer)) is True  # 2 vs 2, 1000 first


def test_default_equivalence_is_string_equality():
    class Letters(Task):  # GPQA-like: the Task default
        def load(self): return []
        def prompt(self, problem): return []
        def score(self, problem, completion): raise NotImplementedError

    t = Letters({"name": "x"}, {})
    assert t.same_answer("A", "A") and t.same_answer(" A ", "A") and not t.same_answer("A", "B")
    assert same_text("1/2", "1/2.") and not same_text("1/2", "0.5")


def test_compute_hand_checked():
    # problem a: 3/4 correct; problem b: 1/4 correct; problem c: 0/4 with two truncations
    scores = (
        [S("a", i, i < 3) for i in range(4)]
        + [S("b", 0, True), S("b", 1, False, "x"), S("b", 2, False, "y"), S("b", 3, False, "x")]
        + [S("c", 0, False, None, "truncated", "length", 100), S("c", 1, False, None, "truncated", "length", 100),
           S("c", 2, False, None, "no_answer"), S("c", 3, False, "z")]
    )
    m = compute(scores, {"a": {"level": 1}, "b": {"level": 1}, "c": {"level": 2}}, ["level"])
    assert m["problems"] == 3 and m["samples"] == 12 and m["k"] == 4
    p = [0.75, 0.25, 0.0]
    assert m["pass@1"] == pytest.approx(1 / 3)
    # unbiased c(n-c)/(n(n-1)): 3/12, 3/12, 0; over n = 4: sqrt(.5 / 4) / 3
    assert m["pass@1_se_generation"] == pytest.approx(math.sqrt(0.5 / 4) / 3)
    mean = sum(p) / 3
    assert m["pass@1_se_question"] == pytest.approx(math.sqrt(sum((x - mean) ** 2 for x in p) / 2) / math.sqrt(3))
    # votes: a -> "right" (correct); b -> "x" (2 votes, wrong); c -> "z" (wrong)
    assert m["cons@k"] == pytest.approx(1 / 3)
    assert m["pass@k"]["4"] == pytest.approx((1 + 1 + 0) / 3)
    assert m["pass@k"]["2"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert m["truncated_rate"] == pytest.approx(2 / 12)
    assert m["no_answer_rate"] == pytest.approx(3 / 12)
    assert m["reasons"] == {"no_answer": 1, "ok": 9, "truncated": 2}
    assert m["mean_output_tokens"] == pytest.approx((10 * 10 + 200) / 12)
    assert m["by"]["level"] == {"1": {"problems": 2, "pass@1": 0.5}, "2": {"problems": 1, "pass@1": 0.0}}


def test_uneven_sample_counts():
    scores = [S("a", 0, True), S("b", 0, False, "q"), S("b", 1, True)]
    m = compute(scores)
    assert m["samples_per_problem"] == {"min": 1, "max": 2}
    assert m["pass@1"] == pytest.approx((1 + 0.5) / 2)
    assert list(m["pass@k"]) == ["1"]  # pass@2 undefined for the problem with one sample


def test_empty():
    assert compute([])["problems"] == 0


def test_one_problem_writes_null_not_nan():
    m = compute([S("a", 0, True), S("a", 1, False, "x")])
    assert m["pass@1_se_question"] is None
    # n = 2, c = 1: unbiased 1 * 1 / (2 * 1) = .5, over n = 2 -> SE sqrt(.25) = .5
    assert m["pass@1_se_generation"] == pytest.approx(0.5)
    text = json.dumps(m, allow_nan=False)  # raises on NaN
    assert '"pass@1_se_question": null' in text


def test_pass1_se_checks_inputs_and_batches():
    with pytest.raises(ValueError, match="no problems"):
        pass1_se([])
    with pytest.raises(ValueError, match="problem 1: needs 0 <= c <= n"):
        pass1_se([(4, 1), (4, 5)])
    with pytest.raises(ValueError, match="whole numbers"):
        pass1_se([(4, 1.5)])
    counts = [[(4, 4), (4, 2), (4, 1), (4, 0)], [(4, 4)] * 4, [(2, 1), (1, 0), (3, 3), (4, 0)]]
    n = np.array([[x for x, _ in row] for row in counts])
    c = np.array([[y for _, y in row] for row in counts])
    for k in (None, 1, 64):
        batch = pass1_se_array(n, c, k)
        assert batch.shape == (3,)
        assert list(batch) == pytest.approx([pass1_se(row, k) for row in counts])


def test_report_votes_use_the_runs_task_equivalence(tmp_path):
    """The leaderboard's cons@k SE and plot read the same votes as metrics.json: the report rebuilds
    the run's task from config.yaml to group answers by math equivalence."""
    import yaml

    from harness import report

    ss = [S("a", 0, False, "7"), S("a", 1, True, "0.5"), S("a", 2, True, "1/2")]
    d = tmp_path / "run"
    d.mkdir()
    (d / "manifest.json").write_text(json.dumps({"run_id": "r", "status": "complete", "model": {"name": "m"},
                                                 "task": {"name": "t", "benchmark": "t"}}))
    (d / "metrics.json").write_text(json.dumps(compute(ss, same=math_task().same_answer)))
    (d / "scores.jsonl").write_text("".join(json.dumps(s.to_json()) + "\n" for s in ss))
    task = {"name": "t", "family": "math", "fields": {"id": "id", "problem": "q", "answer": "a"}}
    (d / "config.yaml").write_text(yaml.safe_dump({"task": task, "prompt": {}}))
    run = report.load_run(d)
    assert run.answers == [[(0, False), (1, True), (1, True)]]
    assert plots.cons_first_k(run.answers, 3) == run.metrics["cons@k"] == 1.0
    (d / "config.yaml").write_text("model: {name: m}\n")  # no task config: plain strings
    assert report.load_run(d).answers == [[(0, False), (1, True), (2, True)]]
