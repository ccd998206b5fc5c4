"""`python -m harness swe-validate TASK`: the gold patch of every instance must resolve it and an
empty patch must not; FAIL_TO_PASS tests must fail without the fix. Prints a table.

    python -m harness swe-validate swe_mini [--workers N] [--instances ID ...] [task.key=value ...]

Exit status 0 when gold resolves 100% and empty 0%, 1 otherwise.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from harness.swe import ExecResult, Instance

_TASK: Any = None


def _init(task: Any) -> None:
    global _TASK
    _TASK = task


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
    plain["task"].setdefault("context", {})["mode"] = "none"  # prompts are not needed here
    return build_task(plain["task"], prompt_config(plain))


def run(name: str, overrides: list[str], workers: int, instances: list[str] | None) -> int:
    from rich.console import Console
    from rich.table import Table

    task = compose_task(name, overrides)
    problems = task.load()
    if instances:
        problems = [p for p in problems if p.id in set(instances)]
    rows = [p.reference for p in problems]
    t0 = time.time()
    if workers > 1 and len(rows) > 1:
        import multiprocessing as mp

        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init,
                                 initargs=(task,)) as pool:
            results = list(pool.map(_check, rows))
    else:
        _init(task)
        results = [_check(r) for r in rows]
    wall = time.time() - t0

    table = Table(title=f"swe-validate {name}")
    for col in ("instance", "gold", "empty", "F2P fail before fix", "seconds (gold / empty / base)"):
        table.add_column(col)
    ok_gold = ok_empty = ok_base = 0
    for iid, gold, empty, base in results:
        f2p = base.tests.get("FAIL_TO_PASS", {"success": [], "failure": []})
        base_ok = base.status == "ok" and not f2p["success"]
        ok_gold += gold.resolved
        ok_empty += not empty.resolved
        ok_base += base_ok
        table.add_row(iid, gold.summary()[:70], empty.summary()[:40],
                      "yes" if base_ok else f"NO: {base.summary()[:60]}",
                      f"{gold.seconds:.2f} / {empty.seconds:.2f} / {base.seconds:.2f}")
    n = len(results)
    console = Console(width=None if Console().is_terminal else 150)
    console.print(table)
    summary = Table(title="summary")
    for col in ("patches", "resolved", "expected"):
        summary.add_column(col)
    summary.add_row("gold", f"{ok_gold}/{n} ({100 * ok_gold / max(n, 1):.0f}%)", "100%")
    summary.add_row("empty", f"{n - ok_empty}/{n} ({100 * (n - ok_empty) / max(n, 1):.0f}%)", "0%")
    summary.add_row("F2P failing before the fix", f"{ok_base}/{n}", f"{n}/{n}")
    console.print(summary)
    per = sum(g.seconds for _, g, _, _ in results) / max(n, 1)
    console.print(f"{n} instances in {wall:.1f}s wall ({workers} workers); gold attempt {per:.2f}s per instance")
    return 0 if (ok_gold == n and ok_empty == n and ok_base == n) else 1


def main() -> None:
    parser = argparse.ArgumentParser(prog="harness swe-validate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", help="a task config of family swebench, e.g. swe_mini")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. task.repo_cache=DIR")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--instances", nargs="+", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(run(args.task, args.overrides, args.workers, args.instances))


if __name__ == "__main__":
    main()
