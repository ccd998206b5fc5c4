"""GPQA Diamond: loading in the hub schema, the seeded choice shuffle, the prompt, letter scoring on
realistic chain-of-thought text, and a replay end to end through the Hydra entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, only_run, read_jsonl, run_harness

from harness import metrics
from harness.errors import ConfigError, DataError
from harness.tasks import build_task
from harness.tasks.gpqa import LETTERS, choice_order, to_letter
from harness.types import Completion, Problem

GPQA_SAMPLE = ROOT / "tests" / "fixtures" / "gpqa_sample.jsonl"
TASK_YAML = ROOT / "configs" / "task" / "gpqa_diamond.yaml"
ANSWER_FIELDS = ["Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3"]


def _cfg(**over):
    cfg = yaml.safe_load(TASK_YAML.read_text())
    cfg["data_files"] = str(GPQA_SAMPLE)
    cfg.update(over)
    return cfg


def _task(cfg=None, **prompt):
    cfg = cfg or _cfg()
    prompt.setdefault("template", cfg["prompt_template"])
    return build_task(cfg, prompt)


def _rows(path: Path = GPQA_SAMPLE) -> list[dict]:
    return read_jsonl(path)


@pytest.fixture(scope="module")
def loaded():
    task = _task()
    return task, {p.id: p for p in task.load()}


# -- loading ---------------------------------------------------------------------------------------

def test_loads_hub_schema(loaded):
    task, problems = loaded
    rows = _rows()
    assert list(problems) == [r["Record ID"] for r in rows]
    for r in rows:
        p = problems[r["Record ID"]]
        letter = p.reference["answer"]
        assert letter in LETTERS
        # the correct answer sits under the reference letter, the three others under the others
        assert p.inputs[letter] == r["Correct Answer"].strip()
        assert sorted(p.inputs[x] for x in LETTERS) == sorted(r[f].strip() for f in ANSWER_FIELDS)
        # the recorded order says where each hub answer went
        assert [p.inputs[x] for x in LETTERS] == [r[ANSWER_FIELDS[i]].strip() for i in p.reference["order"]]
        assert p.inputs["question"] == r["Question"].strip()
        assert p.meta == {"High-level domain": r["High-level domain"], "Subdomain": r["Subdomain"]}
    assert task.source["kind"] == "file" and task.source["rows"] == 6
    assert task.source["fingerprint"].startswith("sha256:") and task.source["shuffle_seed"] == 0


def test_limit():
    assert len(_task(_cfg(limit=2)).load()) == 2


def test_missing_field_names_field_and_source(tmp_path):
    bad = tmp_path / "bad.jsonl"
    rows = _rows()
    del rows[3]["Incorrect Answer 2"]
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=r"bad\.jsonl.*'Incorrect Answer 2'"):
        _task(_cfg(data_files=str(bad))).load()


def test_duplicate_id_and_empty_answer_are_errors(tmp_path):
    rows = _rows()
    dup = tmp_path / "dup.jsonl"
    dup.write_text("".join(json.dumps(r) + "\n" for r in [*rows, rows[0]]))
    with pytest.raises(DataError, match="duplicate problem id 'recFixtureQ01'"):
        _task(_cfg(data_files=str(dup))).load()
    rows[2]["Incorrect Answer 3"] = "  "
    empty = tmp_path / "empty.jsonl"
    empty.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match="recFixtureQ03.*'Incorrect Answer 3'"):
        _task(_cfg(data_files=str(empty))).load()


def test_bad_config_names_the_key():
    with pytest.raises(ConfigError, match="task.shuffle_seed"):
        _task(_cfg(shuffle_seed=None))
    with pytest.raises(ConfigError, match="task.fields.incorrect"):
        cfg = _cfg()
        cfg["fields"] = {**cfg["fields"], "incorrect": ["Incorrect Answer 1"]}
        _task(cfg)
    with pytest.raises(ConfigError, match=r"task.prompt_template.*\{problem\}"):
        _task(template="{problem}\n{A} {B} {C} {D}")
    with pytest.raises(ConfigError, match=r"task.prompt_template.*no \{D\}"):
        _task(template="{question}\n{A} {B} {C}")


# -- the shuffle -----------------------------------------------------------------------------------

def test_shuffle_is_deterministic_and_depends_on_seed_and_id_only(loaded, tmp_path):
    _, first = loaded
    again = {p.id: p for p in _task().load()}
    assert {k: p.reference for k, p in again.items()} == {k: p.reference for k, p in first.items()}
    # row position does not matter: the same question gets the same order in a reversed file
    rev = tmp_path / "reversed.jsonl"
    rev.write_text("".join(json.dumps(r) + "\n" for r in reversed(_rows())))
    reversed_ = {p.id: p for p in _task(_cfg(data_files=str(rev))).load()}
    assert {k: p.inputs for k, p in reversed_.items()} == {k: p.inputs for k, p in first.items()}
    # another seed, other orders
    other = {p.id: p for p in _task(_cfg(shuffle_seed=1)).load()}
    assert any(other[k].reference["order"] != first[k].reference["order"] for k in first)
    assert {p.reference["seed"] for p in other.values()} == {1}


def test_shuffle_spreads_the_correct_letter():
    letters = Counter(LETTERS[choice_order(f"rec{i:05d}", 0).index(0)] for i in range(400))
    assert set(letters) == set(LETTERS)
    assert all(70 <= n <= 130 for n in letters.values()), letters
    orders = {tuple(choice_order(f"rec{i:05d}", 0)) for i in range(400)}
    assert len(orders) == 24  # every permutation of four occurs
    assert all(sorted(o) == [0, 1, 2, 3] for o in orders)
    assert choice_order("recX", 0) == choice_order("recX", 0)


# -- the prompt ------------------------------------------------------------------------------------

def test_prompt_text(loaded):
    task, problems = loaded
    p = problems["recFixtureQ04"]
    [msg] = task.prompt(p)
    assert msg["role"] == "user"
    assert msg["content"] == (
        "Answer the following multiple-choice question. Think it through step by step, then give the "
        "letter of the correct choice (A, B, C or D) within \\boxed{}.\n\n"
        "Which alkane has exactly one carbon atom?\n\n"
        f"A) {p.inputs['A']}\nB) {p.inputs['B']}\nC) {p.inputs['C']}\nD) {p.inputs['D']}"
    )
    # the model's math instruction is not part of the GPQA prompt
    math_task = _task(instruction="Please reason step by step, and put your final answer within \\boxed{}.")
    assert "Please reason" not in math_task.prompt(p)[0]["content"]


def test_prompt_keeps_model_system_prompt_and_optional_instruction(loaded):
    _, problems = loaded
    p = problems["recFixtureQ02"]
    t = _task(system="You are a careful scientist.", instruction="Box the letter.",
              template="{question}\n(A) {A}\n(B) {B}\n(C) {C}\n(D) {D}\n{instruction}")
    system, user = t.prompt(p)
    assert system == {"role": "system", "content": "You are a careful scientist."}
    assert user["content"].startswith("Roughly how fast does light travel in vacuum?\n(A) ")
    assert user["content"].endswith("\nBox the letter.")
    assert "$3 \\times 10^8$ m/s" in user["content"]  # braces and backslashes in choices survive


# -- answer -> letter ------------------------------------------------------------------------------

CHOICES = {"A": "20 m/s", "B": "$3 \\times 10^8$ m/s", "C": "DNA", "D": "3:1"}


@pytest.mark.parametrize("answer,letter", [
    ("C", "C"), ("c", "C"), ("(C)", "C"), ("[C]", "C"), ("C.", "C"), ("**C**", "C"),
    ("\\text{(C)}", "C"), ("\\textbf{C}", "C"), ("$\\text{C}$", "C"), ("\\text{\\textbf{(C)}}", "C"),
    ("Answer: C", "C"), ("the correct answer is (C)", "C"), ("Option C", "C"), ("choice (C)", "C"),
    ("C) DNA", "C"), ("(C) DNA", "C"), ("C. DNA", "C"), ("C: DNA", "C"),
    ("DNA", "C"), ("dna", "C"), ("\\text{DNA}", "C"), ("3 : 1", "D"),
    ("$3 \\times 10^8$ m/s", "B"), ("3 \\times 10^8 m/s", "B"), ("20\\,m/s", "A"),
    ("A and C", None), ("(A) or (C)", None), ("C) DNA, not (A)", None), ("E", None),
    ("42", None), ("RNA", None), ("", None),
])
def test_to_letter(answer, letter):
    assert to_letter(answer, CHOICES) == letter


def test_choice_text_matching_can_be_turned_off():
    assert to_letter("DNA", CHOICES, match_text=False) is None
    assert to_letter("(C) DNA", CHOICES, match_text=False) == "C"


# -- scoring realistic completions -----------------------------------------------------------------

def _problem(answer="C"):
    return Problem(id="q", inputs={"question": "?", **CHOICES}, reference={"answer": answer, "order": [], "seed": 0})


def _score(task, text, finish="stop", answer="C", sample=0, reasoning=None):
    c = Completion(problem_id="q", sample=sample, text=text, finish_reason=finish, output_tokens=50,
                   reasoning=reasoning)
    return task.score(_problem(answer), c)


LONG_COT = """<think>
Okay, the question asks which molecule stores hereditary information in a bacterium. Let me go
through the options one by one.

Option A is "20 m/s", a speed, clearly unrelated. Option B is a speed as well.
Hmm, could it be ATP? No, ATP is an energy carrier. Maybe the answer is \\boxed{A}? No wait, that
makes no sense, A is a speed. Let me reconsider: bacteria keep their genome as a circular
chromosome made of DNA, so option C.

Answer: D? No -- D is a ratio. It is C.
</think>

Bacteria store their genetic information in DNA (a circular chromosome plus plasmids).

First I thought \\boxed{D}, but D is a phenotype ratio. The correct choice is:

\\[
\\boxed{\\text{(C)}}
\\]
"""


def test_score_long_chain_of_thought():
    t = _task()
    s = _score(t, LONG_COT)
    assert (s.correct, s.extracted, s.reason) == (True, "C", "ok")
    # the same reasoning against another key is a wrong, parsed answer
    s = _score(t, LONG_COT, answer="A")
    assert (s.correct, s.extracted, s.reason) == (False, "C", "ok")


def test_score_choice_text_instead_of_letter():
    t = _task()
    s = _score(t, "<think>genomes are DNA</think>\nThe final answer is $\\boxed{\\text{DNA}}$.")
    assert (s.correct, s.extracted, s.reason) == (True, "C", "ok")
    s = _score(t, "<think>hmm</think>\n**Answer:** (C) DNA")
    assert (s.correct, s.extracted) == (True, "C")
    s = _score(t, "<think>hmm</think>\nThe answer is C.")
    assert (s.correct, s.extracted) == (True, "C")


def test_score_bare_letter_on_last_line():
    t = _task()
    s = _score(t, "<think>it must be the nucleic acid</think>\nSo the molecule is the nucleic acid.\n\n**(C)**\n")
    assert (s.correct, s.extracted, s.reason) == (True, "C", "ok")
    t_off = _task(_cfg(scoring={"match_choice_text": True, "last_line_letter": False}))
    s = _score(t_off, "<think>x</think>\n**(C)**")
    assert (s.correct, s.extracted, s.reason) == (False, None, "no_answer")


def test_score_unterminated_think_has_no_answer():
    t = _task()
    # the letter inside an unfinished think block is never the answer
    s = _score(t, "<think>\nLet me check each option. It could be \\boxed{C}, but let me verify " + "more " * 200)
    assert (s.correct, s.extracted, s.reason) == (False, None, "no_answer")
    s = _score(t, "<think>\nThe answer is C, but wait, let me rethink " + "this " * 200, finish="length")
    assert (s.correct, s.extracted, s.reason) == (False, None, "truncated")


def test_score_think_prefilled_by_chat_template():
    t = _task(think_prefilled=True)
    # R1 chat templates open the think block in the prompt: no "</think>" means no answer
    s = _score(t, "Okay, it is DNA, so \\boxed{C}")
    assert (s.correct, s.reason) == (False, "no_answer")
    s = _score(t, "Okay, it is DNA.\n</think>\n\n\\boxed{C}")
    assert (s.correct, s.extracted) == (True, "C")
    # a server that returns the reasoning separately gives the answer text alone
    s = _score(t, "\\boxed{C}", reasoning="Okay, it is DNA.")
    assert (s.correct, s.extracted) == (True, "C")


def test_score_unparsed_and_error():
    t = _task()
    s = _score(t, "</think>\nThe answer is \\boxed{E}")
    assert (s.correct, s.extracted, s.reason) == (False, None, "unparsed")
    s = _score(t, "</think>\n\\boxed{A \\text{ or } C}")
    assert (s.correct, s.extracted, s.reason) == (False, None, "unparsed")
    s = _score(t, "", finish="error")
    assert (s.correct, s.reason) == (False, "error")
    s = Completion(problem_id="q", sample=0, text="\\boxed{C}", finish_reason="stop", error="HTTP 500")
    assert t.score(_problem(), s).reason == "error"


def test_answer_before_the_budget_ran_out_counts():
    s = _score(_task(), "</think>\nSo \\boxed{C}. Let me also double-check by anoth", finish="length")
    assert (s.correct, s.extracted, s.reason) == (True, "C", "ok")


def test_majority_vote_over_letters():
    t = _task()
    texts = ["</think> \\boxed{C}", "</think> \\boxed{\\text{DNA}}", "</think> Answer: (A)",
             "</think> \\boxed{A}", "</think> \\boxed{(C)}", "<think> never finished"]
    scores = [_score(t, x, sample=i) for i, x in enumerate(texts)]
    assert [s.extracted for s in scores] == ["C", "C", "A", "A", "C", None]
    m = metrics.compute(scores)
    assert m["pass@1"] == pytest.approx(3 / 6)
    assert m["cons@k"] == 1.0


# -- end to end ------------------------------------------------------------------------------------

def _completion(code: str, p: Problem) -> tuple[str, str]:
    """Replay text for an outcome code, R1-distill style (the think block opened by the template)."""
    right = p.reference["answer"]
    wrong = LETTERS[(LETTERS.index(right) + 1) % 4]
    cot = ("Okay, let me look at the options. " + "I weigh each choice carefully. " * 40
           + f"At first \\boxed{{{wrong}}} looked plausible, but no.\n</think>\n\n")
    if code == "c":
        return cot + f"The correct choice is **{right}**:\n\n$\\boxed{{{right}}}$", "stop"
    if code == "w":
        return cot + f"Therefore the answer is \\boxed{{{wrong}}}.", "stop"
    if code == "x":  # the text of the right choice instead of its letter
        return cot + f"\\boxed{{\\text{{{p.inputs[right]}}}}}", "stop"
    if code == "p":
        return cot + f"Answer: ({right})", "stop"
    if code == "n":
        return cot + "I cannot decide between these options.", "stop"
    if code == "u":
        return cot + "\\boxed{E}", "stop"
    return "Okay, let me think. " + "Consider option A again. " * 100, "length"  # 't'


PLAN = {  # per question, 4 samples
    "recFixtureQ01": "cccc",  # pass 1,    vote right
    "recFixtureQ02": "cxpw",  # pass 3/4,  vote right
    "recFixtureQ03": "wwcc",  # pass 1/2,  tie: the earliest answer (wrong) wins
    "recFixtureQ04": "ntuc",  # pass 1/4,  the only letter given is right
    "recFixtureQ05": "wwwc",  # pass 1/4,  vote wrong
    "recFixtureQ06": "tttt",  # pass 0,    no vote
}


def test_replay_end_to_end_exact_metrics_and_report(loaded, tmp_path):
    _, problems = loaded
    outs = tmp_path / "outs.jsonl"
    with open(outs, "w") as f:
        for pid, codes in PLAN.items():
            for code in codes:
                text, fin = _completion(code, problems[pid])
                f.write(json.dumps({"id": pid, "completion": text, "finish_reason": fin}) + "\n")
    res = tmp_path / "results"
    run_harness("model=r1-distill-qwen-7b", "task=gpqa_diamond", f"task.data_files={GPQA_SAMPLE}",
                "backend=replay", f"backend.path={outs}", f"results_dir={res}")
    run = only_run(res)
    m = json.loads((run / "metrics.json").read_text())
    assert m["problems"] == 6 and m["samples"] == 24 and m["k"] == 4
    assert m["pass@1"] == pytest.approx((1 + 0.75 + 0.5 + 0.25 + 0.25 + 0) / 6)
    assert m["cons@k"] == pytest.approx(3 / 6)
    assert m["reasons"] == {"ok": 17, "no_answer": 1, "truncated": 5, "unparsed": 1}
    assert m["truncated_rate"] == pytest.approx(5 / 24)
    assert m["by"]["High-level domain"] == {
        "Biology": {"problems": 2, "pass@1": pytest.approx(0.125)},
        "Chemistry": {"problems": 2, "pass@1": pytest.approx(0.375)},
        "Physics": {"problems": 2, "pass@1": pytest.approx(0.875)},
    }
    assert set(m["by"]["Subdomain"]) == {r["Subdomain"] for r in _rows()}
    scores = read_jsonl(run / "scores.jsonl")
    assert {s["extracted"] for s in scores} <= {*LETTERS, None}
    for s in scores:
        if s["extracted"] is not None:
            assert s["correct"] == (s["extracted"] == problems[s["id"]].reference["answer"])
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["task"] == {"name": "gpqa_diamond", "benchmark": "gpqa_diamond", "family": "gpqa"}
    assert manifest["protocol"]["instruction"] is None  # the model's math instruction is not sent
    assert "{question}" in manifest["protocol"]["prompt_template"]
    assert manifest["dataset"]["shuffle_seed"] == 0

    # the run lands in the GPQA Diamond table of a leaderboard built from this results dir,
    # against the R1 report's claim for the 7B distill
    proc = subprocess.run([sys.executable, "-m", "harness", "report", "--results-dir", str(res), "--no-plots"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    board = (res / "LEADERBOARD.md").read_text()
    start = board.index("## GPQA Diamond (`gpqa_diamond`, 198 problems)")
    gpqa = board[start:board.index("\n## ", start + 1)]
    ours = [line for line in gpqa.splitlines() if f"runs/{run.name}/report.md" in line]
    # one row per claim: the R1 report, then every published reproduction of it (configs/external/)
    from harness.claims import load_registry

    reg = load_registry()
    reproductions = [e for e in reg.external if e.model == "r1-distill-qwen-7b" and e.benchmark == "gpqa_diamond"]
    assert len(ours) == 1 + len(reproductions) and len(reproductions) >= 1
    assert all(line.startswith("| DeepSeek-R1-Distill-Qwen-7B | ours | pass@1 | 45.8 ± ") for line in ours)
    assert "49.1 (R1 paper, Table 5)" in ours[0] and any("50.5 (open-r1" in line for line in ours[1:])
    assert "subset: 6 of 198 problems" in board
    assert (run / "report.md").is_file()


@pytest.mark.engine
def test_vllm_end_to_end_on_the_tiny_model(tiny_model, tmp_path):
    run_harness("model=tiny-llama", "backend=vllm", "task=gpqa_diamond", f"task.data_files={GPQA_SAMPLE}",
                "task.limit=3", "sampling.k=2", "sampling.max_tokens=16", f"results_dir={tmp_path}")
    run = only_run(tmp_path)
    m = json.loads((run / "metrics.json").read_text())
    assert m["problems"] == 3 and m["samples"] == 6
    samples = read_jsonl(run / "samples.jsonl")
    assert len(samples) == 6 and all(s["prompt_tokens"] > 30 for s in samples)
    assert sum(m["reasons"].values()) == 6 and 0.0 <= m["pass@1"] <= 1.0


def test_an_answer_that_ends_the_reasoning_counts_when_the_model_stopped_there():
    from harness.scoring.extract import extract_answer

    text = "<think>\nThe shift is larger for the conjugated ketone, so it is C.\n\nThe answer is \\boxed{C}.</think>"
    assert extract_answer(text, finish_reason="stop").answer == "C"
    assert extract_answer(text, finish_reason="length").answer is None
    assert extract_answer(text).answer is None  # no finish reason: not read
