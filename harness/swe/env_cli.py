"""`python -m harness swe-env build|list`: the test environments of SWE-bench instances.

    python -m harness swe-env build TASK [task.key=value ...] [--instances ID ...] [--force]
    python -m harness swe-env list [--root DIR]

`build` resolves the environment of every instance of the task (configs/swe/envs/<owner__name>.yaml,
by the instance's repo and version), and builds those that are missing: a virtualenv from an
interpreter found on the machine, the pinned packages from the package index (wheels cached),
the repository's dependencies, and the cache step's downloads. Run it where the package index is
reachable; evaluation later is offline. Concurrent builds of one environment wait for each other.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from harness.errors import HarnessError


def build(task_name: str, overrides: list[str], instances: list[str] | None, force: bool) -> int:
    from harness.swe import Instance
    from harness.swe.envs import EnvSpec, EnvStore
    from harness.swe.validate import compose_task

    task = compose_task(task_name, overrides)
    rows = [p.reference for p in task.load()]
    if instances:
        rows = [r for r in rows if r["instance_id"] in set(instances)]
    store = EnvStore.from_cfg(task.executor_cfg.get("envs"))
    repos = task.repos()
    specs: dict[str, EnvSpec] = {}
    users: dict[str, list[str]] = {}
    for row in rows:
        inst = Instance.from_row(row)
        spec = store.spec_for(inst)
        specs.setdefault(spec.key, spec)
        users.setdefault(spec.key, []).append(inst.instance_id)
    failed = 0
    for i, (key, spec) in enumerate(specs.items(), 1):
        have = store.get(spec) is not None
        print(f"[{i}/{len(specs)}] {key} ({len(users[key])} instances): "
              f"{'present' if have and not force else 'building'}", flush=True)
        if have and not force:
            continue
        t0 = time.time()
        try:
            env = store.build(spec, repos, force=force)
            print(f"    built in {time.time() - t0:.0f}s: {env.path}", flush=True)
        except HarnessError as e:
            failed += 1
            print(f"    FAILED: {e}", flush=True)
    print(f"{len(specs) - failed}/{len(specs)} environments ready under {store.root}")
    return 1 if failed else 0


def list_envs(root: str) -> int:
    from harness.swe.envs import EnvStore

    envs = EnvStore(root).list()
    for e in envs:
        print(f"{e['key']:<50} python {e.get('python_version')}  {e['size_mb']:>8.1f} MB  "
              f"built in {e.get('build_seconds')}s  {e['path']}")
    print(f"{len(envs)} environments under {root}")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="harness swe-env", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the environments a task's instances need")
    b.add_argument("task")
    b.add_argument("overrides", nargs="*")
    b.add_argument("--instances", nargs="+", default=None)
    b.add_argument("--force", action="store_true", help="rebuild environments that exist")
    ls = sub.add_parser("list", help="list built environments")
    ls.add_argument("--root", default=".cache/swe/envs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        code = build(args.task, args.overrides, args.instances, args.force) if args.cmd == "build" \
            else list_envs(args.root)
    except HarnessError as e:
        print(f"error: {e}", file=sys.stderr)
        code = 2
    sys.exit(code)


if __name__ == "__main__":
    main()
