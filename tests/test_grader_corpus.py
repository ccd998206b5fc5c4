"""The cited excerpt of the grader corpus and the tools that build and evaluate it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/ is not an installed package

from scripts.grader_corpus import evaluate, graders  # noqa: E402
from scripts.grader_corpus.build import ends_complete, select_excerpt  # noqa: E402
from scripts.grader_corpus.sources import SOURCES  # noqa: E402

EXCERPT = Path(__file__).parent / "fixtures" / "grader_corpus" / "excerpt.jsonl"
# "other" (a finished completion with no final answer at all) has no member since labelling rule 7
# reads the end of the reasoning of a completion that stopped with nothing after </think>
CATEGORIES = {"boxed", "phrase", "statement", "truncated", "loop", "relation", "matrix", "number_format"}
FIELDS = {
    "uid",
    "source",
    "source_commit",
    "source_path",
    "licence",
    "model",
    "benchmark",
    "problem_id",
    "problem",
    "gold",
    "completion",
    "finish_reason",
    "r1_format",
    "source_label",
    "label",
    "label_how",
    "category",
}


@pytest.fixture(scope="module")
def excerpt() -> list[dict]:
    return [json.loads(line) for line in EXCERPT.read_text().splitlines() if line.strip()]


def test_excerpt_items_are_cited_and_labelled(excerpt):
    assert 60 <= len(excerpt) <= 120
    pinned = {(f"github:{s.repo}", s.commit, s.path) for s in SOURCES}
    for it in excerpt:
        assert FIELDS <= it.keys(), it["uid"]
        assert (it["source"], it["source_commit"], it["source_path"]) in pinned, it["uid"]
        assert it["licence"].startswith(("MIT", "Apache-2.0")), it["uid"]
        assert isinstance(it["label"], bool)
        assert it["label_how"].startswith(("agree:", "read:")), it["uid"]
        assert it["r1_format"] == ("</think>" in it["completion"])


def test_excerpt_covers_every_category_and_both_labels(excerpt):
    assert {it["category"] for it in excerpt} == CATEGORIES
    assert {it["label"] for it in excerpt} == {True, False}
    assert any(it["r1_format"] for it in excerpt)
    assert any(it["label_how"].startswith("read:") for it in excerpt)


def test_unfinished_and_looping_completions_are_never_correct(excerpt):
    for it in excerpt:
        if it["category"] in ("truncated", "loop"):
            assert it["label"] is False, it["uid"]


def test_loop_detector_on_real_loops_and_finished_answers(excerpt):
    loops = [it for it in excerpt if it["category"] == "loop"]
    assert loops and all(graders.tail_loop(it["completion"]) for it in loops)
    finished = [it for it in excerpt if it["category"] == "boxed" and it["label"]]
    assert finished and not any(graders.tail_loop(it["completion"]) for it in finished)


def test_finished_text_rule():
    assert ends_complete("so the answer is 3.")
    assert ends_complete("Therefore, the final answer is: $\\boxed{204}$. I hope it is correct")
    assert ends_complete("48/6=<<48/6=8>>8 pieces.\nA: 8")
    assert not ends_complete("But earlier methods gave me 16, so")
    assert not ends_complete("Approximating \\( \\sqrt{120")


def test_last_number_grader():
    assert graders.last_number("so 1,234 apples and then 5", "5") is True
    assert graders.last_number("the answer is 3/4", "\\frac{3}{4}") is False  # last number is 4
    assert graders.last_number("x = 0.75", "\\frac{3}{4}") is True
    assert graders.last_number("anything", "3\\sqrt{2}") is None  # not a number: no verdict


def test_excerpt_selection_is_deterministic(excerpt):
    again = select_excerpt(excerpt)
    assert [it["uid"] for it in again] == [it["uid"] for it in select_excerpt(list(reversed(excerpt)))]


def test_evaluate_reports_each_category(tmp_path, capsys):
    evaluate.main([str(EXCERPT), "--grader", "last_number", "--workers", "1"])
    out = capsys.readouterr().out
    assert "| ALL |" in out
    for cat in CATEGORIES:
        assert f"| {cat} |" in out


def test_evaluate_rejects_an_unknown_grader():
    with pytest.raises(SystemExit, match="--grader"):
        evaluate.main([str(EXCERPT), "--grader", "no_such_grader"])
