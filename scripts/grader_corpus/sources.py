"""The pinned public sources of the grader corpus: repository, commit, file, licence, and how one
file's rows become corpus items.

Each source reads its file with ``git show COMMIT:PATH`` from a local copy of the repository
(a clone or a bare mirror), so a rebuild never downloads anything and always sees the pinned bytes.
README.md in this folder says how to obtain each copy.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import tarfile
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
    max_tokens: int | None = None  # the generation limit, where the source records token counts
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
# Each is called as reader(data, sf, refs) and yields dicts: problem_id, problem, gold, completion,
# source_label, sample, extra (dict), and optionally finish_reason ("stop"/"length", recorded by the
# source or inferred from its token counts; absent = unknown). ``refs`` reads the reference datasets
# (below) that golds are joined from.


def read_qwen_toolkit(data: bytes, sf: SourceFile, refs: References) -> Iterator[dict]:
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


def read_gsm8k_examples(data: bytes, sf: SourceFile, refs: References) -> Iterator[dict]:
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


def read_lighteval_details(data: bytes, sf: SourceFile, refs: References) -> Iterator[dict]:
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


# ------------------------------------------------------------------ reference datasets
# Golds are the dataset's own answers: readers join each row to one of these files (by id, row
# index or problem text) and check that the problem texts agree, so a mismatched join fails loudly.


@dataclass(frozen=True)
class Reference:
    repo: str
    commit: str
    path: str
    id_field: str  # the field rows are keyed by
    problem_field: str
    answer_field: str
    licence: str
    problem_suffix: str = ""  # instruction appended to every problem in the file, removed for joins


def _norm_text(s: str) -> str:
    return re.sub(r"\s+", " ", str(s)).strip()


class References:
    """The reference datasets, read from the same local copies as the sources."""

    def __init__(self, blob: Callable[[str, str, str], bytes]):
        self._blob = blob
        self._rows: dict[str, list[dict]] = {}

    def blob(self, repo: str, commit: str, path: str) -> bytes:
        return self._blob(repo, commit, path)

    def rows(self, name: str) -> list[dict]:
        if name not in self._rows:
            ref = REFERENCES[name]
            text = self._blob(ref.repo, ref.commit, ref.path).decode()
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
            for r in rows:
                r[ref.problem_field] = str(r[ref.problem_field]).removesuffix(ref.problem_suffix)
            self._rows[name] = rows
        return self._rows[name]

    def join(self, name: str, *, key=None, index: int | None = None, problem: str | None = None) -> dict:
        """The reference row for ``key`` (its id field), ``index`` (row number) or, when neither is
        given, ``problem`` (exact text up to whitespace); whichever is used, a given problem text
        must match the row's (a leading/trailing whitespace difference is allowed)."""
        ref, rows = REFERENCES[name], self.rows(name)
        if key is not None:
            hits = [r for r in rows if str(r[ref.id_field]) == str(key)]
        elif index is not None:
            hits = [rows[index]] if 0 <= index < len(rows) else []
        else:
            want = _norm_text(problem)
            hits = [r for r in rows if _norm_text(r[ref.problem_field]) == want]
        if len(hits) != 1:
            raise SystemExit(
                f"{ref.path}: no unique row for key={key} index={index} problem={str(problem)[:60]!r}"
            )
        row = hits[0]
        if problem is not None and _norm_text(row[ref.problem_field]) != _norm_text(problem):
            raise SystemExit(f"{ref.path}: problem text of {key or index} differs from the source's")
        return {
            "id": str(row[ref.id_field]),
            "problem": row[ref.problem_field],
            "gold": str(row[ref.answer_field]),
        }


# ------------------------------------------------------------------ readers of R1-format sources


def _json(data: bytes):
    return json.loads(data.decode())


def _by_tokens(tokens, sf: SourceFile) -> str | None:
    """ "length" when the recorded completion token count reached the generation limit, else "stop"."""
    if tokens is None or sf.max_tokens is None:
        return None
    return "length" if int(tokens) >= sf.max_tokens else "stop"


_MIP_R1_FILE = "response/math/normal/deepseekR1/response.json"


def read_mip(data: bytes, sf: SourceFile, refs: References) -> Iterator[dict]:
    """MiP-Overthinking response.json (a JSON list, 52 MATH-500 problems). The DeepSeek-R1 file has
    ``unique_id``, ``question`` and the completion under ``deepseek-reasoner (question)``; the other
    models' files only ``model_answer``, ``answer`` and ``eval_result``, in the same row order as the
    R1 file (checked here by the answer). ``eval_result`` is an LLM judge: 1 correct, 2 incorrect,
    0 "the question is insufficient" (no label)."""
    rows = _json(data)
    index = rows if "unique_id" in rows[0] else _json(refs.blob(sf.repo, sf.commit, _MIP_R1_FILE))
    for i, row in enumerate(rows):
        if not sf.keep(i):
            continue
        meta = index[i]
        if str(meta["answer"]) != str(row["answer"]):
            raise SystemExit(f"{sf.path}: row {i} is not aligned with {_MIP_R1_FILE}")
        ref = refs.join("math500", key=meta["unique_id"], problem=meta["question"])
        completion = row.get("model_answer") or row.get("deepseek-reasoner (question)")
        judged = str(row.get("eval_result"))
        yield {
            "problem_id": ref["id"],
            "problem": ref["problem"],
            "gold": ref["gold"],
            "completion": completion,
            "source_label": {"1": True, "2": False}.get(judged),
            "sample": 0,
            "extra": {"eval_result": judged, "level": meta.get("level")},
        }


def read_sglang_tarball(data: bytes, sf: SourceFile, refs: References) -> Iterator[dict]:
    """Dongximing/semantic: a tar.gz of ``..._math-500_{idx}/generation.json`` files, each a list
    with one dict: ``input_text`` (problem), ``real_answer`` (completion), ``tokens_full_answer``
    (completion tokens as sglang counted them), ``answer``. ``idx`` is the MATH-500 row index."""
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        members = sorted(
            (m for m in tf.getmembers() if m.name.endswith("/generation.json")),
            key=lambda m: int(m.name.split("/")[-2].rsplit("_", 1)[1]),
        )
        for m in members:
            idx = int(m.name.split("/")[-2].rsplit("_", 1)[1])
            if not sf.keep(idx):
                continue
            d = json.load(tf.extractfile(m))[0]
            ref = refs.join("math500", index=idx, problem=d["input_text"])
            yield {
                "problem_id": ref["id"],
                "problem": ref["problem"],
                "gold": ref["gold"],
                "completion": d["real_answer"],
                "source_label": None,
                "sample": 0,
                "finish_reason": _by_tokens(d.get("tokens_full_answer"), sf),
                "extra": {"completion_tokens": d.get("tokens_full_answer"), "source_gold": d.get("answer")},
            }


def read_hybrid_benchmark(data: bytes, sf: SourceFile, refs: References) -> Iterator[dict]:
    """thinking-llms-interp benchmark_results_*.json: ``tasks`` with ``question``,
    ``correct_answer`` and ``model_answers.thinking_model`` (the R1-distilled model's completion;
    the base and hybrid models' answers are not used). No ids: joined to MATH-500 by problem text."""
    for i, task in enumerate(_json(data)["tasks"]):
        if not sf.keep(i):
            continue
        ref = refs.join("math500", problem=task["question"])
        yield {
            "problem_id": ref["id"],
            "problem": ref["problem"],
            "gold": ref["gold"],
            "completion": task["model_answers"]["thinking_model"],
            "source_label": None,
            "sample": 0,
            "extra": {"source_gold": task.get("correct_answer")},
        }


def read_trace_topology(data: bytes, sf: SourceFile, refs: References) -> Iterator[dict]:
    """LLM-Reasoning-Trace-Topology traces (JSONL): ``item_id`` (``math500_NNNN``, the MATH-500
    row index), ``problem``, ``ground_truth``, ``full_response``, ``total_generated_tokens``,
    ``is_correct`` (the repository's own grader), ``extracted_answer``."""
    for i, line in enumerate(data.decode().splitlines()):
        if not line.strip() or not sf.keep(i):
            continue
        row = json.loads(line)
        idx = int(row["item_id"].rsplit("_", 1)[1])
        ref = refs.join("math500", index=idx, problem=row["problem"])
        yield {
            "problem_id": ref["id"],
            "problem": ref["problem"],
            "gold": ref["gold"],
            "completion": row["full_response"],
            "source_label": bool(row["is_correct"]) if row.get("is_correct") is not None else None,
            "sample": 0,
            "finish_reason": _by_tokens(row.get("total_generated_tokens"), sf),
            "extra": {
                "source_pred": row.get("extracted_answer"),
                "tokens": row.get("total_generated_tokens"),
            },
        }


def _thip_keep(row: dict) -> bool:
    """The THIP rows used: every completion in R1 format and every one cut at the length limit. Rows
    that stopped without ever closing the think block are left out (the RL fine-tune often answers
    inside it, and whether that is an answer is a question of format, not of grading)."""
    return "</think>" in row["response"][0] or row["finish_reason"][0] == "length"


def read_thip(data: bytes, sf: SourceFile, refs: References) -> Iterator[dict]:
    """THIP eval_results/*/generation.jsonl: ``problem``, ``id`` (MATH ``unique_id``, or the AIME
    problem number), ``expected_answer`` or ``answer``, ``response`` (list, n=1), ``finish_reason``
    (vLLM's, list), ``response_length`` (tokens), ``correct`` (the repository's grader, list)."""
    reference = {"math500": "math500", "aime24": "aime24", "aime25": "aime25"}[sf.benchmark]
    for i, line in enumerate(data.decode().splitlines()):
        if not line.strip() or not sf.keep(i):
            continue
        row = json.loads(line)
        if not _thip_keep(row):
            continue
        if reference == "aime25":
            # ids are the row numbers of the AIME 2025 file; six problem texts are worded differently
            # in the two copies, so the join is checked on the answer instead
            ref = refs.join(reference, index=int(row["id"]))
            if ref["gold"] != str(row["answer"]):
                raise SystemExit(
                    f"{sf.path}: AIME 2025 problem {row['id']} has another answer in the reference"
                )
            ref.update(id=str(row["id"]), problem=row["problem"])
        else:
            ref = refs.join(reference, key=row["id"], problem=row["problem"])
        yield {
            "problem_id": ref["id"],
            "problem": ref["problem"],
            "gold": ref["gold"],
            "completion": row["response"][0],
            "source_label": bool(row["correct"][0]),
            "sample": 0,
            "finish_reason": row["finish_reason"][0],
            "extra": {"tokens": row["response_length"][0]},
        }


def read_aime_preview(data: bytes, sf: SourceFile, refs: References) -> Iterator[dict]:
    """AIME-Preview evaluation output (JSONL): ``id`` (AIME 2024 problem number 60-89),
    ``question``, ``gold_answer``, ``generated_responses`` (list, one sample), ``is_correct``."""
    for i, line in enumerate(data.decode().splitlines()):
        if not line.strip() or not sf.keep(i):
            continue
        row = json.loads(line)
        ref = refs.join("aime24", key=row["id"], problem=row["question"])
        yield {
            "problem_id": ref["id"],
            "problem": ref["problem"],
            "gold": ref["gold"],
            "completion": row["generated_responses"][0],
            "source_label": bool(row["is_correct"]),
            "sample": 0,
            "extra": {"source_pred": (row.get("generated_answers") or [None])[0]},
        }


READERS = {
    "qwen_toolkit": read_qwen_toolkit,
    "gsm8k_examples": read_gsm8k_examples,
    "lighteval_details": read_lighteval_details,
    "mip": read_mip,
    "sglang_tarball": read_sglang_tarball,
    "hybrid_benchmark": read_hybrid_benchmark,
    "trace_topology": read_trace_topology,
    "thip": read_thip,
    "aime_preview": read_aime_preview,
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


def _topology_pilot(key: str, file_tag: str, model: str) -> SourceFile:
    """The trace-topology pilot runs of R1 distills (transformers, think block opened by the prompt)."""
    return SourceFile(
        key=f"topology-{key}-math500",
        repo=TOPOLOGY,
        commit=TOPOLOGY_COMMIT,
        path=f"data/traces/pilot_math500_{file_tag}.jsonl",
        licence="MIT",
        model=model,
        benchmark="math500",
        reader="trace_topology",
        think_prefilled=True,
        max_tokens=32768,
        note="MATH-500 rows 0-19, T=0.6, transformers; finish_reason inferred from total_generated_tokens "
        "against the 32768 limit",
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

REFERENCES = {
    "math500": Reference(
        SKYTHOUGHT,
        SKYTHOUGHT_COMMIT,
        "skythought/Qwen2.5-Math/evaluation/data/math500/test.jsonl",
        "unique_id",
        "problem",
        "answer",
        "Apache-2.0 (the MATH-500 split of MATH, MIT)",
    ),
    "aime24": Reference(
        QWEN25_MATH,
        QWEN25_MATH_COMMIT,
        "evaluation/data/aime24/test.jsonl",
        "id",
        "problem",
        "answer",
        "MIT (evaluation/LICENSE)",
    ),
    "aime25": Reference(
        "QwenLM/QwQ",
        "620a5eadc89ff464d339367dd9c9973a93215c81",
        "eval/data/aime25.jsonl",
        "prompt",
        "prompt",
        "answer",
        "Apache-2.0",
        problem_suffix="\nPlease reason step by step, and put your final answer within \\boxed{}.",
    ),
}

# ------------------------------------------------------------------ R1-format sources (</think>)

MIP = "MingLiiii/MiP-Overthinking"
MIP_COMMIT = "4090d3b15e7bb93cc5ed4d62250fdd0e8c51d5e2"
SEMANTIC = "Dongximing/semantic"
SEMANTIC_COMMIT = "c8dd39a02fd0ca63337b2f580478241e691200ce"
HYBRID = "thaotnguyen/thinking-llms-interp"
HYBRID_COMMIT = "1d93ce1bebe39adac61b5abbe62fdb8b1a64048d"
TOPOLOGY = "markyx316/LLM-Reasoning-Trace-Topology"
TOPOLOGY_COMMIT = "f841ba72f3948260a84db0d7fd37ca0722f301ad"
THIP = "Thrillcrazyer/THIP"
THIP_COMMIT = "168ed43782ea5b9320b96af6b2ac4314a86ef911"
TEGRA = "bkubwimana/tegra_monitor"
TEGRA_COMMIT = "b9d0fcb624b138983497772f3dc9a0d95c6f75f7"
NO_LICENCE = "none (no licence file at the pinned commit): measurement only, never copied into the repository"

_MIP_MODELS = {
    "deepseekR1": "DeepSeek-R1 (API deepseek-reasoner)",
    "QwQ": "QwQ-32B",
    "DSQ": 'unnamed by the repository ("DSQ"; by the MiP paper probably DeepSeek-R1-Distill-Qwen-32B)',
}


def _mip(folder: str) -> SourceFile:
    return SourceFile(
        key=f"mip-{folder.lower()}-math500",
        repo=MIP,
        commit=MIP_COMMIT,
        path=f"response/math/normal/{folder}/response.json",
        licence="MIT",
        model=_MIP_MODELS[folder],
        benchmark="math500",
        reader="mip",
        think_prefilled=True,
        note="52 MATH-500 problems, the unmodified ('normal') questions only; source label = the "
        "repository's LLM judge (eval_result 1/2; 0, 'insufficient question', is no label)",
    )


def _thip(run: str, folder: str, bench: str, keep=lambda i: True) -> SourceFile:
    return SourceFile(
        key=f"thip-{run.lower()}-{bench}",
        repo=THIP,
        commit=THIP_COMMIT,
        path=f"eval_results/{run}/{folder}/generation.jsonl",
        licence="Apache-2.0",
        model=f"THIP {run} checkpoint-240 (an RL fine-tune of DeepSeek-R1-Distill-Qwen-7B)",
        benchmark=bench,
        reader="thip",
        keep=keep,
        think_prefilled=True,
        note="vLLM, T=0.6, top_p=0.95, max_model_len 16384; finish_reason and correct are the source's; "
        "rows in R1 format or cut at the limit only",
    )


def _tegra(budget: int) -> SourceFile:
    return SourceFile(
        key=f"tegra-deepscaler-{budget}t-aime24",
        repo=TEGRA,
        commit=TEGRA_COMMIT,
        path=f"eval/sweep_results/sweep_tokens_{budget}/agentica-org/DeepScaleR-1.5B-Preview/aime/"
        f"{budget}t_test2024_qwen-instruct_t0.6_k1_s0_e30.jsonl",
        licence="none at the pinned commit (MIT only from 8e75358ef3a6, later): measurement only, never copied",
        model="agentica-org/DeepScaleR-1.5B-Preview",
        benchmark="aime24",
        reader="aime_preview",
        max_tokens=budget,
        note=f"AIME-Preview evaluation, T=0.6, max_tokens={budget} (a token-budget sweep; no per-row "
        "token count, so finished is inferred)",
    )


SOURCES += [
    _mip("deepseekR1"),
    _mip("QwQ"),
    _mip("DSQ"),
    SourceFile(
        key="semantic-qwq32b-math500",
        repo=SEMANTIC,
        commit=SEMANTIC_COMMIT,
        path="h100_QwQ-32B_math-500_seed123.tar.gz",
        licence=NO_LICENCE,
        model="QwQ-32B (sglang; prompted with the DeepSeek-R1-Distill chat template)",
        benchmark="math500",
        reader="sglang_tarball",
        think_prefilled=True,
        max_tokens=14000,
        note="MATH-500 rows 100-499, T=0.6, top_p=0.95, max_new_tokens=14000, seed 123; finish_reason "
        "inferred: length when the recorded completion token count reaches 14000, else stop",
    ),
    SourceFile(
        key="hybrid-r1qwen14b-math500",
        repo=HYBRID,
        commit=HYBRID_COMMIT,
        path="hybrid-2/results/benchmark_results_qwen2.5-14b_math500.json",
        licence=NO_LICENCE,
        model="DeepSeek-R1-Distill-Qwen-14B",
        benchmark="math500",
        reader="hybrid_benchmark",
        think_prefilled=True,
        note="400 MATH-500 problems; generation limit 2,000 new tokens (the script's default), so the "
        "completions without </think> were cut there; no token counts, finished is inferred",
    ),
    SourceFile(
        key="topology-r1-math500",
        repo=TOPOLOGY,
        commit=TOPOLOGY_COMMIT,
        path="data/traces/math500_deepseek_r1.jsonl",
        licence="MIT",
        model="DeepSeek-R1 (API deepseek-reasoner)",
        benchmark="math500",
        reader="trace_topology",
        note="MATH-500 rows 0-19, T=0.6; the completion was rebuilt by the repository as "
        "<think> + reasoning_content + </think> + answer (the API returns them separately)",
    ),
    _topology_pilot("r1llama8b", "llama8b", "DeepSeek-R1-Distill-Llama-8B"),
    _topology_pilot("r1qwen7b", "qwen7b", "DeepSeek-R1-Distill-Qwen-7B"),
    _thip("GSPOTAC", "MATH", "math500", keep=lambda i: i % 10 == 0),
    _thip("GRPONOTAC", "MATH", "math500", keep=lambda i: i % 4 == 0),
    _thip("RLOOTAC", "MATH", "math500", keep=lambda i: i % 4 == 1),
    *(
        _thip(run, folder, bench)
        for run in ("GSPOTAC", "GSPONOTAC", "RLOOTAC", "RLOONOTAC")
        for folder, bench in (("aime90", "aime24"), ("aime25", "aime25"))
    ),
    _tegra(8192),
    _tegra(4096),
]

REPOS = sorted({s.repo for s in SOURCES})
