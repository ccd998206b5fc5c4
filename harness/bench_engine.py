"""Engine overhead: the same requests through the harness's vllm backend and through a plain
`vllm.LLM.generate` call, and (optionally) through N data-parallel engines.

    python -m harness.bench_engine [--k 8] [--max-tokens 128] [--limit N] [--pairs 2] [--dp 2] [--json FILE]
    make bench-engine ARGS="--pairs 3"

Each measurement runs in a fresh process, one after the other, so that no two engines share the
machine: the engine is started and warmed up with one request (not timed), then the whole set of
requests is timed. The harness side is what `python -m harness` does while generating (prompts
rendered with the chat template, streaming through the engine's step loop, every completion
written to a samples file); the plain side is one `LLM.generate` call on pre-tokenised prompts
with the same engine arguments and sampling parameters (same per-request seeds). Pairs alternate
their order (harness first, then plain first, ...). Prints each measurement, whether both sides
produced identical texts, and the throughput ratio harness / plain (median over pairs).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("harness.bench_engine")


def _tree_cpu() -> float:
    """CPU seconds used so far by this process and all its descendants (the engine processes):
    on a shared machine this is steadier than wall time."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            continue
    return total


def _overrides(args: argparse.Namespace) -> list[str]:
    o = [f"model={args.model}", f"task={args.task}", f"sampling.k={args.k}",
         f"sampling.max_tokens={args.max_tokens}", "backend=vllm"]
    if args.limit:
        o.append(f"task.limit={args.limit}")
    return o


def _measure(side: str, overrides: list[str], dp: int) -> dict[str, Any]:
    """One side, in this process."""
    from harness.bench_serve import build_requests

    cfg, requests = build_requests(overrides)
    if side == "plain":
        return _plain(cfg, requests)
    from harness.backends.vllm import VLLMBackend
    from harness.store import SampleWriter

    backend = VLLMBackend({**cfg["backend"], "data_parallel_size": dp}, cfg["model"])
    t0 = time.perf_counter()
    backend.start()
    start = time.perf_counter() - t0
    try:
        list(backend.generate(requests[:1]))  # warm-up
        with tempfile.TemporaryDirectory() as d:
            cpu0 = _tree_cpu()
            t0 = time.perf_counter()
            texts, tokens = {}, 0
            with SampleWriter(Path(d) / "samples.jsonl") as w:
                for c in backend.generate(requests):
                    w.write(c)
                    texts[f"{c.problem_id}#{c.sample}"] = c.text
                    tokens += c.output_tokens or 0
            seconds = time.perf_counter() - t0
            cpu = _tree_cpu() - cpu0
    finally:
        backend.close()
    return {"start_seconds": round(start, 1), "seconds": round(seconds, 3), "samples": len(texts),
            "output_tokens": tokens, "tokens_per_second": round(tokens / seconds, 1),
            "cpu_seconds": round(cpu, 2), "tokens_per_cpu_second": round(tokens / cpu, 1) if cpu > 0 else None,
            "texts": texts}


def _plain(cfg: dict[str, Any], requests) -> dict[str, Any]:
    import vllm

    from harness.backends.vllm import VLLMBackend
    from harness.modelpath import render_chat

    engine_args = VLLMBackend(cfg["backend"], cfg["model"]).engine_args()
    t0 = time.perf_counter()
    llm = vllm.LLM(**engine_args)
    start = time.perf_counter() - t0
    tok = llm.get_tokenizer()
    prompts = [{"prompt_token_ids": render_chat(tok, r.messages, cfg["model"])} for r in requests]

    def params(r):
        p = r.params
        extra = {"top_k": p.top_k} if p.top_k and p.top_k > 0 else {}
        return vllm.SamplingParams(n=r.n, temperature=p.temperature, top_p=p.top_p, max_tokens=p.max_tokens,
                                   seed=r.seed, **extra)

    sp = [params(r) for r in requests]
    llm.generate(prompts[:1], sp[:1], use_tqdm=False)  # warm-up
    cpu0 = _tree_cpu()
    t0 = time.perf_counter()
    outs = llm.generate(prompts, sp, use_tqdm=False)
    seconds = time.perf_counter() - t0
    cpu = _tree_cpu() - cpu0
    texts, tokens = {}, 0
    for r, out in zip(requests, outs, strict=True):
        for j, o in enumerate(sorted(out.outputs, key=lambda o: o.index)):
            texts[f"{r.problem_id}#{r.samples[j]}"] = o.text
            tokens += len(o.token_ids)
    try:
        llm.llm_engine.engine_core.shutdown()
    except Exception:  # best effort: the process ends right after
        pass
    return {"start_seconds": round(start, 1), "seconds": round(seconds, 3), "samples": len(texts),
            "output_tokens": tokens, "tokens_per_second": round(tokens / seconds, 1),
            "cpu_seconds": round(cpu, 2), "tokens_per_cpu_second": round(tokens / cpu, 1) if cpu > 0 else None,
            "texts": texts}


def _run_side(side: str, args: argparse.Namespace, dp: int = 1) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = Path(f.name)
    cmd = [sys.executable, "-m", "harness.bench_engine", "--side", side, "--dp", str(dp), "--out", str(out),
           "--model", args.model, "--task", args.task, "--k", str(args.k), "--max-tokens", str(args.max_tokens),
           "--limit", str(args.limit)]
    label = side if dp == 1 else f"{side} x{dp}"
    log.info("measuring %s ...", label)
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench-engine: the {label} measurement failed:\n{proc.stderr[-3000:]}")
    r = json.loads(out.read_text())
    out.unlink()
    log.info("%s: %.1f tok/s (%d tokens in %.2fs; engine start %.0fs)", label, r["tokens_per_second"],
             r["output_tokens"], r["seconds"], r["start_seconds"])
    return r


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="harness.bench_engine", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="tiny-llama")
    ap.add_argument("--task", default="math500_sample")
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--limit", type=int, default=0, help="first N problems (0 = all)")
    ap.add_argument("--pairs", type=int, default=2, help="harness/plain pairs, alternating order")
    ap.add_argument("--dp", type=int, default=1, help="also measure the harness with this many data-parallel engines")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    ap.add_argument("--side", choices=("harness", "plain"), help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if not args.side else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    from harness.runner import env_defaults

    env_defaults()
    if args.side:  # a child process: one measurement
        args.out.write_text(json.dumps(_measure(args.side, _overrides(args), args.dp)))
        return

    pairs = []
    for i in range(args.pairs):
        order = ("harness", "plain") if i % 2 == 0 else ("plain", "harness")
        got = {side: _run_side(side, args) for side in order}
        pairs.append(got)
    dp = _run_side("harness", args, dp=args.dp) if args.dp > 1 else None

    ratios = [p["harness"]["tokens_per_second"] / p["plain"]["tokens_per_second"] for p in pairs]
    cpu_ratios = [p["harness"]["tokens_per_cpu_second"] / p["plain"]["tokens_per_cpu_second"] for p in pairs
                  if p["harness"].get("tokens_per_cpu_second") and p["plain"].get("tokens_per_cpu_second")]
    identical = all(p["harness"]["texts"] == p["plain"]["texts"] for p in pairs)
    if dp is not None:
        identical_dp = dp["texts"] == pairs[0]["harness"]["texts"]
    print(f"\n{'':14} {'start s':>8} {'gen s':>8} {'samples':>8} {'tokens':>8} {'tok/s':>8} {'tok/CPU-s':>10}")
    rows = [(f"{side} #{i + 1}", p[side]) for i, p in enumerate(pairs) for side in ("harness", "plain")]
    if dp is not None:
        rows.append((f"harness x{args.dp}", dp))
    for name, r in rows:
        print(f"{name:14} {r['start_seconds']:>8} {r['seconds']:>8} {r['samples']:>8} {r['output_tokens']:>8} "
              f"{r['tokens_per_second']:>8} {r.get('tokens_per_cpu_second') or '-':>10}")
    ratio = statistics.median(ratios)
    print(f"identical texts harness vs plain: {'yes' if identical else 'NO'}")
    if dp is not None:
        single = statistics.median(p["harness"]["tokens_per_second"] for p in pairs)
        print(f"data parallel x{args.dp}: {dp['tokens_per_second']} tok/s vs {single} with one engine "
              f"({dp['tokens_per_second'] / single:.2f}x); identical texts: {'yes' if identical_dp else 'NO'}")
    print(f"throughput ratio harness / plain vLLM: {ratio:.3f} (pairs: {', '.join(f'{r:.3f}' for r in ratios)}; "
          f"goal >= 0.97)")
    if cpu_ratios:
        print(f"the same per CPU second (engine processes included; steadier on a shared machine): "
              f"{statistics.median(cpu_ratios):.3f} (pairs: {', '.join(f'{r:.3f}' for r in cpu_ratios)})")
    if args.json:
        result = {"model": args.model, "task": args.task, "k": args.k, "max_tokens": args.max_tokens,
                  "ratio": round(ratio, 4), "ratios": [round(r, 4) for r in ratios], "identical_texts": identical,
                  "cpu_ratio": round(statistics.median(cpu_ratios), 4) if cpu_ratios else None,
                  "pairs": [{s: {k: v for k, v in r.items() if k != "texts"} for s, r in p.items()} for p in pairs]}
        if dp is not None:
            result["data_parallel"] = {"size": args.dp, **{k: v for k, v in dp.items() if k != "texts"},
                                       "identical_texts": identical_dp}
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
