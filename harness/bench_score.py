"""Grading speed: the default grader against plain math-verify over whole texts, side by side.

    python -m harness.bench_score [--samples 300] [--corpus FILE.jsonl] [--min-chars 5000]
                                  [--max-chars 30000] [--timeout 5] [--seed 0] [--all-profiles]

Grades the same long chain-of-thought completions (5-30k characters each) in one process, one
sample at a time, alternating the two graders so that both see the same machine load:

- ``default``: the project's default profile (extraction ladder, then math-verify on the extracted
  answer), as the scorer runs it;
- ``math-verify``: math-verify 0.9.0's ``parse`` over the whole completion and ``verify``, as
  lighteval does.

Prints samples per CPU-second for each (one core), their ratio, the slowest sample of each against
its timeout, and the peak memory (RSS) of the process. Completions come from a labelled corpus
(`--corpus`, lines with `completion` and `gold`), else are synthesised from realistic reasoning
text (seeded: the same set on every machine). `--all-profiles` also times strict + default +
lenient in one pass, which is what a run does.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

# -- synthetic long chain-of-thought -------------------------------------------------------------

_STEPS = [
    "Let me start by writing down what we know. We have $a + b = {x}$ and $ab = {y}$, so by Vieta's formulas "
    "$a$ and $b$ are the roots of $t^2 - {x}t + {y} = 0$.",
    "Wait, I should double-check that. If I expand $(t - a)(t - b)$ I get $t^2 - (a+b)t + ab$, which matches.",
    "Now consider the expression $\\frac{{a^2 + b^2}}{{a + b}}$. Since $a^2 + b^2 = (a+b)^2 - 2ab = {x}^2 - 2 \\cdot {y}$, "
    "this becomes $\\frac{{{x}^2 - {y2}}}{{{x}}}$.",
    "Hmm, maybe there is a cleaner approach. Let me think about the problem geometrically instead: the points "
    "$(1, {x})$, $({y}, 3)$ and $(0, 0)$ form a triangle whose area is $\\frac{{1}}{{2}}|1 \\cdot 3 - {x} \\cdot {y}|$.",
    "Alternatively, we can use modular arithmetic. Powers of ${x}$ modulo $10$ cycle with period $4$, so "
    "${x}^{{{y}}} \\equiv {x}^{{{y} \\bmod 4}} \\pmod{{10}}$.",
    "So far the candidates are ${x}$, ${y}$ and ${y2}$. Let me check each one against the original condition.",
    "Substituting $x = {x}$ into the equation: ${x}^2 - {y} \\cdot {x} + {y2} = {z}$, which is not zero, so that "
    "does not work.",
    "I recall that the number of divisors of $n = p_1^{{e_1}} \\cdots p_k^{{e_k}}$ is $(e_1 + 1) \\cdots (e_k + 1)$. "
    "Here $n = 2^{{{x}}} \\cdot 3^{{{y}}}$, so it has $({x} + 1)({y} + 1)$ divisors.",
    "Let me compute the sum more carefully: $\\sum_{{k=1}}^{{{x}}} k = \\frac{{{x}({x}+1)}}{{2}}$, and "
    "$\\sum_{{k=1}}^{{{x}}} k^2 = \\frac{{{x}({x}+1)(2 \\cdot {x}+1)}}{{6}}$.",
    "But wait, the problem asks for the smallest such value, not the largest. Let me re-read the question to be "
    "sure I am answering the right thing.",
    "We can write the matrix as $\\begin{{pmatrix}} {x} & {y} \\\\ {y2} & {z} \\end{{pmatrix}}$ and its determinant is "
    "${x} \\cdot {z} - {y} \\cdot {y2}$.",
    "Okay, so the inequality $|x - {x}| < {y}$ means $-{y} < x - {x} < {y}$, that is $x \\in ({x} - {y}, {x} + {y})$.",
]
_ENDINGS = [
    "</think>\n\nPutting it together, the answer is $\\boxed{{{gold}}}$.",
    "</think>\n\n**Final Answer**\n\\[\n\\boxed{{{gold}}}\n\\]",
    "</think>\n\nTherefore, the final answer is ${gold}$.",
    "</think>\n\nSo the value we are looking for is {gold}.",
    "\n\nThus, the answer is $\\boxed{{{gold}}}$.",
    "\n\nTherefore, the number of such integers is {gold}.",
]
_GOLDS = ["{x}", "\\frac{{{x}}}{{{y}}}", "{x}\\sqrt{{{y}}}", "({x}, {y})", "{x}\\pi", "{z}"]


def synthesise(n: int, min_chars: int, max_chars: int, seed: int) -> list[dict[str, Any]]:
    """n completions of realistic long reasoning, each with its gold answer: most finish with a
    boxed answer or an answer phrase, some are cut off mid-reasoning, some end in a loop."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        target = rng.randint(min_chars, max(min_chars, max_chars - 600))  # room for the ending
        nums = {"x": rng.randint(2, 99), "y": rng.randint(2, 99), "y2": rng.randint(2, 999), "z": rng.randint(2, 9999)}
        r1 = rng.random() < 0.5  # half in R1 format (reasoning in a think block), half plain
        parts = [("<think>\n" if r1 else "") + "Okay, let me work through this problem step by step.\n"]
        size = len(parts[0])
        while size < target:
            step = rng.choice(_STEPS).format(**{k: rng.randint(2, 99) for k in nums})
            parts.append(step + "\n\n")
            size += len(step) + 2
        text = "".join(parts)
        gold = rng.choice(_GOLDS).format(**nums)
        kind = rng.random()
        if kind < 0.80:
            endings = [e for e in _ENDINGS if e.startswith("</think>") == r1]
            text += rng.choice(endings).format(gold=gold)
            finish = "stop"
        elif kind < 0.92:
            finish = "length"  # cut off mid-reasoning
        else:
            unit = "Wait, let me recompute that: $" + str(nums["x"]) + " + " + str(nums["y"]) + "$. "
            text += unit * max(1, (target // 4) // len(unit))
            finish = "length"
        out.append({"completion": text[:max_chars], "gold": gold, "finish_reason": finish})
    return out


def from_corpus(path: Path, n: int, min_chars: int, max_chars: int) -> list[dict[str, Any]]:
    items = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            it = json.loads(line)
            if min_chars <= len(it.get("completion") or "") <= max_chars:
                items.append({"completion": it["completion"], "gold": str(it["gold"]),
                              "finish_reason": it.get("finish_reason"),
                              "think_prefilled": bool(it.get("think_prefilled"))})
    return items[:n]


# -- the two graders -----------------------------------------------------------------------------

def _plain_math_verify(mv, item: dict[str, Any], timeout: int) -> bool:
    try:
        gold = mv.parse(f"${item['gold']}$", parsing_timeout=timeout)
        pred = mv.parse(item["completion"], parsing_timeout=timeout)
        return bool(mv.verify(gold, pred, timeout_seconds=timeout))
    except Exception:
        return False


def run(items: list[dict[str, Any]], timeout: int, all_profiles: bool) -> dict[str, Any]:
    import math_verify

    from harness.scoring.math import MathGrader

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    graders = {"default": MathGrader(timeout), "all profiles": MathGrader(timeout)}
    for it in synthesise(3, 2000, 3000, seed=12345):  # warm up imports and first-call costs, untimed
        _plain_math_verify(math_verify, it, timeout)
        graders["default"].grade(it["completion"], it["gold"], finish_reason=it["finish_reason"])
    names = ["default", "math-verify"] + (["all profiles"] if all_profiles else [])
    cpu = dict.fromkeys(names, 0.0)
    worst = dict.fromkeys(names, 0.0)
    credited = dict.fromkeys(names, 0)
    t_start = time.monotonic()
    for i, it in enumerate(items, 1):
        for name in names:
            w0, c0 = time.monotonic(), time.process_time()
            if name == "math-verify":
                ok = _plain_math_verify(math_verify, it, timeout)
            else:
                profiles = ("default",) if name == "default" else ("strict", "default", "lenient")
                ok = graders[name].grade(it["completion"], it["gold"], finish_reason=it.get("finish_reason"),
                                  think_prefilled=bool(it.get("think_prefilled")), profiles=profiles)["default"].correct
            cpu[name] += time.process_time() - c0
            worst[name] = max(worst[name], time.monotonic() - w0)
            credited[name] += bool(ok)
        if i % 50 == 0:
            print(f"  {i}/{len(items)} samples ({time.monotonic() - t_start:.0f}s)", file=sys.stderr)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"samples": len(items), "cpu_seconds": cpu, "worst_seconds": worst, "credited": credited,
            "peak_rss_mb": peak_mb, "timeout": timeout}


def report(r: dict[str, Any], chars: list[int]) -> str:
    n = r["samples"]
    rate = {k: (n / v if v > 0 else float("inf")) for k, v in r["cpu_seconds"].items()}
    lines = [f"{n} completions, {min(chars)}-{max(chars)} characters (mean {sum(chars) / len(chars):.0f}); "
             f"timeout {r['timeout']}s per sample", "",
             "| grader | samples/s per core | CPU s | slowest sample s | credited |", "|---|---:|---:|---:|---:|"]
    for k in r["cpu_seconds"]:
        lines.append(f"| {k} | {rate[k]:.1f} | {r['cpu_seconds'][k]:.1f} | {r['worst_seconds'][k]:.2f} | "
                     f"{r['credited'][k]} |")
    ratio = rate["default"] / rate["math-verify"] if rate["math-verify"] else float("inf")
    lines += ["", f"speed-up of the default grader over plain math-verify: {ratio:.1f}x (goal >= 10x)",
              f"peak memory (RSS of this process): {r['peak_rss_mb']:.0f} MB",
              f"default grader: slowest sample {r['worst_seconds']['default']:.2f}s "
              f"({'within' if r['worst_seconds']['default'] <= r['timeout'] + 0.5 else 'BEYOND'} its {r['timeout']}s timeout)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.bench_score", description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--corpus", type=Path, default=None, help="a labelled corpus (JSONL with completion, gold)")
    ap.add_argument("--min-chars", type=int, default=5000)
    ap.add_argument("--max-chars", type=int, default=30000)
    ap.add_argument("--timeout", type=int, default=5, help="seconds per sample and grader")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--all-profiles", action="store_true", help="also time strict + default + lenient in one pass")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    if args.corpus is not None:
        if not args.corpus.is_file():
            print(f"--corpus: file not found: {args.corpus}", file=sys.stderr)
            return 2
        items = from_corpus(args.corpus, args.samples, args.min_chars, args.max_chars)
        if not items:
            print(f"--corpus: no completion of {args.min_chars}-{args.max_chars} characters in {args.corpus}",
                  file=sys.stderr)
            return 2
        source = f"{len(items)} completions from {args.corpus}"
    else:
        items = synthesise(args.samples, args.min_chars, args.max_chars, args.seed)
        source = f"{len(items)} synthesised completions (seed {args.seed})"
    print(f"bench-score: {source}", file=sys.stderr)
    r = run(items, args.timeout, args.all_profiles)
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        print(report(r, [len(it["completion"]) for it in items]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
