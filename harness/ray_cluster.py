"""Start a Ray cluster over the nodes of a Slurm allocation and run one evaluation on it.

    python -m harness ray-cluster [--dry-run] [--nodes h1,h2] [--gpus-per-node 8] [--port 6379] -- OVERRIDES...
    sbatch scripts/slurm/ray_cluster.sbatch model=deepseek-r1-2node task=aime24 sampling=r1

For models too large for one node (DeepSeek-R1/V3: tensor parallel 8 x pipeline parallel 2 over two
8-GPU nodes) vLLM runs its workers as Ray actors (`distributed_executor_backend: ray`). Inside the
allocation this command:

1. starts the Ray head on the first node (`srun -w <node> ray start --head --block`, in the
   background) and a Ray worker on every other node;
2. waits until the cluster reports every node's GPUs (`ray status`);
3. runs `python -m harness OVERRIDES` on this node (the batch script runs on the first node) with
   `RAY_ADDRESS` pointing at the head, so that vLLM joins that cluster;
4. stops Ray on every node, whatever the outcome.

The nodes come from `scontrol show hostnames $SLURM_JOB_NODELIST` unless given with --nodes.
Before anything starts, the evaluation's config is composed and its tensor x pipeline parallel
size checked against the GPUs of the allocation. `--dry-run` prints the commands and starts
nothing.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import socket
import subprocess
import sys
import time
from typing import Any

log = logging.getLogger("harness.ray_cluster")


def slurm_nodes() -> list[str]:
    nodelist = os.environ.get("SLURM_JOB_NODELIST") or os.environ.get("SLURM_NODELIST")
    if not nodelist:
        raise SystemExit("ray-cluster: no Slurm allocation (SLURM_JOB_NODELIST is unset); "
                         "run inside sbatch/salloc or give --nodes h1,h2")
    out = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, check=True)
    return out.stdout.split()


def node_ip(node: str, dry_run: bool) -> str:
    if dry_run:
        return node
    try:
        return socket.gethostbyname(node)
    except OSError:
        return node


def plan(nodes: list[str], gpus_per_node: int, port: int, overrides: list[str], head_ip: str,
         ray: str = "ray", python: str = sys.executable) -> dict[str, Any]:
    """The commands, in order: background starts, the wait, the run, the stops."""
    head, workers = nodes[0], nodes[1:]
    address = f"{head_ip}:{port}"

    def on(node: str, *cmd: str) -> list[str]:
        return ["srun", "--nodes=1", "--ntasks=1", "--overlap", "-w", node, *cmd]

    starts = [on(head, ray, "start", "--head", f"--node-ip-address={head_ip}", f"--port={port}",
                 f"--num-gpus={gpus_per_node}", "--block")]
    starts += [on(w, ray, "start", f"--address={address}", f"--num-gpus={gpus_per_node}", "--block") for w in workers]
    return {
        "address": [address],
        "start": starts,
        "wait": [ray, "status", f"--address={address}"],
        "run": ["env", f"RAY_ADDRESS={address}", python, "-m", "harness", *overrides],
        "stop": [on(n, ray, "stop", "--force") for n in nodes],
    }


def needed_gpus(overrides: list[str]) -> tuple[int, str]:
    """GPUs one engine of the composed config needs, and the model name."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from harness.cli import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = OmegaConf.to_container(compose(config_name="eval", overrides=overrides), resolve=True)
    b = cfg["backend"]
    tp = int(b.get("tensor_parallel_size") or 1)
    pp = int(b.get("pipeline_parallel_size") or 1)
    dp = int(b.get("data_parallel_size") or 1)
    if b.get("name") == "vllm" and tp * pp > 1 and b.get("distributed_executor_backend") != "ray":
        log.warning("backend.distributed_executor_backend is not ray: vLLM will not use the Ray cluster "
                    "(use a *-2node model config or backend.distributed_executor_backend=ray)")
    return tp * pp * dp, str(cfg["model"]["name"])


def _ray_gpus(status: str) -> float:
    """Total GPUs in `ray status` output ("0.0/16.0 GPU")."""
    import re

    m = re.search(r"([\d.]+)/([\d.]+)\s+GPU", status)
    return float(m.group(2)) if m else 0.0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="harness ray-cluster", description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", default=None, help="comma-separated node names (default: the Slurm allocation)")
    ap.add_argument("--gpus-per-node", type=int, default=int(os.environ.get("SLURM_GPUS_ON_NODE") or 8))
    ap.add_argument("--port", type=int, default=6379)
    ap.add_argument("--ray", default="ray", help="the ray executable")
    ap.add_argument("--timeout", type=float, default=600, help="seconds to wait for every node to join")
    ap.add_argument("--dry-run", action="store_true", help="print the commands, start nothing")
    ap.add_argument("overrides", nargs="*", help="evaluation overrides (after --)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")

    nodes = args.nodes.split(",") if args.nodes else slurm_nodes()
    need, model = needed_gpus(args.overrides)
    have = len(nodes) * args.gpus_per_node
    if need > have:
        raise SystemExit(f"ray-cluster: {model} needs {need} GPUs (tensor x pipeline x data parallel), the "
                         f"allocation has {len(nodes)} nodes x {args.gpus_per_node} = {have}")
    head_ip = node_ip(nodes[0], args.dry_run)
    cmds = plan(nodes, args.gpus_per_node, args.port, args.overrides, head_ip, ray=args.ray)
    if args.dry_run:
        print(f"# Ray cluster on {len(nodes)} nodes x {args.gpus_per_node} GPUs for {model} ({need} GPUs)")
        for c in cmds["start"]:
            print(shlex.join(c) + " &")
        print(f"until {shlex.join(cmds['wait'])} | grep -q '/{float(have)} GPU'; do sleep 5; done")
        print(shlex.join(cmds["run"]))
        for c in cmds["stop"]:
            print(shlex.join(c))
        return

    procs = []
    code = 1
    try:
        for c in cmds["start"]:
            log.info("%s", shlex.join(c))
            procs.append(subprocess.Popen(c))
            if len(procs) == 1:
                time.sleep(10)  # the head first
        deadline = time.time() + args.timeout
        while True:
            st = subprocess.run(cmds["wait"], capture_output=True, text=True)
            gpus = _ray_gpus(st.stdout) if st.returncode == 0 else 0.0
            if gpus >= have:
                log.info("Ray cluster up at %s: %.0f GPUs", cmds["address"][0], gpus)
                break
            if time.time() > deadline:
                raise SystemExit(f"ray-cluster: only {gpus:.0f} of {have} GPUs joined within {args.timeout:.0f}s")
            if any(p.poll() is not None for p in procs):
                raise SystemExit("ray-cluster: a `ray start` exited early; see its output above")
            time.sleep(5)
        log.info("%s", shlex.join(cmds["run"]))
        code = subprocess.run(cmds["run"]).returncode
    finally:
        for c in cmds["stop"]:
            subprocess.run(c, capture_output=True)
        for p in procs:
            p.terminate()
    sys.exit(code)


if __name__ == "__main__":
    main()
