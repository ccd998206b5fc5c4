"""Accuracy of answer graders against the labelled corpus, overall, per category and per format.

    python scripts/grader_corpus/evaluate.py /work/corpus/corpus.jsonl
    python scripts/grader_corpus/evaluate.py CORPUS --grader mathverify --grader my.module:grade

A grader is a built-in name (``mathverify``, ``last_number``, ``harness``, the default being these
three, or a profile of the project's grader: ``strict``, ``default``, ``lenient``) or ``module:function``, a callable ``(completion, gold, item) -> bool``; ``item`` is the
corpus record (``benchmark``, ``think_prefilled``, ``finish_reason``, ... are there). A verdict of
None counts as "not credited". Accuracy is agreement with the corpus label; ``wrong`` splits the
errors into false credits (fp: credited a wrong or unfinished completion) and false rejections (fn).
"""

from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing as mp
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.grader_corpus.graders import BASELINES  # noqa: E402

_GRADER = None


def resolve(spec: str):
    if spec in BASELINES:
        return BASELINES[spec]
    if ":" not in spec:
        raise SystemExit(f"--grader {spec!r}: use one of {sorted(BASELINES)} or module:function")
    mod, fn = spec.split(":", 1)
    try:
        return getattr(importlib.import_module(mod), fn)
    except (ImportError, AttributeError) as e:
        raise SystemExit(f"--grader {spec!r}: {e}") from None


def _init(spec: str) -> None:
    global _GRADER
    _GRADER = resolve(spec)


def _grade(item: dict) -> tuple[str, bool]:
    verdict = _GRADER(item["completion"], item["gold"], item)
    return item["uid"], bool(verdict)


def run(spec: str, items: list[dict], workers: int) -> tuple[dict[str, bool], float]:
    t0 = time.monotonic()
    if workers <= 1:
        _init(spec)
        out = dict(map(_grade, items))
    else:
        with mp.get_context("fork").Pool(workers, initializer=_init, initargs=(spec,)) as pool:
            out = dict(pool.imap_unordered(_grade, items, chunksize=8))
    return out, time.monotonic() - t0


def table(items: list[dict], results: dict[str, dict[str, bool]], key) -> list[str]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for it in items:
        groups[key(it)].append(it)
    names = list(results)
    lines = ["| group | n | " + " | ".join(f"{n} acc (fp/fn)" for n in names) + " |"]
    lines.append("|---|---:|" + "---:|" * len(names))
    order = sorted(groups, key=lambda g: (-len(groups[g]), g))
    for g in ["ALL", *order]:
        members = items if g == "ALL" else groups[g]
        cells = []
        for n in names:
            r = results[n]
            fp = sum(1 for it in members if r[it["uid"]] and not it["label"])
            fn = sum(1 for it in members if not r[it["uid"]] and it["label"])
            acc = 100.0 * (len(members) - fp - fn) / len(members)
            cells.append(f"{acc:.1f}% ({fp}/{fn})")
        lines.append(f"| {g} | {len(members)} | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--grader", action="append", help="built-in name or module:function (repeatable)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--by", action="append", default=None, help="extra grouping field(s), e.g. benchmark, model"
    )
    ap.add_argument("--errors", type=Path, default=None, help="write each grader's mistakes here (JSONL)")
    args = ap.parse_args(argv)

    if not args.corpus.exists():
        raise SystemExit(f"corpus not found: {args.corpus} (build it with scripts/grader_corpus/build.py)")
    items = [json.loads(line) for line in args.corpus.read_text().splitlines() if line.strip()]
    items = [it for it in items if isinstance(it.get("label"), bool)]
    specs = args.grader or ["mathverify", "last_number", "harness"]
    for spec in specs:
        resolve(spec)  # fail on a bad spec here, not inside worker processes
    results, times = {}, {}
    for spec in specs:
        results[spec], times[spec] = run(spec, items, args.workers)
        print(f"graded {len(items)} items with {spec} in {times[spec]:.1f}s", file=sys.stderr)

    n_r1 = sum(it["r1_format"] for it in items)
    print(
        f"corpus: {args.corpus}  items: {len(items)}  correct: {sum(it['label'] for it in items)}  with </think>: {n_r1}\n"
    )
    print("accuracy overall and per category (fp = false credits, fn = false rejections)\n")
    print("\n".join(table(items, results, lambda it: it["category"])))
    print("\nper format\n")
    print("\n".join(table(items, results, lambda it: "r1 (</think>)" if it["r1_format"] else "plain")))
    for field in args.by or []:
        print(f"\nper {field}\n")
        print("\n".join(table(items, results, lambda it, f=field: str(it.get(f)))))
    if args.errors:
        with args.errors.open("w") as fh:
            for spec, r in results.items():
                for it in items:
                    if r[it["uid"]] != it["label"]:
                        fh.write(
                            json.dumps(
                                {
                                    "grader": spec,
                                    "uid": it["uid"],
                                    "label": it["label"],
                                    "category": it["category"],
                                    "gold": it["gold"],
                                    "tail": it["completion"][-400:],
                                },
                                ensure_ascii=False,
                            )
                            + "\n"
                        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
