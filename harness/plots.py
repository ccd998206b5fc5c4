"""Leaderboard and run plots (matplotlib, Agg backend), each written as PNG and SVG.

Byte-stable across reruns: no dates in the metadata, a fixed SVG id salt, sorted inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from harness.metrics import Vote, ks_for, majority, pass_at_k  # noqa: E402

FORMATS = ("png", "svg")
_RC = {
    "svg.hashsalt": "harness-report",
    "svg.fonttype": "none",
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 100,
}
_MARKERS = ("D", "s", "^", "v", "P", "X", "*")


def _save(fig, base: Path) -> list[Path]:
    base.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for fmt in FORMATS:
        path = base.with_suffix(f".{fmt}")
        meta = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(path, format=fmt, metadata=meta, bbox_inches="tight")
        out.append(path)
    plt.close(fig)
    return out


def claims_vs_measured(title: str, models: Sequence[str], claims: Sequence[Mapping[str, Any]],
                       measured: Sequence[Mapping[str, Any]], z: float, base: Path) -> list[Path]:
    """One column per model: claimed values (hollow markers, one per source) and measured values
    with their z * SE error bars (one colour per measuring source)."""
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(models) + 2.5), 4.2))
        xs = {m: i for i, m in enumerate(models)}
        claim_sources = sorted({c["label"] for c in claims})
        for j, label in enumerate(claim_sources):
            pts = [(xs[c["model"]] - 0.18, 100 * c["value"]) for c in claims if c["label"] == label]
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], marker=_MARKERS[j % len(_MARKERS)],
                       facecolors="none", edgecolors="black", s=36, label=f"claim: {label}", zorder=3)
        sources = sorted({m["label"] for m in measured})
        n = max(1, len(sources))
        for j, label in enumerate(sources):
            rows = [m for m in measured if m["label"] == label]
            off = 0.05 + 0.3 * (j + 0.5) / n
            ax.errorbar([xs[m["model"]] + off for m in rows], [100 * m["value"] for m in rows],
                        yerr=[100 * z * m["se"] for m in rows], fmt="o", ms=4, capsize=3,
                        color=f"C{j}", label=f"measured: {label}", zorder=4)
        ax.set_xticks(range(len(models)))
        ax.set_xticklabels(models, rotation=30, ha="right")
        ax.set_xlim(-0.6, len(models) - 0.4)
        ax.set_ylabel("%")
        ax.set_title(f"{title}: claimed vs measured (bars: ±{z:.2f} SE)")
        ax.legend(fontsize=7, loc="best")
        return _save(fig, base)


def cons_first_k(votes: Sequence[Sequence[Vote]], k: int) -> float:
    """cons@k over the first k samples of each problem: metrics.majority on the first k of the
    problem's votes (metrics.votes), the rule behind cons@k in metrics.json."""
    return sum(majority(v[:k]) for v in votes) / len(votes)


def curves(title: str, runs: Sequence[Mapping[str, Any]], base: Path) -> list[Path]:
    """pass@k (unbiased estimator) and cons@k (majority vote over the first k samples of each
    problem) against k, one line pair per run. Each run: label, counts [(n, c)], answers
    [metrics.votes(...) per problem, in sample order]."""
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(6.0, 4.0))
        for j, r in enumerate(runs):
            n_min = min(n for n, _ in r["counts"])
            ks = ks_for(n_min)
            N = len(r["counts"])
            passk = [100 * sum(pass_at_k(n, c, k) for n, c in r["counts"]) / N for k in ks]
            ax.plot(ks, passk, marker="o", ms=3, color=f"C{j}", label=f"pass@k {r['label']}")
            if r.get("answers"):
                cons = [100 * cons_first_k(r["answers"], k) for k in ks]
                ax.plot(ks, cons, marker="s", ms=3, ls="--", color=f"C{j}", label=f"cons@k {r['label']}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("k (samples per problem)")
        ax.set_ylabel("%")
        ax.set_title(f"{title}: pass@k and cons@k")
        ax.legend(fontsize=7, loc="best")
        return _save(fig, base)


def budget(title: str, runs: Sequence[Mapping[str, Any]], base: Path) -> list[Path]:
    """pass@1 as a function of the output-token budget B: a sample counts as correct at B only
    if it was correct and used at most B tokens. Each run: label, points [(B, pass@1)]."""
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(6.0, 4.0))
        for j, r in enumerate(runs):
            xs = [b for b, _ in r["points"]]
            ys = [100 * p for _, p in r["points"]]
            ax.plot(xs, ys, marker="o", ms=3, color=f"C{j}", label=r["label"])
        ax.set_xscale("log", base=2)
        ax.set_xlabel("output-token budget")
        ax.set_ylabel("pass@1 (%)")
        ax.set_title(f"{title}: accuracy vs token budget")
        ax.legend(fontsize=7, loc="best")
        return _save(fig, base)
