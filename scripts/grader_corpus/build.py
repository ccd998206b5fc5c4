"""Rebuild the labelled grader corpus from the pinned public sources.

    python scripts/grader_corpus/build.py --copies /path/to/copies --out /work/corpus/corpus.jsonl

``--copies DIR`` holds one local copy per source repository, as ``DIR/owner+name`` (a clone with
full history, or ``DIR/owner+name/repo``, a bare mirror); nothing is downloaded. Each item gets
three or four automatic verdicts (the source's own label, plain math-verify, the project's grader,
the last-number grader). Where every available verdict agrees and the completion finished, that is
the label; otherwise the label comes from ``adjudications.jsonl`` (written by reading the
completion). Items still without a label are listed in ``--review`` for reading and left out of the
corpus, so an unread disagreement never becomes a label.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for harness

from scripts.grader_corpus import graders  # noqa: E402
from scripts.grader_corpus.sources import (  # noqa: E402
    READERS,
    SOURCES,
    References,
    SourceFile,
    git_show,
)

HERE = Path(__file__).resolve().parent
THINK_CLOSE = "</think>"
VERDICT_NAMES = ("source", "mathverify", "harness", "last_number")


def reasoning_format(completion: str, sf: SourceFile) -> str:
    """r1: a <think> block (closed or not); sky-t1: <|begin_of_thought|> ... <|end_of_thought|>
    blocks, the same structure with other markers; plain: no reasoning block."""
    if THINK_CLOSE in completion or "<think>" in completion or sf.think_prefilled:
        return "r1"
    if "<|begin_of_thought|>" in completion:
        return "sky-t1"
    return "plain"


def find_copy(copies: Path, repo: str) -> Path:
    owner, name = repo.split("/")
    for cand in (copies / f"{owner}+{name}" / "repo", copies / f"{owner}+{name}", copies / name):
        if cand.exists():
            return cand
    raise SystemExit(
        f"no local copy of {repo} under {copies} (expected {copies / (owner + '+' + name)}): see README.md"
    )


# ------------------------------------------------------------------ per-item facts


_COMPLETE_END = re.compile(r"(?:[.!?。]|\\\]|\$|\\\)|\*\*|\\boxed\{[^{}]*\}|<\|end_of_solution\|>)[\s*_]*$")


_ANSWER_LINE = re.compile(r"(?:^|\n)\s*(?:A|Answer|Final answer)\s*:\s*[^\n]{1,60}$", re.IGNORECASE)


def ends_complete(text: str) -> bool:
    """The text ends the way a finished answer does: a sentence end, a closed display or inline
    formula, a boxed answer or a last line holding one, bold markup closing a final line, an
    "A: 18" answer line, or a closed
    code block (the Qwen2.5-Math toolkit stops generation where a model asks to run code)."""
    t = text.rstrip()
    if _COMPLETE_END.search(t[-200:]) or _ANSWER_LINE.search(t[-120:]):
        return True
    if t.endswith("}") and "\\boxed" in t[-300:]:
        return True
    if re.search(
        r"\\boxed\{[^\n]*\}[^\n{}]{0,40}$", t[-300:]
    ):  # "... is: $\\boxed{5}$. I hope it is correct"
        return True
    return t.endswith("```") and t.count("```") % 2 == 0


def finish_facts(
    completion: str, sf: SourceFile, finish_reason: str | None = None
) -> tuple[str | None, bool]:
    """(finish_reason, finished) for one completion. Where the source records a finish reason (or
    its token counts show one), "length" is unfinished and "stop" finished, unless a think block
    never closed. Otherwise the reason stays null (unknown) and "finished" is inferred: a think
    block that never closed is unfinished; a model-specific end marker proves a finish; otherwise
    the text must end the way a finished answer does (the same rule the project applies to
    replayed completions)."""
    opened = sf.think_prefilled or "<think>" in completion
    if finish_reason == "length":
        return finish_reason, False
    if finish_reason == "stop":
        return finish_reason, not (opened and THINK_CLOSE not in completion)
    if opened:
        if THINK_CLOSE not in completion:
            return None, False
        return None, ends_complete(completion)
    if sf.end_marker and sf.end_marker in completion:
        return None, True
    return None, ends_complete(completion)


_REL = re.compile(r"(\\le|\\ge|\\leq|\\geq|\\neq|<|>|=|\\in\b|\\cup|\\infty|^\s*[\[(].*,.*[\])]\s*$)")
_MATRIX = re.compile(r"\\begin\{[pbv]?matrix\}|\\matrix")
_NUMFMT = re.compile(
    r"\d,\d{3}|\d\{,\}\d{3}|\\%|%|\^\s*\{?\\circ|°|\\text\{|\\mbox\{|\\\$|\d\s+\d{3}\b|\\!|cents|dollars|\bdegrees\b"
)
_PHRASE = re.compile(r"(?:final\s+answer\s*(?:is|:)|\banswer\s*(?:is|:))", re.IGNORECASE)


def answer_region(completion: str, sf: SourceFile, finish_reason: str | None = None) -> str:
    """The text a reader takes the final answer from: after the last </think> (or the end of the
    reasoning when a completion that stopped wrote nothing after it, rule 7), the solution block of
    Sky-T1 output, or the whole completion."""
    close = completion.rfind(THINK_CLOSE)
    if close != -1:
        after = completion[close + len(THINK_CLOSE) :]
        if not after.strip() and finish_reason == "stop":
            from harness.scoring.extract import reasoning_tail

            return reasoning_tail(completion)
        return after
    if sf.end_marker and "<|begin_of_solution|>" in completion:
        return completion[completion.rfind("<|begin_of_solution|>") :]
    return completion


def categorise(item: dict, sf: SourceFile, finished: bool, loop: bool) -> str:
    """One category per item, first match wins: loop, truncated, matrix, relation,
    number_format, boxed, phrase, statement, other."""
    if loop:
        return "loop"
    if not finished:
        return "truncated"
    gold = item["gold"]
    region = answer_region(item["completion"], sf, item.get("finish_reason"))
    from harness.scoring.math import last_boxed

    boxed = last_boxed(region)
    if _MATRIX.search(gold):
        return "matrix"
    if _REL.search(gold):
        return "relation"
    final = boxed if boxed is not None else region[-300:]
    if _NUMFMT.search(gold) or (boxed is not None and _NUMFMT.search(boxed)):
        return "number_format"
    if boxed is not None:
        return "boxed"
    if _PHRASE.search(region):
        return "phrase"
    if final.strip():
        return "statement"
    return "other"


# ------------------------------------------------------------------ verdicts (in worker processes)


def _verdicts(job: tuple[str, str, str, bool, str | None]) -> tuple[str, dict]:
    key, completion, gold, think_prefilled, finish_reason = job
    item = {"think_prefilled": think_prefilled, "finish_reason": finish_reason}
    out = {}
    t0 = time.monotonic()
    out["mathverify"] = graders.mathverify(completion, gold, item)
    out["harness"] = graders.harness(completion, gold, item)
    out["last_number"] = graders.last_number(completion, gold, item)
    out["seconds"] = round(time.monotonic() - t0, 3)
    return key, out


def verdict_key(uid: str, completion: str, gold: str, reads_tail: bool = False) -> str:
    """Cache key of an item's verdicts: its content and the project's grader version (a grader
    change recomputes them), plus a mark when the project's grader reads the end of the reasoning
    for it (rule 7), the only case where the finish reason matters."""
    from harness.scoring.math import GRADER_VERSION

    h = hashlib.sha1(f"{gold}\x00{completion}".encode()).hexdigest()[:16]
    return f"{uid}#{h}#g{GRADER_VERSION}" + ("#tail" if reads_tail else "")


def load_cache(path: Path) -> dict:
    cache = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                cache[rec["key"]] = rec["verdicts"]
    return cache


# ------------------------------------------------------------------ labelling


def load_adjudications(path: Path) -> dict:
    adj = {}
    if path.exists():
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip() and not line.startswith("#"):
                rec = json.loads(line)
                if not isinstance(rec.get("label"), bool) or not rec.get("how"):
                    raise SystemExit(f"{path}:{n}: each adjudication needs a boolean label and a how")
                adj[rec["uid"]] = rec
    return adj


def decide(item: dict, adj: dict) -> tuple[bool | None, str]:
    """The label and how it was reached, or (None, reason) when the item needs reading."""
    if item["uid"] in adj:
        a = adj[item["uid"]]
        return a["label"], a["how"] if a["how"].startswith("read:") else f"read:{a['how']}"
    v = item["verdicts"]
    avail = {k: v[k] for k in VERDICT_NAMES if v.get(k) is not None}
    values = set(avail.values())
    if item["category"] in ("truncated", "loop") and True in values:
        return None, "unfinished completion credited by " + "+".join(k for k, x in avail.items() if x)
    if len(values) == 1:
        return values.pop(), "agree:" + "+".join(avail)
    return None, "disagree: " + ", ".join(f"{k}={x}" for k, x in avail.items())


# ------------------------------------------------------------------ excerpt

EXCERPT_LICENCES = ("Apache-2.0", "MIT")


def select_excerpt(
    corpus: list[dict], per_category: int = 12, r1: int = 4, reasoning: int = 30
) -> list[dict]:
    """A small, deterministic, cited excerpt for the test fixtures: per category up to
    ``per_category`` items (labels read by hand first, at most 3 per source file, both labels),
    plus the ``r1`` shortest items in R1 format, plus ``reasoning`` more completions with a think
    block (closed or cut off inside it) spread over the categories, only from sources whose licence
    allows copying."""
    pool = [it for it in corpus if it["licence"].startswith(EXCERPT_LICENCES)]
    picked: list[dict] = []
    by_cat: dict[str, list[dict]] = {}
    for it in pool:
        by_cat.setdefault(it["category"], []).append(it)
    for cat in sorted(by_cat):
        if cat == "other":  # no final answer at all: only in the think-block part below
            continue
        limit = 14000 if cat in ("truncated", "loop") else 6000
        cands = sorted(
            (it for it in by_cat[cat] if it["length_chars"] <= limit),
            key=lambda it: (it["length_chars"], it["uid"]),
        )
        chosen: list[dict] = []
        per_file: Counter = Counter()
        for group in (
            [c for c in cands if c["label_how"].startswith("read:")],
            [c for c in cands if not c["label_how"].startswith("read:")],
        ):
            for it in group:
                key = it["uid"].split(":")[0]
                same_label = sum(1 for c in chosen if c["label"] == it["label"])
                if len(chosen) < per_category and per_file[key] < 3 and same_label < (per_category * 2) // 3:
                    chosen.append(it)
                    per_file[key] += 1
        picked += chosen
    taken = {it["uid"] for it in picked}
    picked += sorted(
        (it for it in pool if it["r1_format"] and it["uid"] not in taken), key=lambda it: it["length_chars"]
    )[:r1]
    taken = {it["uid"] for it in picked}
    # think-block completions: round-robin over categories, shortest first, at most 3 per source
    # file, both labels where a category has both (read labels first)
    queues: dict[str, list[dict]] = {}
    for it in pool:
        limit = 60000 if it["category"] in ("truncated", "loop") else 12000
        if it["reasoning_format"] == "r1" and it["uid"] not in taken and it["length_chars"] <= limit:
            queues.setdefault(it["category"], []).append(it)
    for q in queues.values():
        q.sort(key=lambda it: (not it["label_how"].startswith("read:"), it["length_chars"], it["uid"]))
    per_file: Counter = Counter(it["uid"].split(":")[0] for it in picked)
    extra: list[dict] = []
    want_label = {cat: True for cat in queues}
    while len(extra) < reasoning and any(queues.values()):
        for cat in sorted(queues):
            q = queues[cat]
            pick = next(
                (it for it in q if it["label"] == want_label[cat] and per_file[it["uid"].split(":")[0]] < 3),
                None,
            )
            pick = pick or next((it for it in q if per_file[it["uid"].split(":")[0]] < 3), None)
            if pick is None:
                q.clear()
                continue
            q.remove(pick)
            want_label[cat] = not pick["label"]
            per_file[pick["uid"].split(":")[0]] += 1
            extra.append(pick)
            if len(extra) == reasoning:
                break
    return picked + extra


def sources_md(excerpt: list[dict]) -> str:
    """SOURCES.md for the excerpt: where each item comes from and under which licence."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for it in excerpt:
        groups.setdefault((it["source"], it["source_commit"], it["licence"]), []).append(it)
    lines = [
        "# Sources of `excerpt.jsonl`",
        "",
        f"`excerpt.jsonl` holds {len(excerpt)} real model completions, copied verbatim from the public files",
        "below, each with its labels. Every line names its own source repository, commit and path",
        "(`source`, `source_commit`, `source_path`) and licence. It is a deterministic selection from the",
        "full corpus (`scripts/grader_corpus/build.py --excerpt`): per category up to 12 items, hand-read",
        "labels first, at most three per source file, plus the four shortest completions in R1 format,",
        "plus 30 more completions with a think block (finished, cut off, looping) spread over the",
        "categories, at most three per source file.",
        "The labelling rules are in `scripts/grader_corpus/README.md`.",
        "",
        "| source | commit | licence | items | files |",
        "|---|---|---|---:|---|",
    ]
    for (src, commit, lic), items in sorted(groups.items()):
        files = "<br>".join(f"`{p}`".replace("|", "\\|") for p in sorted({it["source_path"] for it in items}))
        lines.append(f"| {src.removeprefix('github:')} | `{commit[:12]}` | {lic} | {len(items)} | {files} |")
    cats = Counter(it["category"] for it in excerpt)
    n_read = sum(it["label_how"].startswith("read:") for it in excerpt)
    n_true = sum(it["label"] for it in excerpt)
    lines += [
        "",
        "Licence notes: the SkyThought files are under the Apache License 2.0",
        "(https://www.apache.org/licenses/LICENSE-2.0); they are redistributed here unmodified, as data,",
        "with this notice of their origin. The Qwen2.5-Math evaluation files are under the MIT licence in",
        "`evaluation/LICENSE` of that repository (copyright 2024 Zhibin Gou), openai/grade-school-math",
        "under MIT (copyright 2021 OpenAI), pingzhili/lm-reasoning-eval under MIT (its LICENSE, copyright",
        "2024 Hugging Face), MingLiiii/MiP-Overthinking under MIT (copyright 2025 Fcr09),",
        "markyx316/LLM-Reasoning-Trace-Topology under MIT (copyright 2026 Youxuan Ma), Thrillcrazyer/THIP",
        "under the Apache License 2.0 (redistributed unmodified, as data, with this notice of origin).",
        "The problems come from MATH (MIT), GSM8K (MIT) and the 2024 and 2025 AIME (MAA).",
        "",
        "Counts by category: " + ", ".join(f"{k} {v}" for k, v in sorted(cats.items())) + ".",
        f"Labels: {n_true} correct, {len(excerpt) - n_true} wrong; {n_read} labelled by reading.",
    ]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ main


def collect(copies: Path) -> list[tuple[dict, SourceFile]]:
    items = []
    blobs: dict[tuple[str, str, str], bytes] = {}

    def blob(repo: str, commit: str, path: str) -> bytes:
        k = (repo, commit, path)
        if k not in blobs:
            blobs[k] = git_show(find_copy(copies, repo), commit, path)
        return blobs[k]

    refs = References(blob)
    for sf in SOURCES:
        n = 0
        for row in READERS[sf.reader](blob(sf.repo, sf.commit, sf.path), sf, refs):
            uid = f"{sf.key}:{row['problem_id']}:{row['sample']}"
            completion = row["completion"]
            item = {
                "uid": uid,
                "source": f"github:{sf.repo}",
                "source_commit": sf.commit,
                "source_path": sf.path,
                "licence": sf.licence,
                "model": sf.model,
                "benchmark": sf.benchmark,
                "problem_id": row["problem_id"],
                "problem": row["problem"],
                "gold": row["gold"],
                "completion": completion,
                "finish_reason": row.get("finish_reason"),
                "r1_format": THINK_CLOSE in completion,
                "reasoning_format": reasoning_format(completion, sf),
                "think_prefilled": sf.think_prefilled,
                "source_label": row["source_label"],
                "length_chars": len(completion),
                "source_extra": {k: v for k, v in row["extra"].items() if v is not None},
            }
            items.append((item, sf))
            n += 1
        print(f"  {sf.key:34s} {n:5d} items  ({sf.repo}@{sf.commit[:10]}:{sf.path})", file=sys.stderr)
    return items


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--copies", type=Path, required=True, help="folder with one local copy per source repository"
    )
    ap.add_argument("--out", type=Path, required=True, help="corpus JSONL to write")
    ap.add_argument("--adjudications", type=Path, default=HERE / "adjudications.jsonl")
    ap.add_argument("--cache", type=Path, default=None, help="verdict cache (default: beside --out)")
    ap.add_argument("--review", type=Path, default=None, help="write items that need reading here (JSONL)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--excerpt", type=Path, default=None, help="also write the cited test-fixture excerpt here"
    )
    args = ap.parse_args(argv)

    print("reading sources", file=sys.stderr)
    pairs = collect(args.copies)
    uids = Counter(it["uid"] for it, _ in pairs)
    dup = [u for u, c in uids.items() if c > 1]
    if dup:
        raise SystemExit(f"duplicate uids, e.g. {dup[:3]}")

    cache_path = args.cache or args.out.with_name("verdicts_cache.jsonl")
    cache = load_cache(cache_path)
    jobs = []
    for it, _ in pairs:
        tail = graders.reads_reasoning_tail(it["completion"], it["think_prefilled"], it["finish_reason"])
        key = verdict_key(it["uid"], it["completion"], it["gold"], tail)
        it["_key"] = key
        if key not in cache:
            jobs.append((key, it["completion"], it["gold"], it["think_prefilled"], it["finish_reason"]))
    print(
        f"{len(pairs)} items, {len(pairs) - len(jobs)} verdicts cached, {len(jobs)} to compute",
        file=sys.stderr,
    )
    if jobs:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        with (
            cache_path.open("a") as fh,
            mp.get_context("fork").Pool(args.workers, maxtasksperchild=200) as pool,
        ):
            for n, (key, verdicts) in enumerate(pool.imap_unordered(_verdicts, jobs, chunksize=4), 1):
                cache[key] = verdicts
                fh.write(json.dumps({"key": key, "verdicts": verdicts}) + "\n")
                if n % 100 == 0 or n == len(jobs):
                    fh.flush()
                    print(f"  verdicts {n}/{len(jobs)}  {time.monotonic() - t0:.0f}s", file=sys.stderr)

    adj = load_adjudications(args.adjudications)
    corpus, pending = [], []
    for it, sf in pairs:
        v = dict(cache[it.pop("_key")])
        v.pop("seconds", None)
        v["source"] = it["source_label"]
        it["verdicts"] = {k: v.get(k) for k in VERDICT_NAMES}
        finish_reason, finished = finish_facts(it["completion"], sf, it["finish_reason"])
        loop = graders.tail_loop(it["completion"])
        finished = finished and not loop  # a loop at the end is generation that never stopped by itself
        it["finish_reason"] = finish_reason
        it["finished"] = finished
        it["loop"] = loop
        it["category"] = categorise(it, sf, finished, loop)
        if it["uid"] in adj and adj[it["uid"]].get("category"):
            it["category"] = adj[it["uid"]]["category"]
        label, how = decide(it, adj)
        if label is None:
            pending.append({**it, "why": how, "tail": it["completion"][-700:]})
            continue
        it["label"] = label
        it["label_how"] = how
        corpus.append(it)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w") as fh:
        for it in corpus:
            fh.write(json.dumps(it, ensure_ascii=False) + "\n")
    if args.excerpt:
        excerpt = select_excerpt(corpus)
        with args.excerpt.open("w") as fh:
            for it in excerpt:
                fh.write(json.dumps(it, ensure_ascii=False) + "\n")
        args.excerpt.with_name("SOURCES.md").write_text(sources_md(excerpt))
        print(f"wrote {len(excerpt)} excerpt items to {args.excerpt} (and SOURCES.md)", file=sys.stderr)
    if args.review:
        with args.review.open("w") as fh:
            for it in pending:
                fh.write(
                    json.dumps(
                        {
                            k: it[k]
                            for k in ("uid", "gold", "category", "why", "tail", "verdicts", "length_chars")
                        },
                        ensure_ascii=False,
                    )
                    + "\n"
                )
    cats = Counter(it["category"] for it in corpus)
    print(
        f"wrote {len(corpus)} labelled items to {args.out} "
        f"({sum(it['r1_format'] for it in corpus)} with </think>, "
        f"{sum(not it['finished'] for it in corpus)} unfinished, {sum(it['loop'] for it in corpus)} loops; "
        f"{sum(it['label_how'].startswith('read:') for it in corpus)} labelled by reading); "
        f"{len(pending)} need reading" + (f" (listed in {args.review})" if args.review else ""),
        file=sys.stderr,
    )
    print("categories: " + ", ".join(f"{k}={v}" for k, v in cats.most_common()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
