"""The pinned public sources of the grader corpus: repository, commit, file, licence, and how one
file's rows become corpus items.

Each source reads its file with ``git show COMMIT:PATH`` from a local copy of the repository
(a clone or a bare mirror), so a rebuild never downloads anything and always sees the pinned bytes.
README.md in this folder says how to obtain each copy.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SourceFile:
    key: str  # short name used in uids, e.g. "sky-gemma2-27b-math500"
    repo: str  # owner/name on GitHub
    commit: str
    path: str
    licence: str
    model: str
    benchmark: str  # math500 | aime24 | math | gsm8k
    reader: str  # name of a row reader below
    keep: Callable[[int], bool] = field(default=lambda i: True)  # which rows (by index) to keep
    samples: int = 1  # completions kept per row (the first N)
    end_marker: str | None = None  # text a finished completion of this model always contains
    think_prefilled: bool = False  # the prompt opened a think block the completion closes
    note: str = ""


def git_show(local_copy: Path, commit: str, path: str) -> bytes:
    """The bytes of PATH at COMMIT in a local clone or bare mirror."""
    cmd = (
        ["git", "-C", str(local_copy)]
        if (local_copy / ".git").exists()
        else ["git", f"--git-dir={local_copy}"]
    )
    try:
        return subprocess.run([*cmd, "show", f"{commit}:{path}"], check=True, capture_output=True).stdout
    except subprocess.CalledProcessError as e:
        raise SystemExit(
            f"cannot read {path} at {commit[:12]} from {local_copy}: {e.stderr.decode().strip()} "
            "(fetch the full history: see scripts/grader_corpus/README.md)"
        ) from None


# ------------------------------------------------------------------ row readers
# Each yields dicts: problem_id, problem, gold, completion, source_label, sample, extra(dict)


def read_qwen_toolkit(data: bytes, sf: SourceFile) -> Iterator[dict]:
    """Output files of the Qwen2.5-Math evaluation toolkit (one JSON object per problem with
    parallel lists ``code`` (completions), ``pred`` and ``score``)."""
    for i, line in enumerate(data.decode().splitlines()):
        if not line.strip() or not sf.keep(i):
            continue
        row = json.loads(line)
        codes = row["code"] if isinstance(row["code"], list) else [row["code"]]
        scores = row.get("score") or [None] * len(codes)
        preds = row.get("pred") or [None] * len(codes)
        pid = row.get("unique_id") or row.get("id") or row["idx"]
        if sf.benchmark == "math500" and "unique_id" not in row:
            pid = f"{int(row['idx']):03d}"
        for s, completion in enumerate(codes[: sf.samples]):
            yield {
                "problem_id": str(pid),
                "problem": row["question"],
                # "answer" is the dataset's own; "gt" is the toolkit's normalised copy, which drops
                # letters and backslashes ("(a+5)(b+2)" -> "(+5)(b+2)", "\\text{east}" -> "").
                "gold": str(row.get("answer") or row["gt"]),
                "completion": completion,
                "source_label": None if scores[s] is None else bool(scores[s]),
                "sample": s,
                "extra": {"source_pred": preds[s], "level": row.get("level"), "type": row.get("type")},
            }


_GSM8K_MODELS = ("175b_verification", "6b_finetuning")


def read_gsm8k_examples(data: bytes, sf: SourceFile) -> Iterator[dict]:
    """openai/grade-school-math example_model_solutions.jsonl: GPT-3 solutions on the GSM8K test
    set, four systems per problem, each with its own is_correct."""
    for i, line in enumerate(data.decode().splitlines()):
        if not line.strip() or not sf.keep(i):
            continue
        row = json.loads(line)
        gold = row["ground_truth"].rsplit("A:", 1)[-1].strip()
        for s, system in enumerate(_GSM8K_MODELS[: sf.samples]):
            sol = row[system]
            yield {
                "problem_id": f"test-{i:04d}",
                "problem": row["question"],
                "gold": gold,
                "completion": sol["solution"],
                "source_label": bool(sol["is_correct"]),
                "sample": s,
                "extra": {"system": system},
            }


def read_lighteval_details(data: bytes, sf: SourceFile) -> Iterator[dict]:
    """A lighteval details parquet file: one row per problem with ``doc`` (gold in
    ``choices[gold_index]``), ``model_response`` (``text``: the completions) and ``metric``."""
    import io

    import pyarrow.parquet as pq

    for i, row in enumerate(pq.read_table(io.BytesIO(data)).to_pylist()):
        if not sf.keep(i):
            continue
        doc, resp = row["doc"], row["model_response"]
        gold = doc["choices"][doc.get("gold_index") or 0]
        metric = row.get("metric") or {}
        score = next(iter(metric.values()), None) if len(metric) == 1 else None
        problem = doc.get("original_query") or doc["query"]
        for s, completion in enumerate(list(resp["text"])[: sf.samples]):
            yield {
                "problem_id": str(doc["id"]),
                "problem": problem,
                "gold": str(gold),
                "completion": completion,
                "source_label": None if score is None else bool(score >= 1.0),
                "sample": s,
                "extra": {"output_tokens": len(resp.get("output_tokens") or []) or None},
            }


READERS = {
    "qwen_toolkit": read_qwen_toolkit,
    "gsm8k_examples": read_gsm8k_examples,
    "lighteval_details": read_lighteval_details,
}


# ------------------------------------------------------------------ the pinned files

QWEN25_MATH = "QwenLM/Qwen2.5-Math"
QWEN25_MATH_COMMIT = "a45202bd16f1ec06f433442dc1152d0074773465"
SKYTHOUGHT = "NovaSky-AI/SkyThought"
# The evaluation outputs below were committed on 2025-01-28/29 and removed later; this commit has them.
SKYTHOUGHT_COMMIT = "6840eb7df638ab178d20122099286db08e376851"
LIGHTEVAL_FORK = "pingzhili/lm-reasoning-eval"
# The details file was committed on 2025-07-11 and removed later; this commit has it.
LIGHTEVAL_FORK_COMMIT = "3b586a2fa5460f189214518a9650eae1ea8e472e"
GSM = "openai/grade-school-math"
GSM_COMMIT = "3101c7d5072418e28b9008a6636bde82a006892c"

_SKY_OUT = "skythought/Qwen2.5-Math/evaluation/outputs"
_SKY_T1_END = "<|end_of_solution|>"


def _sky(
    key, model_dir, bench, model, prompt="qwen25-math-cot", keep=lambda i: True, long_cot=False, note=""
):
    return SourceFile(
        key=key,
        repo=SKYTHOUGHT,
        commit=SKYTHOUGHT_COMMIT,
        path=f"{_SKY_OUT}/{model_dir}/{bench}_eval/{bench}/test_{prompt}_-1_seed0_t0.0_s0_e-1.jsonl",
        licence="Apache-2.0",
        model=model,
        benchmark=bench,
        reader="qwen_toolkit",
        keep=keep,
        end_marker=_SKY_T1_END if long_cot else None,
        note=note or "greedy decoding (t=0), Qwen2.5-Math toolkit; score = toolkit grader",
    )


def _sky_t1(key, model_dir, bench, keep=lambda i: True):
    name = (
        model_dir.rsplit("/", 1)[-1] if "checkpoint" not in model_dir else "/".join(model_dir.split("/")[-2:])
    )
    return _sky(
        key,
        model_dir,
        bench,
        f"NovaSky {name} (long chain-of-thought SFT of a Qwen2.5 model, <|begin_of_thought|> format)",
        prompt="Sky-T1",
        keep=keep,
        long_cot=True,
    )


SOURCES: list[SourceFile] = [
    SourceFile(
        key="qwen25math-rmmaj",
        repo=QWEN25_MATH,
        commit=QWEN25_MATH_COMMIT,
        path="evaluation/data/eval_rm_maj_example/math_cot_100.jsonl",
        licence="MIT (evaluation/LICENSE)",
        model="Qwen2.5-Math-Instruct (size not stated by the source; 8 samples per problem)",
        benchmark="math",
        reader="qwen_toolkit",
        samples=4,
        note="example file of the toolkit's reward-model majority-vote evaluation; 100 MATH test problems",
    ),
    _sky("sky-qwen25-14b-aime24", "Qwen/Qwen2.5-14B-Instruct", "aime24", "Qwen2.5-14B-Instruct"),
    _sky(
        "sky-qwen25-14b-math500",
        "Qwen/Qwen2.5-14B-Instruct",
        "math500",
        "Qwen2.5-14B-Instruct",
        keep=lambda i: i % 4 == 0,
    ),
    _sky("sky-qwen25math-7b-aime24", "Qwen/Qwen2.5-Math-7B", "aime24", "Qwen2.5-Math-7B (base)"),
    _sky(
        "sky-qwen25math-7b-math500",
        "Qwen/Qwen2.5-Math-7B",
        "math500",
        "Qwen2.5-Math-7B (base)",
        keep=lambda i: i % 4 == 1,
    ),
    _sky("sky-gemma2-27b-aime24", "google/gemma-2-27b-it", "aime24", "gemma-2-27b-it"),
    _sky("sky-gemma2-27b-math500", "google/gemma-2-27b-it", "math500", "gemma-2-27b-it"),
    _sky("sky-llama31-8b-aime24", "meta-llama/Llama-3.1-8B", "aime24", "Llama-3.1-8B (base)"),
    _sky_t1("sky-t1-c5k-14b-aime24", "home/ubuntu/skyov1-dl/Sky-T1-math-correct-5K-14B", "aime24"),
    _sky_t1("sky-t1-c5k-27b-aime24", "home/ubuntu/skyov1-dl/Sky-T1-math-correct-5K-27B", "aime24"),
    _sky_t1("sky-t1-w5k-14b-aime24", "home/ubuntu/skyov1-dl/Sky-T1-math-wrong-5K-14B", "aime24"),
    _sky_t1("sky-t1-w5k-27b-aime24", "home/ubuntu/skyov1-dl/Sky-T1-math-wrong-5K-27B", "aime24"),
    _sky_t1("sky-t1-c5k-32b-short-aime24", "icml_models/Sky-T1-math-correct-5K-32B-short-ckpts", "aime24"),
    _sky_t1("sky-t1-corrupt02-32b-aime24", "icml_models/Sky-T1-math-corrupt-0.2-32B", "aime24"),
    _sky_t1("sky-t1-corrupt05-32b-aime24", "icml_models/Sky-T1-math-corrupt-0.5-32B", "aime24"),
    _sky_t1("sky-t1-refl02-32b-aime24", "icml_models/Sky-T1-math-reflection-0.2-32B", "aime24"),
    _sky_t1("sky-t1-refl05-32b-aime24", "icml_models/Sky-T1-math-reflection-0.5-32B", "aime24"),
    _sky_t1("sky-t1-refl10-32b-aime24", "icml_models/Sky-T1-math-reflection-1.0-32B", "aime24"),
    _sky_t1(
        "sky-t1-c5k-32b-ck21-aime24", "icml_models/Sky-T1-math-correct-5K-32B-ckpts/checkpoint-21", "aime24"
    ),
    _sky_t1(
        "sky-t1-c5k-32b-ck70-aime24", "icml_models/Sky-T1-math-correct-5K-32B-ckpts/checkpoint-70", "aime24"
    ),
    _sky_t1(
        "sky-t1-c5k-32b-ck140-aime24", "icml_models/Sky-T1-math-correct-5K-32B-ckpts/checkpoint-140", "aime24"
    ),
    _sky_t1(
        "sky-t1-c5k-27b-math500",
        "home/ubuntu/skyov1-dl/Sky-T1-math-correct-5K-27B",
        "math500",
        keep=lambda i: i % 3 == 0,
    ),
    _sky_t1(
        "sky-t1-c5k-32b-short-math500",
        "icml_models/Sky-T1-math-correct-5K-32B-short-ckpts",
        "math500",
        keep=lambda i: i % 3 == 1,
    ),
    SourceFile(
        key="lighteval-qwen3-32b-aime24",
        repo=LIGHTEVAL_FORK,
        commit=LIGHTEVAL_FORK_COMMIT,
        path="data/evals/Qwen/Qwen3-32B/details/Qwen/Qwen3-32B/2025-07-11T09-28-07.098405/"
        "details_lighteval|aime24|0_2025-07-11T09-28-07.098405.parquet",
        licence="MIT (repository LICENSE, a lighteval fork)",
        model="Qwen3-32B (thinking mode)",
        benchmark="aime24",
        reader="lighteval_details",
        note="lighteval details; metric math_pass@1:1_samples is the source label",
    ),
    SourceFile(
        key="gsm8k-gpt3",
        repo=GSM,
        commit=GSM_COMMIT,
        path="grade_school_math/data/example_model_solutions.jsonl",
        licence="MIT",
        model="GPT-3 175B (verifier-selected) and GPT-3 6B (fine-tuned), from the GSM8K paper",
        benchmark="gsm8k",
        reader="gsm8k_examples",
        keep=lambda i: i < 60,
        samples=2,
        note="GSM8K test problems 0-59; is_correct from the paper's release",
    ),
]

REPOS = sorted({s.repo for s in SOURCES})
