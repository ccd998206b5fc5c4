"""A run's samples as a dataset: one row per sample, for pandas, DuckDB or `datasets`.

    python -m harness export RUN_DIR [--format parquet|jsonl] [--out PATH]

Each row: run_id, problem_id, sample, problem (text), gold, completion, reasoning (a separate
reasoning channel, when the server returned one), extracted, correct, reason, rule and by_grader
(when the scorer recorded them), output_tokens, prompt_tokens, finish_reason. Rows are ordered by
problem id and sample. Problem texts and gold answers come from the task's dataset as the run's
config names it; without it they are empty. Parquet is written in row groups and JSONL line by
line, so a run of any size is exported in bounded memory:

    datasets.load_dataset("parquet", data_files="export.parquet", split="train")
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from harness.store import RunStore, read_jsonl
from harness.viewer import load_problems, sample_offsets

log = logging.getLogger("harness.export")

FORMATS = ("parquet", "jsonl")
ROW_GROUP = 2048  # rows per parquet row group: a few tens of MB of completions at most

COLUMNS = ("run_id", "problem_id", "sample", "problem", "gold", "completion", "reasoning", "extracted", "correct",
           "reason", "rule", "by_grader", "output_tokens", "prompt_tokens", "finish_reason")


def _schema():
    import pyarrow as pa

    s, i = pa.string(), pa.int64()
    return pa.schema([("run_id", s), ("problem_id", s), ("sample", i), ("problem", s), ("gold", s),
                      ("completion", s), ("reasoning", s), ("extracted", s), ("correct", pa.bool_()),
                      ("reason", s), ("rule", s), ("by_grader", s), ("output_tokens", i), ("prompt_tokens", i),
                      ("finish_reason", s)])


def rows(run_dir: Path) -> Iterator[dict[str, Any]]:
    """One dict per scored sample (by problem id, then sample), completion text read from
    samples.jsonl by offset."""
    run_dir = Path(run_dir)
    store = RunStore(run_dir)
    if not store.scores_path.is_file():
        raise FileNotFoundError(f"{store.scores_path}: no scores: is {run_dir} a finished run directory?")
    run_id = str(store.read_manifest().get("run_id") or run_dir.name)
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _, rec in read_jsonl(store.scores_path):
        by_id[str(rec["id"])].append(rec)
    problems = load_problems(run_dir)
    offsets = sample_offsets(store.samples_path)
    with open(store.samples_path, "rb") as f:
        for pid in sorted(by_id):
            info = problems.get(pid) or {}
            for rec in sorted(by_id[pid], key=lambda r: int(r["sample"])):
                text = reasoning = None
                where = offsets.get((pid, int(rec["sample"])))
                if where is not None:
                    f.seek(where[0])
                    sample = json.loads(f.read(where[1]))
                    text, reasoning = sample.get("text"), sample.get("reasoning")
                bg = rec.get("by_grader")
                yield {"run_id": run_id, "problem_id": pid, "sample": int(rec["sample"]), "problem": info.get("text"),
                       "gold": info.get("gold"), "completion": text, "reasoning": reasoning,
                       "extracted": rec.get("extracted"), "correct": bool(rec.get("correct")),
                       "reason": None if rec.get("reason") is None else str(rec["reason"]),
                       "rule": rec.get("rule"),
                       "by_grader": None if bg is None else json.dumps(bg, sort_keys=True),
                       "output_tokens": rec.get("output_tokens"), "prompt_tokens": rec.get("prompt_tokens"),
                       "finish_reason": rec.get("finish_reason")}


def export(run_dir: Path, fmt: str = "parquet", out: Path | None = None) -> tuple[Path, int]:
    """Write the rows; returns (path, number of rows)."""
    if fmt not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    run_dir = Path(run_dir)
    out = Path(out) if out is not None else run_dir / f"export.{fmt}"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    n = 0
    if fmt == "jsonl":
        with open(tmp, "w", encoding="utf-8") as f:
            for row in rows(run_dir):
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = _schema()
        with pq.ParquetWriter(tmp, schema, compression="zstd") as w:
            batch: list[dict[str, Any]] = []
            for row in rows(run_dir):
                batch.append(row)
                if len(batch) >= ROW_GROUP:
                    w.write_table(pa.Table.from_pylist(batch, schema=schema))
                    n += len(batch)
                    batch = []
            if batch or n == 0:
                w.write_table(pa.Table.from_pylist(batch, schema=schema))
                n += len(batch)
    tmp.replace(out)
    return out, n


def main(argv: Iterable[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="harness export", description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", type=Path, help="a run directory (results/runs/<run-id>)")
    ap.add_argument("--format", choices=FORMATS, default="parquet")
    ap.add_argument("--out", type=Path, default=None, help="default: RUN_DIR/export.<format>")
    args = ap.parse_args(None if argv is None else list(argv))
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if not (args.run_dir / "scores.jsonl").is_file():
        log.error("%s: no scores.jsonl: give a finished run directory (results/runs/<run-id>)", args.run_dir)
        sys.exit(2)
    path, n = export(args.run_dir, args.format, args.out)
    print(f"exported {n} samples to {path}")


if __name__ == "__main__":
    main()
