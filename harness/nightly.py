"""The nightly job: evaluate every entry of a plan, then rebuild the leaderboard.

    python -m harness nightly [--plan configs/nightly/gpu.yaml] [--only NAME ...] [--dry-run]

A plan lists evaluations (model, task, sampling, backend, extra Hydra overrides). Each one runs in
its own process (so one model's GPU memory is freed before the next loads) through the same entry
point as `make eval`; a failure is logged and the others still run. Interrupted runs resume the
next night (a rerun of the same configuration continues its latest unfinished run); finished ones
get a new run, and the leaderboard shows the latest. The exit code is 1 when any entry failed.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, HarnessError
from harness.paths import CONFIG_DIR, work_dir

log = logging.getLogger("harness.nightly")

ROOT = work_dir()
DEFAULT_PLAN = CONFIG_DIR / "nightly" / "gpu.yaml"
KEYS = {"name", "model", "task", "sampling", "backend", "args"}


@dataclass
class Entry:
    name: str
    model: str
    task: str
    sampling: str | None = None
    backend: str | None = None
    args: list[str] = field(default_factory=list)

    def overrides(self, results_dir: str | None) -> list[str]:
        out = [f"model={self.model}", f"task={self.task}"]
        out += [f"sampling={self.sampling}"] if self.sampling else []
        out += [f"backend={self.backend}"] if self.backend else []
        out += list(self.args)
        out += [f"results_dir={results_dir}"] if results_dir else []
        return out


def load_plan(path: Path) -> list[Entry]:
    from omegaconf import OmegaConf

    if not path.is_file():
        raise ConfigError("--plan", f"plan file not found: {path}")
    data = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    runs = data.get("runs") if isinstance(data, Mapping) else None
    if not isinstance(runs, list) or not runs:
        raise ConfigError("--plan", f"{path}: `runs` must be a non-empty list")
    entries, names = [], set()
    for i, r in enumerate(runs):
        where = f"{path}: runs[{i}]"
        if not isinstance(r, Mapping):
            raise ConfigError("--plan", f"{where}: must be a mapping")
        unknown = sorted(set(r) - KEYS)
        if unknown:
            raise ConfigError("--plan", f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(KEYS))})")
        for key in ("model", "task"):
            if not r.get(key):
                raise ConfigError("--plan", f"{where}: `{key}` is required")
        args = r.get("args") or []
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise ConfigError("--plan", f"{where}: `args` must be a list of Hydra overrides")
        name = str(r.get("name") or f"{r['model']}/{r['task']}")
        if name in names:
            raise ConfigError("--plan", f"{where}: duplicate name {name!r}")
        names.add(name)
        entries.append(Entry(name=name, model=str(r["model"]), task=str(r["task"]),
                             sampling=r.get("sampling"), backend=r.get("backend"), args=list(args)))
    return entries


NOTHING_SCORED = 3  # the eval's exit code when every sample failed to generate (no number to report)


def outcome(rc: int) -> str:
    if rc == 0:
        return "ok"
    if rc == NOTHING_SCORED:
        return "NOTHING SCORED (every sample failed to generate)"
    return f"FAILED (exit {rc})"


def run_plan(entries: Iterable[Entry], results_dir: str | None, log_dir: Path, dry_run: bool = False) -> list[dict[str, Any]]:
    outcomes = []
    log_dir.mkdir(parents=True, exist_ok=True)
    for e in entries:
        cmd = [sys.executable, "-m", "harness", *e.overrides(results_dir), "progress=false"]
        if dry_run:
            print(" ".join(cmd))
            continue
        logfile = log_dir / (e.name.replace("/", "__") + ".log")
        log.info("%s: starting (log: %s)", e.name, logfile)
        t0 = time.time()
        with open(logfile, "w", encoding="utf-8") as f:
            rc = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT).returncode
        took = time.time() - t0
        (log.info if rc == 0 else log.error)("%s: %s in %.0fs", e.name, outcome(rc), took)
        outcomes.append({"name": e.name, "returncode": rc, "seconds": round(took, 1), "log": str(logfile)})
    return outcomes


def main(argv: Iterable[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="harness nightly", description=__doc__.split("\n\n")[0])
    ap.add_argument("--plan", type=Path, default=DEFAULT_PLAN, help="default: configs/nightly/gpu.yaml")
    ap.add_argument("--only", nargs="+", default=None, help="run only these entry names")
    ap.add_argument("--results-dir", default=None, help="default: the eval config's results_dir (results)")
    ap.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    ap.add_argument("--no-report", action="store_true", help="do not rebuild the leaderboard at the end")
    args = ap.parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        entries = load_plan(args.plan)
    except ConfigError as e:
        log.error("%s", e)
        sys.exit(2)
    if args.only:
        unknown = sorted(set(args.only) - {e.name for e in entries})
        if unknown:
            log.error("no entry named %s in %s", ", ".join(unknown), args.plan)
            sys.exit(2)
        entries = [e for e in entries if e.name in args.only]
    results_dir = args.results_dir or "results"
    log_dir = Path(results_dir) / "nightly-logs"
    outcomes = run_plan(entries, args.results_dir, log_dir, dry_run=args.dry_run)
    if args.dry_run:
        from harness.plan import plan_text  # what each entry can settle, and its cost

        try:
            print("\n" + plan_text([e.overrides(None) for e in entries], Path(results_dir)), end="")
        except HarnessError as e:
            log.error("no plan: %s", e)
        return
    if not args.no_report:
        from harness import report

        report.main(["--results-dir", results_dir])
    failed = [o for o in outcomes if o["returncode"] != 0]
    empty = [o for o in failed if o["returncode"] == NOTHING_SCORED]
    print(f"nightly: {len(outcomes) - len(failed)} of {len(outcomes)} evaluations succeeded"
          + (f"; nothing scored: {', '.join(o['name'] for o in empty)}" if empty else "")
          + (f"; failed: {', '.join(o['name'] for o in failed if o not in empty)}" if len(failed) > len(empty) else "")
          + (f" (logs in {log_dir})" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
