"""The console summary printed at the end of a run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def render(m: Mapping[str, Any], run_dir: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=False, width=None if Console().is_terminal else 160)
    t = Table(title="evaluation summary", show_lines=False)
    swe = m.get("resolved") is not None
    headline = "resolved ± SE" if swe else "pass@1 ± SE"
    for col in ("task", "model", headline, f"cons@{m.get('k', 'k')}", "truncated %",
                "no answer %", "tokens/sample", "problems × samples", "wall time"):
        t.add_column(col, justify="right" if col not in ("task", "model") else "left")
    if m.get("shards_missing") is not None:  # a shard of a run whose other shards are not all done
        waiting = ", ".join(m["shards_missing"]) or "none (another shard is scoring the run)"
        console.print(f"shard {m.get('shard')} complete ({m.get('generated', 0)} samples generated); "
                      f"shards still missing: {waiting}; run directory: {run_dir}")
        return
    if m.get("reused"):
        console.print(f"[green]already complete[/green]: nothing generated, results of {m.get('run_id')}")
    if not m.get("problems"):
        console.print(f"[yellow]no samples were scored[/yellow]; run directory: {run_dir}")
        return
    value, se = m["pass@1"], m.get("pass@1_se_generation")
    if swe:  # over all instances: those without a sample count as unresolved
        value, se = m["resolved"], m.get("resolved_se_generation")
    tokens = m.get("mean_output_tokens")
    spp = m["samples_per_problem"]
    k = str(spp["max"]) if spp["min"] == spp["max"] else f"{spp['min']}-{spp['max']}"
    t.add_row(
        str(m.get("task")), str(m.get("model")),
        f"{_pct(value)} ± {_pct(se)}",
        _pct(m.get("cons@k")),
        _pct(m.get("truncated_rate")), _pct(m.get("no_answer_rate")),
        "-" if tokens is None else f"{tokens:.0f}",
        f"{m['problems']} × {k}",
        f"{m.get('wall_seconds', 0):.1f}s",
    )
    console.print(t)
    console.print(f"SE: generation (questions fixed); question SE = {_pct(m.get('pass@1_se_question'))}")
    if swe:
        d = m.get("swe") or {}
        console.print(
            f"patches: applied {d.get('applied', 0)}, rejected {d.get('rejected', 0)}, "
            f"no patch {d.get('no_patch', 0)}, apply failed {d.get('apply_failed', 0)}, "
            f"timed out {d.get('timed_out', 0)}, errored {d.get('errored', 0)}")
    if m.get("problems_without_samples"):
        console.print(f"[yellow]{len(m['problems_without_samples'])} problems had no samples[/yellow]")
    u = m.get("usage") or {}
    parts = [f"tokens in {u.get('prompt_tokens', 0):,}", f"out {u.get('output_tokens', 0):,}"]
    for key, label in (("requests", "requests"), ("retries", "retries"), ("errors", "errored")):
        if u.get(key):
            parts.append(f"{label} {u[key]:,}")
    if u.get("cost_usd") is not None:
        parts.append(f"est. cost ${u['cost_usd']:,.2f}")
    if u.get("output_tokens_per_second"):
        parts.append(f"{u['output_tokens_per_second']:,.0f} tok/s")
    if u.get("gpu_hours"):
        parts.append(f"{u['gpu_hours']:.2f} GPU-h")
    console.print("usage: " + ", ".join(parts))
    if u.get("prompt_too_long"):
        console.print(f"[yellow]{u['prompt_too_long']} samples not generated: prompt + max_tokens exceed "
                      f"the model's context (recorded as errors, see run.log)[/yellow]")
    if u.get("max_tokens_clamped"):
        console.print(f"[yellow]{u['max_tokens_clamped']} samples had max_tokens reduced to fit the "
                      f"model's context[/yellow]")
    console.print(f"run directory: {run_dir}")
