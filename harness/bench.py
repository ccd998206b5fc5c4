"""Benchmarks (not tests): `make bench` / `python -m harness.bench`.

scale: replay and score a full R1-protocol MATH-500-sized file (500 problems x 64 completions of
realistic length, think blocks included) through the real entry point, and report wall time,
peak memory of the main process and of the largest worker, and throughput.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = ("so we need to compute the value let me check again wait that is not right hmm the sum "
         "of the roots is by vieta formula therefore substituting gives us").split()


def make_dataset(path: Path, problems: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    with open(path, "w") as f:
        for i in range(problems):
            a, b = rng.randint(1, 999), rng.randint(1, 999)
            row = {"problem": f"Compute ${a} \\times {b}$.", "solution": "", "answer": str(a * b),
                   "subject": rng.choice(["Algebra", "Geometry", "Number Theory", "Prealgebra"]),
                   "level": rng.randint(1, 5), "unique_id": f"bench/{i}.json"}
            rows.append(row)
            f.write(json.dumps(row) + "\n")
    return rows


def make_completions(path: Path, rows: list[dict], k: int, mean_tokens: int, seed: int) -> int:
    """k completions per problem; lengths log-normal around mean_tokens (~4 chars per token),
    capped at 32,768 tokens (capped ones are truncated, as in real runs). Returns bytes written."""
    rng = random.Random(seed)
    written = 0
    with open(path, "w") as f:
        for row in rows:
            p_correct = rng.random()
            for s in range(k):
                tokens = min(int(rng.lognormvariate(0, 0.8) * mean_tokens * 0.73), 32768)
                body = " ".join(rng.choice(WORDS) for _ in range(tokens))
                if tokens >= 32768:
                    text, fin = "<think>\n" + body, "length"
                else:
                    ans = row["answer"] if rng.random() < p_correct else str(int(row["answer"]) + 1)
                    text = f"<think>\n{body}\n</think>\nThe product is $\\boxed{{{ans}}}$."
                    fin = "stop"
                line = json.dumps({"id": row["unique_id"], "sample": s, "completion": text,
                                   "finish_reason": fin, "output_tokens": tokens}) + "\n"
                f.write(line)
                written += len(line)
    return written


def bench_scale(args: argparse.Namespace) -> dict:
    work = Path(args.workdir or tempfile.mkdtemp(prefix="harness-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    data, outs = work / "math500_bench.jsonl", work / "outs.jsonl"
    rows = make_dataset(data, args.problems, args.seed)
    t0 = time.time()
    size = make_completions(outs, rows, args.k, args.mean_tokens, args.seed)
    print(f"wrote {args.problems * args.k:,} completions, {size / 2**30:.2f} GiB in {time.time() - t0:.0f}s")
    cmd = [sys.executable, "-m", "harness", "model=r1-distill-qwen-1.5b", "task=math500",
           f"task.data_files={data}", "backend=replay", f"backend.path={outs}",
           f"results_dir={work / 'results'}", "progress=false", f"scoring.workers={args.workers}"]
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.time() - t0
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:])
        raise SystemExit(proc.returncode)
    peak_child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    run = sorted((work / "results" / "runs").iterdir())[-1]
    m = json.loads((run / "metrics.json").read_text())
    inv = json.loads((run / "manifest.json").read_text())["invocations"][-1]
    out = {
        "completions": args.problems * args.k, "file_gib": round(size / 2**30, 2),
        "wall_seconds": round(wall, 1), "replay_seconds": inv.get("generation_seconds"),
        "scoring_seconds": inv.get("scoring_seconds"),
        "peak_rss_mb_largest_process": round(peak_child_mb), "pass@1": m["pass@1"],
        "scored_per_second": round(args.problems * args.k / inv["scoring_seconds"], 1),
        "workers": args.workers or "one per core",
    }
    print(json.dumps(out, indent=2))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problems", type=int, default=500)
    ap.add_argument("--k", type=int, default=64)
    ap.add_argument("--mean-tokens", type=int, default=4000, help="mean completion length in tokens")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default=None)
    bench_scale(ap.parse_args())


if __name__ == "__main__":
    main()
