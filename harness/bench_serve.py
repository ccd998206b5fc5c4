"""Throughput of the same requests through `vllm serve` (openai backend) and through the in-process
vllm backend, on one model (default: the tiny CPU model).

    python -m harness.bench_serve [--k 8] [--max-tokens 256] [--limit N] [--concurrency C] [--json FILE]
    make bench-serve ARGS="--k 16"

Both sides get identical requests (same prompts, seeds, sampling); each engine is started, warmed
up with one request, then timed on the whole set, then shut down before the other one starts, so
the two never share the machine. Start-up time is reported separately. Prints one table and,
with --json, writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("harness.bench_serve")


def build_requests(overrides: list[str]):
    from harness.backends import derive_seed
    from harness.compose import compose
    from harness.config import validate
    from harness.runner import prompt_config
    from harness.tasks import build_task
    from harness.types import Request

    cfg = compose(overrides)
    params = validate(cfg)
    task = build_task(cfg["task"], prompt_config(cfg))
    problems = task.load()
    reqs = [Request(problem_id=p.id, messages=task.prompt(p), samples=tuple(range(params.k)), params=params,
                    seed=derive_seed(params.seed, p.id, 0)) for p in problems]
    return cfg, reqs


def timed(backend, requests) -> dict[str, Any]:
    t0 = time.perf_counter()
    backend.start()
    started = time.perf_counter() - t0
    list(backend.generate(requests[:1]))  # warm-up
    t0 = time.perf_counter()
    out = list(backend.generate(requests))
    seconds = time.perf_counter() - t0
    tokens = sum(c.output_tokens or 0 for c in out)
    return {"start_seconds": round(started, 1), "seconds": round(seconds, 2), "samples": len(out),
            "output_tokens": tokens, "errors": sum(c.finish_reason == "error" for c in out),
            "tokens_per_second": round(tokens / seconds, 1) if seconds > 0 else None,
            "texts": {(c.problem_id, c.sample): c.text for c in out}}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="harness.bench_serve", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="tiny-llama")
    ap.add_argument("--task", default="math500_sample")
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--limit", type=int, default=0, help="first N problems (0 = all)")
    ap.add_argument("--concurrency", type=int, default=0, help="calls in flight to the server (0 = all requests)")
    ap.add_argument("--port", type=int, default=0, help="server port (0 = a free one)")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    from harness.runner import env_defaults

    env_defaults()
    overrides = [f"model={args.model}", f"task={args.task}", f"sampling.k={args.k}",
                 f"sampling.max_tokens={args.max_tokens}"]
    if args.limit:
        overrides.append(f"task.limit={args.limit}")
    cfg, requests = build_requests(overrides + ["backend=vllm"])
    n_samples = sum(r.n for r in requests)
    log.info("%d requests, %d samples, up to %d tokens each", len(requests), n_samples, args.max_tokens)

    from harness.backends.openai import OpenAIBackend
    from harness.backends.vllm import VLLMBackend

    local = VLLMBackend(cfg["backend"], cfg["model"])
    try:
        in_process = timed(local, requests)
    finally:
        local.close()

    import socket

    from harness.serve import ROOT, serve_env, stop, wait_ready

    port = args.port
    if not port:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}/v1"
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "harness", "serve", f"model={args.model}", "--port", str(port)],
                            cwd=ROOT, env=serve_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(base_url, proc, timeout=900)
        server_start = time.perf_counter() - t0
        backend_cfg = {"name": "openai", "base_url": base_url,
                       "concurrency": args.concurrency or len(requests), "timeout": 900}
        served = timed(OpenAIBackend(backend_cfg, cfg["model"]), requests)
        served["start_seconds"] = round(server_start, 1)
    finally:
        stop(proc)

    same = sum(served["texts"].get(k) == v for k, v in in_process["texts"].items())
    for r in (in_process, served):
        r.pop("texts")
    ratio = (served["tokens_per_second"] / in_process["tokens_per_second"]
             if served["tokens_per_second"] and in_process["tokens_per_second"] else None)
    result = {"model": args.model, "requests": len(requests), "samples": n_samples, "max_tokens": args.max_tokens,
              "in_process": in_process, "server": served,
              "server_over_in_process": round(ratio, 3) if ratio else None,
              "identical_texts": same}
    print(f"\n{'':12} {'start s':>8} {'gen s':>8} {'samples':>8} {'tokens':>8} {'tok/s':>8}")
    for name, r in (("in-process", in_process), ("vllm serve", served)):
        print(f"{name:12} {r['start_seconds']:>8} {r['seconds']:>8} {r['samples']:>8} {r['output_tokens']:>8} "
              f"{r['tokens_per_second']:>8}")
    print(f"throughput ratio (server / in-process): {result['server_over_in_process']}; "
          f"identical texts: {same} of {n_samples}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
