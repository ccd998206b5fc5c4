"""The per-run sample viewer: a static page, results/runs/<run-id>/index.html, that opens from disk.

No server, no network, no CDN: the page's script and style are inlined from harness/viewer/assets/.
A run of 32,000 samples of 30,000 characters is a gigabyte of text, so the page never holds it:

    index.html              the page, the run's figures and the curves (inline SVG)
    viewer/summary.js       every problem and every sample's metadata (answer, reason, rule,
                            tokens, finish reason, flags), no completion text
    viewer/p-000017.js      one file per problem: its text, gold answer and completions, loaded
                            by a <script> tag when the problem is opened (browsers block fetch()
                            of file:// pages, script tags are allowed)
    viewer/stamp.json       what the pages were built from: an unchanged run is not rewritten

samples.jsonl is read twice, never whole: one pass for the byte offset of every line, then one
problem at a time. Problem texts and gold answers come from the task's dataset (the run's
config.yaml); without it (offline, no local copy) the page shows ids and extracted answers only.
"""

from __future__ import annotations

import html
import json
import logging
import math
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.metrics import SameAnswer, budget_curve, ks_for, majority, majority_group, pass_at_k, votes
from harness.store import RunStore, atomic_write, read_jsonl

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "assets"
VERSION = 1  # bump when the page or its data layout changes: every run's page is rebuilt
DATA_DIR = "viewer"
PAGE = "index.html"
GOLD_PREVIEW = 200  # characters of a gold answer shown in the problem list


# -- reading the run ----------------------------------------------------------------------------------

def _grader_split(by_grader: Any) -> bool:
    """True when the grader profiles disagree on a sample (scores.jsonl `by_grader`: profile name ->
    correct, or -> {"correct": ...})."""
    if not isinstance(by_grader, Mapping) or len(by_grader) < 2:
        return False
    verdicts = {bool(v.get("correct")) if isinstance(v, Mapping) else bool(v) for v in by_grader.values()}
    return len(verdicts) > 1


def load_problems(run_dir: Path) -> dict[str, dict[str, Any]]:
    """{problem id: {"text", "gold"}} from the task's dataset as the run's config names it; empty
    when the dataset cannot be read here (the page then shows ids only)."""
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.is_file():
        return {}
    try:
        import yaml

        from harness.runner import prompt_config
        from harness.tasks import build_task

        cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8")) or {}
        task = build_task(cfg["task"], prompt_config(cfg))
        problems = task.load()
    except Exception as e:  # offline without a local copy, a task that needs a checkout, ...
        log.warning("%s: problem texts unavailable (%s: %s); the sample page shows ids only",
                    run_dir.name, type(e).__name__, str(e).splitlines()[0] if str(e) else "")
        return {}
    out = {}
    for p in problems:
        text = p.inputs.get("problem") if isinstance(p.inputs.get("problem"), str) else None
        if text is None:
            text = next((v for v in p.inputs.values() if isinstance(v, str)), "")
        gold = p.reference if isinstance(p.reference, str) else json.dumps(p.reference, default=str)[:2000]
        out[p.id] = {"text": text, "gold": gold}
    return out


def sample_offsets(path: Path) -> dict[tuple[str, int], tuple[int, int]]:
    """(problem id, sample) -> (byte offset, length) of its line in samples.jsonl; a later line
    for the same sample wins (a retried error), a torn last line is skipped."""
    out: dict[tuple[str, int], tuple[int, int]] = {}
    if not path.is_file():
        return out
    with open(path, "rb") as f:
        pos = 0
        for line in f:
            n = len(line)
            if line.endswith(b"\n") and line.strip():
                try:
                    rec = json.loads(line)
                    out[(str(rec["id"]), int(rec["sample"]))] = (pos, n)
                except (ValueError, KeyError, TypeError):
                    pass
            pos += n
    return out


# -- curves (inline SVG) --------------------------------------------------------------------------------

def _svg_plot(title: str, series: Sequence[tuple[str, str, Sequence[tuple[float, float]]]], xlabel: str) -> str:
    """A small line plot, x on a log2 axis, y in percent (0-100). series: (label, colour, points)."""
    W, H, L, R, T, B = 360, 220, 44, 12, 26, 36
    pts = [p for _, _, ps in series for p in ps]
    if not pts:
        return ""
    xs = [math.log2(max(x, 1)) for x, _ in pts]
    x0, x1 = min(xs), max(xs)
    x1 = x1 if x1 > x0 else x0 + 1

    def X(x: float) -> float:
        return L + (math.log2(max(x, 1)) - x0) / (x1 - x0) * (W - L - R)

    def Y(y: float) -> float:
        return T + (1 - y / 100) * (H - T - B)

    out = [f'<svg class="curve" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
           f'aria-label="{html.escape(title)}"><title>{html.escape(title)}</title>',
           f'<text x="{W / 2}" y="16" text-anchor="middle" class="t">{html.escape(title)}</text>']
    for v in (0, 25, 50, 75, 100):
        out.append(f'<line x1="{L}" x2="{W - R}" y1="{Y(v):.1f}" y2="{Y(v):.1f}" class="grid"/>'
                   f'<text x="{L - 4}" y="{Y(v) + 3:.1f}" text-anchor="end">{v}</text>')
    ticks = sorted({x for x, _ in pts})
    step = max(1, math.ceil(len(ticks) / 6))
    shown = ticks[::step]
    if shown[-1] != ticks[-1] and X(ticks[-1]) - X(shown[-1]) > 30:
        shown.append(ticks[-1])
    for x in shown:
        out.append(f'<text x="{X(x):.1f}" y="{H - B + 14}" text-anchor="middle">{int(x)}</text>')
    out.append(f'<text x="{(L + W - R) / 2}" y="{H - 4}" text-anchor="middle">{html.escape(xlabel)}</text>')
    for i, (label, colour, ps) in enumerate(series):
        if not ps:
            continue
        d = " ".join(f"{'M' if j == 0 else 'L'}{X(x):.1f},{Y(y):.1f}" for j, (x, y) in enumerate(ps))
        out.append(f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="1.6"/>')
        out += [f'<circle cx="{X(x):.1f}" cy="{Y(y):.1f}" r="2.2" fill="{colour}"><title>{html.escape(label)} '
                f'{int(x)}: {y:.1f}%</title></circle>' for x, y in ps]
        out.append(f'<text x="{L + 6}" y="{T + 12 + 12 * i}" style="fill:{colour}">{html.escape(label)}</text>')
    out.append("</svg>")
    return "".join(out)


def curves_svg(problems: Sequence[Mapping[str, Any]], max_tokens: int | None) -> str:
    """pass@k and cons@k (majority over the first k samples) against k, and pass@1 against the
    output-token budget (a sample counts at budget B if correct within B tokens)."""
    counts = [(len(p["samples"]), sum(1 for s in p["samples"] if s["correct"])) for p in problems]
    if not counts:
        return ""
    N = len(counts)
    ks = ks_for(min(n for n, _ in counts))
    passk = [(k, 100 * sum(pass_at_k(n, c, k) for n, c in counts) / N) for k in ks]
    cons = [(k, 100 * sum(majority(p["votes"][:k]) for p in problems) / N)
            for k in ks]
    parts = [_svg_plot("pass@k and cons@k", [("pass@k", "#1f77b4", passk), ("cons@k", "#d62728", cons)],
                       "k (samples per problem)")]
    if max_tokens:
        pts = [(B, 100 * v) for B, v in budget_curve(
            [[(bool(x["correct"]), x["tokens"]) for x in p["samples"]] for p in problems], max_tokens)]
        parts.append(_svg_plot("pass@1 by output-token budget", [("pass@1", "#2ca02c", pts)], "output tokens"))
    return "".join(parts)


# -- the page ---------------------------------------------------------------------------------------------

def _json_js(obj: Any) -> str:
    """JSON as a JavaScript expression for a data file."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    # U+2028/2029 end a line in older JavaScript parsers; "</" is harmless in a .js file but
    # escaping it keeps the data safe to inline
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("</", "<\\/")


def _stamp(run_dir: Path) -> dict[str, Any]:
    def sig(name: str) -> list[int] | None:
        p = run_dir / name
        if not p.is_file():
            return None
        st = p.stat()
        return [st.st_size, st.st_mtime_ns]

    return {"version": VERSION, **{n: sig(n) for n in ("samples.jsonl", "scores.jsonl", "metrics.json",
                                                          "manifest.json", "config.yaml")}}


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    atomic_write(path, text)


def _score_view(rec: Mapping[str, Any]) -> Any:
    """What the vote needs of a score record (sample, extracted answer, reason, correct)."""
    from types import SimpleNamespace

    return SimpleNamespace(sample=int(rec["sample"]), extracted=rec.get("extracted"),
                           reason=str(rec.get("reason")), correct=bool(rec.get("correct")))


def write_run_page(run_dir: Path, display: str | None = None, report_link: str = "report.md",
                   force: bool = False, same: SameAnswer | None = None) -> Path:
    """Write run_dir/index.html and its data files; returns the page's path. A page built from the
    same run files (viewer/stamp.json) is left as it is unless `force`. `same` is the task's answer
    equivalence, which groups the majority vote exactly as metrics.json does (string equality when
    not given)."""
    run_dir = Path(run_dir)
    page = run_dir / PAGE
    data_dir = run_dir / DATA_DIR
    stamp = _stamp(run_dir)
    stamp_path = data_dir / "stamp.json"
    if not force and page.is_file() and stamp_path.is_file():
        try:
            if json.loads(stamp_path.read_text(encoding="utf-8")) == stamp:
                return page
        except ValueError:
            pass
    store = RunStore(run_dir)
    manifest = store.read_manifest()
    metrics = json.loads(store.metrics_path.read_text(encoding="utf-8")) if store.metrics_path.is_file() else {}
    protocol = dict(manifest.get("protocol") or metrics.get("protocol") or {})

    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _, rec in read_jsonl(store.scores_path):
        by_id[str(rec["id"])].append(rec)
    texts = load_problems(run_dir)
    offsets = sample_offsets(store.samples_path)
    graders = any(isinstance(r.get("by_grader"), Mapping) for recs in by_id.values() for r in recs)

    problems: list[dict[str, Any]] = []
    for i, pid in enumerate(sorted(by_id)):
        recs = sorted(by_id[pid], key=lambda r: int(r["sample"]))
        samples = []
        for r in recs:
            extracted = r.get("extracted")
            samples.append({"sample": int(r["sample"]), "extracted": extracted, "correct": bool(r.get("correct")),
                            "reason": str(r.get("reason")), "rule": r.get("rule"),
                            "tokens": r.get("output_tokens"), "finish": r.get("finish_reason"),
                            "by_grader": r.get("by_grader")})
        pv = votes([_score_view(r) for r in recs], same)
        win = majority_group(pv)
        maj_shown = next((s["extracted"] for s, (g, _) in zip(samples, pv, strict=True) if g == win), None)
        for s, (g, _) in zip(samples, pv, strict=True):
            s["off_majority"] = g is not None and g != win
        gold = (texts.get(pid) or {}).get("gold")
        problems.append({"i": i, "id": pid, "samples": samples, "maj": maj_shown, "votes": pv,
                         "maj_ok": majority(pv), "gold": gold})

    # summary: compact rows, one per sample: [sample, extracted, correct, reason, rule, tokens, finish, flags]
    rows = []
    for p in problems:
        srows = []
        for s in p["samples"]:
            flags = ""
            flags += "w" if not s["correct"] else ""
            flags += "t" if s["finish"] == "length" or s["reason"] == "truncated" else ""
            flags += "n" if s["extracted"] is None else ""
            flags += "s" if s["off_majority"] else ""  # answered, not the majority
            flags += "g" if _grader_split(s["by_grader"]) else ""
            srows.append([s["sample"], s["extracted"], int(s["correct"]), s["reason"], s["rule"], s["tokens"],
                          s["finish"], flags])
        gold = p["gold"]
        rows.append({"id": p["id"], "gold": None if gold is None else gold[:GOLD_PREVIEW],
                     "maj": p["maj"], "maj_ok": p["maj_ok"], "samples": srows})
    n_samples = sum(len(p["samples"]) for p in problems)
    mi = manifest.get("model") or {}
    if display is None:
        display = _display_name(run_dir) or mi.get("name")
    summary: dict[str, Any] = {
        "run": {"id": manifest.get("run_id") or run_dir.name, "model": display,
                "model_path": mi.get("path"), "task": (manifest.get("task") or {}).get("name"),
                "benchmark": (manifest.get("task") or {}).get("benchmark"), "protocol": protocol,
                "pass1": metrics.get("pass@1"), "se": metrics.get("pass@1_se_generation"),
                "cons": metrics.get("cons@k"), "k": metrics.get("k"), "problems": len(problems),
                "samples": n_samples, "report": report_link, "has_texts": bool(texts),
                "has_graders": graders},
        "problems": rows,
    }

    data_dir.mkdir(parents=True, exist_ok=True)
    keep = {"summary.js", "stamp.json"}
    with open(store.samples_path, "rb") if store.samples_path.is_file() else _Nothing() as f:
        for p in problems:
            name = f"p-{p['i']:06d}.js"
            keep.add(name)
            comps = []
            for s in p["samples"]:
                text, reasoning = "", None
                where = offsets.get((p["id"], s["sample"]))
                if where is not None and f is not None:
                    f.seek(where[0])
                    rec = json.loads(f.read(where[1]))
                    text, reasoning = rec.get("text") or "", rec.get("reasoning")
                comps.append({"text": text, "reasoning": reasoning, "by_grader": s["by_grader"]})
            info = texts.get(p["id"]) or {}
            chunk = {"id": p["id"], "text": info.get("text"), "gold": info.get("gold"), "completions": comps}
            _write(data_dir / name, f"VIEWER_CHUNK({p['i']},{_json_js(chunk)});\n")
    _write(data_dir / "summary.js", f"VIEWER_SUMMARY({_json_js(summary)});\n")
    for old in data_dir.glob("p-*.js"):  # problems that are gone (a rescored run with fewer ids)
        if old.name not in keep:
            old.unlink()
    curves = curves_svg(problems, int(protocol.get("max_tokens") or 0) or None)
    _write(page, render_page(summary["run"], curves))
    _write(stamp_path, json.dumps(_stamp(run_dir), sort_keys=True) + "\n")
    return page


def _display_name(run_dir: Path) -> str | None:
    import yaml

    try:
        cfg = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8")) or {}
        return (cfg.get("model") or {}).get("display_name")
    except (OSError, yaml.YAMLError):
        return None


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def render_page(run: Mapping[str, Any], curves: str) -> str:
    css = (ASSETS / "viewer.css").read_text(encoding="utf-8")
    js = (ASSETS / "viewer.js").read_text(encoding="utf-8")
    template = (ASSETS / "page.html").read_text(encoding="utf-8")
    title = f"{run.get('model')} on {run.get('task')}: samples of run {run.get('id')}"
    return (template.replace("{{TITLE}}", html.escape(title))
            .replace("{{CSS}}", css)
            .replace("{{CURVES}}", curves)
            .replace("{{REPORT}}", html.escape(str(run.get("report") or "report.md")))
            .replace("{{DATA}}", f"{DATA_DIR}/summary.js")
            .replace("{{JS}}", js.replace("</script", "<\\/script")))


def page_link(run_dir: Path, from_dir: Path) -> str:
    """The page's path relative to `from_dir` (for links in reports)."""
    return os.path.relpath(Path(run_dir) / PAGE, from_dir).replace(os.sep, "/")
