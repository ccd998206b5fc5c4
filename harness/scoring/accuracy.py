"""Accuracy of the math graders against a labelled corpus of real completions.

    python -m harness.scoring.accuracy CORPUS.jsonl [--grader strict --grader default ...]
                                       [--by benchmark] [--errors FILE] [--limit N]

A corpus line is one completion with its gold answer and a label read by a person or agreed on by
every automatic grader: {uid, benchmark, gold, completion, finish_reason (null: unknown),
think_prefilled, category, label (bool), ...} (tests/fixtures/grader_corpus/ holds a cited
excerpt; docs/grading.md says how the full corpus is rebuilt). Graders: the three profiles
(`strict`, `default`, `lenient`), plain math-verify over the whole text (`mathverify`, what
lighteval does) and the toolkit-style last number of the whole text (`last_number`). Accuracy is
agreement with the label; errors split into false credits (fp) and false rejections (fn).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

PROFILES = ("strict", "default", "lenient")
BASELINES = ("mathverify", "last_number")
INTEGER_BENCHMARKS = ("aime24", "aime25", "aime", "gsm8k")  # where the last-number fallback applies

_GRADER = None


def _grader():
    global _GRADER
    if _GRADER is None:
        from harness.scoring.math import MathGrader

        _GRADER = MathGrader(timeout_seconds=5)
    return _GRADER


def profile_verdicts(item: Mapping[str, Any]) -> dict[str, bool]:
    """{profile: credited} for one corpus item, all profiles in one pass, as the math task
    grades a sample (finish reason unknown when the item has none)."""
    g = _grader()
    g.last_number_fallback = str(item.get("benchmark", "")).lower() in INTEGER_BENCHMARKS
    graded = g.grade(item["completion"], str(item["gold"]), finish_reason=item.get("finish_reason") or None,
                     think_prefilled=bool(item.get("think_prefilled")))
    return {p: v.correct for p, v in graded.items()}


def plain_mathverify(item: Mapping[str, Any]) -> bool:
    """math-verify 0.9.0 over the whole completion, gold parsed from $gold$ (its own timeouts)."""
    import math_verify

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    try:
        gold = math_verify.parse(f"${item['gold']}$", parsing_timeout=5)
        pred = math_verify.parse(item["completion"], parsing_timeout=5)
        return bool(math_verify.verify(gold, pred, timeout_seconds=5))
    except Exception:  # a crash is not a credit
        return False


_LAST_NUMBER = re.compile(r"(?<![\w.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?|-?\.\d+")


def last_number(item: Mapping[str, Any]) -> bool:
    """The last number of the whole completion, compared with the gold by math-verify (the
    fallback of the Qwen2.5-Math toolkit and of many GSM8K graders)."""
    nums = _LAST_NUMBER.findall(item["completion"])
    if not nums:
        return False
    ok, _ = _grader().verifier.check(str(item["gold"]), nums[-1].replace(",", ""))
    return ok


def verdicts(item: Mapping[str, Any], graders: Iterable[str]) -> dict[str, bool]:
    graders = list(graders)
    out: dict[str, bool] = {}
    if any(g in PROFILES for g in graders):
        out.update({p: v for p, v in profile_verdicts(item).items() if p in graders})
    if "mathverify" in graders:
        out["mathverify"] = plain_mathverify(item)
    if "last_number" in graders:
        out["last_number"] = last_number(item)
    return out


def load(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    items = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                it = json.loads(line)
                if isinstance(it.get("label"), bool):
                    items.append(it)
    return items[:limit] if limit else items


def evaluate(items: list[dict[str, Any]], graders: Iterable[str], progress: bool = False) -> dict[str, dict[str, bool]]:
    """{grader: {uid: credited}}."""
    graders = list(graders)
    out: dict[str, dict[str, bool]] = {g: {} for g in graders}
    t0 = time.monotonic()
    for i, it in enumerate(items, 1):
        for g, v in verdicts(it, graders).items():
            out[g][it["uid"]] = v
        if progress and i % 100 == 0:
            print(f"  {i}/{len(items)} items ({time.monotonic() - t0:.0f}s)", file=sys.stderr)
    return out


def accuracy(items: list[dict[str, Any]], results: Mapping[str, Mapping[str, bool]], key=lambda it: it["category"]
             ) -> dict[str, dict[str, dict[str, float]]]:
    """{group: {grader: {n, acc, fp, fn}}} with group "ALL" first."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for it in items:
        groups[str(key(it))].append(it)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name in ["ALL", *sorted(groups, key=lambda g: (-len(groups[g]), g))]:
        members = items if name == "ALL" else groups[name]
        row = {}
        for g, r in results.items():
            fp = sum(1 for it in members if r[it["uid"]] and not it["label"])
            fn = sum(1 for it in members if not r[it["uid"]] and it["label"])
            row[g] = {"n": len(members), "acc": (len(members) - fp - fn) / len(members), "fp": fp, "fn": fn}
        out[name] = row
    return out


def render(table: Mapping[str, Mapping[str, Mapping[str, float]]]) -> str:
    names = list(next(iter(table.values())))
    lines = ["| group | n | " + " | ".join(f"{n} acc (fp/fn)" for n in names) + " |",
             "|---|---:|" + "---:|" * len(names)]
    for group, row in table.items():
        n = next(iter(row.values()))["n"]
        cells = [f"{100 * row[g]['acc']:.1f}% ({row[g]['fp']}/{row[g]['fn']})" for g in names]
        lines.append(f"| {group} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.scoring.accuracy", description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--grader", action="append", choices=[*PROFILES, *BASELINES],
                    help="repeatable (default: all five)")
    ap.add_argument("--by", action="append", default=[], help="extra grouping field(s), e.g. benchmark, model")
    ap.add_argument("--errors", type=Path, default=None, help="write each grader's mistakes here (JSONL)")
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args(argv)
    if not args.corpus.is_file():
        print(f"corpus not found: {args.corpus}", file=sys.stderr)
        return 2
    items = load(args.corpus, args.limit)
    graders = args.grader or [*PROFILES, *BASELINES]
    t0 = time.monotonic()
    results = evaluate(items, graders, progress=True)
    print(f"{len(items)} labelled items ({sum(it['label'] for it in items)} correct), graded in "
          f"{time.monotonic() - t0:.0f}s\n")
    print(render(accuracy(items, results)))
    for field in ["r1_format", *args.by]:
        print(f"\nper {field}\n")
        print(render(accuracy(items, results, key=lambda it, f=field: it.get(f))))
    if args.errors:
        with open(args.errors, "w", encoding="utf-8") as fh:
            for g, r in results.items():
                for it in items:
                    if r[it["uid"]] != it["label"]:
                        fh.write(json.dumps({"grader": g, "uid": it["uid"], "label": it["label"],
                                             "category": it["category"], "gold": it["gold"],
                                             "tail": it["completion"][-600:]}, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
