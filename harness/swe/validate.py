"""`python -m harness swe-validate TASK`: the gold patch of every instance must resolve it, an
empty patch must not, and the unpatched baseline must not either, with its FAIL_TO_PASS tests
really failing (the tests ran: the log parser found results). Prints a table per instance with
times and the FAIL_TO_PASS / PASS_TO_PASS ids that could not be matched in the log.

    python -m harness swe-validate swe_mini [--workers N] [--instances ID ...] [--json FILE] [task.key=value ...]

Missing environments are built first (local executor; needs the package index once).
Exit status 0 when gold resolves 100%, empty and baseline 0%, F2P failing before the fix 100%.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from harness.errors import HarnessError
from harness.swe import ExecResult, Instance

_TASK: Any = None


def _init(task: Any, worker: bool = False) -> None:
    global _TASK
    _TASK = task
    if worker:  # a killed swe-validate takes its workers, and they their test processes, along
        from harness.swe.executors.local import install_cleanup_handlers, set_pdeathsig

        set_pdeathsig(signal.SIGTERM)
        install_cleanup_handlers()


def _check(row: dict[str, Any]) -> tuple[str, ExecResult, ExecResult, ExecResult]:
    inst = Instance.from_row(row)
    ex = _TASK.executor()
    gold = ex.evaluate(inst, inst.patch)
    empty = ex.evaluate(inst, "")
    # "Empty" for the executor is no patch at all; to check that FAIL_TO_PASS tests really fail
    # before the fix, run the tests on the unchanged repository with a no-op patch.
    baseline = ex.evaluate(inst, _noop_patch(inst))
    return inst.instance_id, gold, empty, baseline


def _noop_patch(inst: Instance) -> str:
    """A patch that adds an unused file: applies cleanly and changes no behaviour."""
    return ("diff --git a/.swe_validate_noop b/.swe_validate_noop\nnew file mode 100644\n"
            "--- /dev/null\n+++ b/.swe_validate_noop\n@@ -0,0 +1 @@\n+no-op\n")


def compose_task(name: str, overrides: list[str]):
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from harness.cli import CONFIG_DIR
    from harness.runner import prompt_config
    from harness.tasks import build_task

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("eval", overrides=[f"task={name}", *overrides])
    plain = OmegaConf.to_container(cfg, resolve=True)
    ctx = plain["task"].setdefault("context", {})
    ctx["mode"], ctx["tokenizer"] = "none", None  # prompts are not needed here: no tokenizer either
    return build_task(plain["task"], prompt_config(plain))


def baseline_ok(base: ExecResult, n_f2p: int) -> tuple[bool, str]:
    """Did all FAIL_TO_PASS tests really fail on the unchanged repository (the tests ran)?"""
    f2p = base.tests.get("FAIL_TO_PASS", {"success": [], "failure": []})
    if base.status not in ("ok", "no_patch"):
        return False, f"NO: {base.summary()[:60]}"
    if not base.collected:
        return False, "NO: no test results in the log (nothing ran)"
    if f2p["success"]:
        return False, f"NO: {len(f2p['success'])} pass already"
    if len(f2p["failure"]) != n_f2p:
        return False, "NO: swebench graded no FAIL_TO_PASS test (no usable test results)"
    return True, f"yes ({len(f2p['failure'])} failing, {base.collected} collected)"


def build_envs(task: Any, rows: list[dict[str, Any]]) -> None:
    """The local executor's missing environments, built once before the attempts."""
    if (task.executor_cfg.get("kind") or "local") != "local":
        return
    from harness.swe.envs import EnvStore

    store = EnvStore.from_cfg(task.executor_cfg.get("envs"))
    done: set[str] = set()
    for row in rows:
        spec = store.spec_for(Instance.from_row(row))
        if spec.key in done:
            continue
        done.add(spec.key)
        if store.get(spec) is None:
            print(f"building environment {spec.key} ...", flush=True)
            store.build(spec, task.repos())


def run(name: str, overrides: list[str], workers: int, instances: list[str] | None,
        json_out: str | None = None) -> int:
    from rich.console import Console
    from rich.table import Table

    from harness.swe.executors.local import install_cleanup_handlers

    install_cleanup_handlers()
    task = compose_task(name, overrides)
    problems = task.load()
    if instances:
        problems = [p for p in problems if p.id in set(instances)]
    rows = [p.reference for p in problems]
    build_envs(task, rows)
    t0 = time.time()
    if workers > 1 and len(rows) > 1:
        import multiprocessing as mp

        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init,
                                 initargs=(task, True)) as pool:
            results = list(pool.map(_check, rows))
    else:
        _init(task)
        results = [_check(r) for r in rows]
    wall = time.time() - t0

    by_id = {r["instance_id"]: r for r in rows}
    table = Table(title=f"swe-validate {name}")
    for col in ("instance", "version", "gold", "empty", "baseline", "F2P fail before fix",
                "seconds (gold / empty / base)", "unmatched ids"):
        table.add_column(col)
    ok_gold = ok_empty = ok_base = ok_f2p = 0
    report = []
    for iid, gold, empty, base in results:
        f2p_ok, f2p_text = baseline_ok(base, len(Instance.from_row(by_id[iid]).fail_to_pass))
        ok_gold += gold.resolved
        ok_empty += not empty.resolved
        ok_base += not base.resolved
        ok_f2p += f2p_ok
        unmatched = sorted(set(gold.unmatched))
        table.add_row(iid, str(by_id[iid].get("version")), gold.summary()[:70], empty.summary()[:40],
                      base.summary()[:40], f2p_text,
                      f"{gold.seconds:.1f} / {empty.seconds:.1f} / {base.seconds:.1f}",
                      (f"{len(unmatched)}: " + ", ".join(unmatched[:3])) if unmatched else "-")
        report.append({"instance_id": iid, "repo": by_id[iid]["repo"], "version": by_id[iid].get("version"),
                       "gold": gold.summary(), "gold_resolved": gold.resolved, "empty": empty.summary(),
                       "empty_resolved": empty.resolved, "baseline": base.summary(),
                       "baseline_resolved": base.resolved, "f2p_failing_before": f2p_ok,
                       "collected_before": base.collected, "seconds": [gold.seconds, empty.seconds, base.seconds],
                       "unmatched_gold": unmatched,
                       # the end of the log of each attempt that did not go as expected
                       "log_tails": {k: r.log_tail[-2000:] for k, r, bad in
                                     (("gold", gold, not gold.resolved), ("empty", empty, empty.resolved),
                                      ("baseline", base, not f2p_ok)) if bad}})
    n = len(results)
    console = Console(width=None if Console().is_terminal else 200)
    console.print(table)
    summary = Table(title="summary")
    for col in ("patches", "resolved", "expected"):
        summary.add_column(col)
    summary.add_row("gold", f"{ok_gold}/{n} ({100 * ok_gold / max(n, 1):.0f}%)", "100%")
    summary.add_row("empty", f"{n - ok_empty}/{n} ({100 * (n - ok_empty) / max(n, 1):.0f}%)", "0%")
    summary.add_row("baseline (unpatched)", f"{n - ok_base}/{n}", "0%")
    summary.add_row("F2P failing before the fix", f"{ok_f2p}/{n}", f"{n}/{n}")
    console.print(summary)
    per = sum(g.seconds for _, g, _, _ in results) / max(n, 1)
    console.print(f"{n} instances in {wall:.1f}s wall ({workers} workers); gold attempt {per:.2f}s per instance")
    if json_out:
        with open(json_out, "w") as f:
            json.dump(report, f, indent=1)
    return 0 if (ok_gold == n and ok_empty == n and ok_base == n and ok_f2p == n) else 1


def main() -> None:
    parser = argparse.ArgumentParser(prog="harness swe-validate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", help="a task config of family swebench, e.g. swe_mini")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. task.repo_cache=DIR")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--instances", nargs="+", default=None)
    parser.add_argument("--json", default=None, help="also write the per-instance results to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        code = run(args.task, args.overrides, args.workers, args.instances, args.json)
    except HarnessError as e:
        print(f"error: {e}", file=sys.stderr)
        code = 2
    sys.exit(code)


if __name__ == "__main__":
    main()
