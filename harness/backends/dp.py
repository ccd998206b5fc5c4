"""Data parallelism on one node: N independent vLLM engines on disjoint device sets.

vLLM's offline `LLM` refuses `data_parallel_size > 1` in one process (0.32: "not supported for
single-process usage and may hang"), and its multi-process data parallel mode runs the engines in
lockstep for expert-parallel MoE models. For dense models and for sampling evaluations, N plain
engines are the reliable equivalent: each worker process owns one engine on its own GPUs
(`CUDA_VISIBLE_DEVICES`, tensor x pipeline parallel size each) or, on CPU, its own cores
(`VLLM_CPU_OMP_THREADS_BIND`). All workers pull requests from one shared queue (whoever has room
takes the next request, so a slow engine never holds back the others) and send each finished
request's completions back to the parent, which writes them to the one run directory as usual.

Samples do not depend on which engine produced them: every request carries its own seed.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import traceback
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from harness.errors import ConfigError
from harness.types import Completion, Request

log = logging.getLogger(__name__)

_POLL_SECONDS = 5.0


def device_sets(size: int, per_engine: int, cpu: bool) -> list[dict[str, str]]:
    """Environment for each engine: its GPUs, or its CPU cores."""
    if cpu:
        env_mask = os.environ.get("VLLM_CPU_OMP_THREADS_BIND", "auto")
        if env_mask not in ("auto", "") and "|" in env_mask:  # one list per engine, given by the user
            lists = env_mask.split("|")
            if len(lists) != size:
                raise ConfigError("backend.data_parallel_size",
                                  f"VLLM_CPU_OMP_THREADS_BIND has {len(lists)} core lists for {size} engines")
            return [{"VLLM_CPU_OMP_THREADS_BIND": s} for s in lists]
        cores = sorted(os.sched_getaffinity(0))
        if len(cores) < size:
            raise ConfigError("backend.data_parallel_size",
                              f"{size} engines need at least {size} CPU cores, this process may use {len(cores)}")
        per = len(cores) // size
        return [{"VLLM_CPU_OMP_THREADS_BIND": ",".join(map(str, cores[r * per:(r + 1) * per])),
                 "VLLM_CPU_NUM_OF_RESERVED_CPU": "0"} for r in range(size)]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible:
        gpus = [g.strip() for g in visible.split(",") if g.strip()]
    else:
        import torch

        gpus = [str(i) for i in range(torch.cuda.device_count())]
    need = size * per_engine
    if len(gpus) < need:
        raise ConfigError("backend.data_parallel_size",
                          f"{size} engines x {per_engine} GPUs each (tensor x pipeline parallel) need {need} "
                          f"GPUs, {len(gpus)} visible")
    return [{"CUDA_VISIBLE_DEVICES": ",".join(gpus[r * per_engine:(r + 1) * per_engine])} for r in range(size)]


class _Stop(Exception):
    pass


def _worker(rank: int, backend_cfg: dict, model_cfg: dict, env: dict, task_q, ctrl_q, result_q) -> None:
    os.environ.update(env)
    from harness.backends.vllm import VLLMBackend

    backend = VLLMBackend({**backend_cfg, "data_parallel_size": 1}, model_cfg)
    try:
        backend.start()
        result_q.put(("ready", rank, {**backend.info(), "devices": env}))
    except BaseException:
        result_q.put(("error", rank, traceback.format_exc()))
        backend.close()
        return

    def poll() -> None:
        try:
            msg = ctrl_q.get_nowait()
        except queue.Empty:
            return
        if msg[0] == "stop":
            raise _Stop

    def pull() -> Iterator[Request]:
        while True:
            req = task_q.get()
            if req is None:  # end of this batch
                return
            yield req

    try:
        while True:
            msg = ctrl_q.get()
            if msg[0] == "stop":
                break
            for c in backend.generate(pull(), max_inflight=int(msg[1]), poll=poll):
                result_q.put(("completion", rank, c))
            result_q.put(("batch_done", rank, backend.usage()))
    except _Stop:
        pass
    except BaseException:
        result_q.put(("error", rank, traceback.format_exc()))
    finally:
        backend.close()


class EnginePool:
    """N engine processes fed from one request queue."""

    def __init__(self, backend_cfg: Mapping[str, Any], model_cfg: Mapping[str, Any], size: int, cpu: bool):
        self.backend_cfg = dict(backend_cfg)
        self.model_cfg = dict(model_cfg)
        self.size = size
        self.max_inflight = int(backend_cfg.get("max_inflight_samples", 4096))
        per_engine = int(backend_cfg.get("tensor_parallel_size") or 1) * int(backend_cfg.get("pipeline_parallel_size") or 1)
        self.envs = device_sets(size, per_engine, cpu)
        self.procs: list[Any] = []
        self.infos: list[dict[str, Any]] = []
        self._usage: dict[str, Any] = {}

    def start(self) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")  # engines start their own processes: no fork, no daemons
        self.task_q = ctx.Queue()
        self.result_q = ctx.Queue()
        self.ctrl_qs = [ctx.Queue() for _ in range(self.size)]
        for rank, env in enumerate(self.envs):
            p = ctx.Process(target=_worker, name=f"harness-dp{rank}",
                            args=(rank, self.backend_cfg, self.model_cfg, env, self.task_q, self.ctrl_qs[rank],
                                  self.result_q))
            p.start()
            self.procs.append(p)
            log.info("data parallel engine %d/%d: pid %d, %s", rank, self.size, p.pid,
                     ", ".join(f"{k}={v}" for k, v in env.items()))
        infos: dict[int, dict[str, Any]] = {}
        while len(infos) < self.size:
            kind, rank, payload = self._get()
            if kind == "error":
                raise RuntimeError(f"data parallel engine {rank} failed to start:\n{payload}")
            if kind == "ready":
                infos[rank] = payload
        self.infos = [infos[r] for r in range(self.size)]
        log.info("%d engines ready", self.size)

    def _get(self) -> tuple[str, int, Any]:
        while True:
            try:
                return self.result_q.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                dead = [r for r, p in enumerate(self.procs) if not p.is_alive()]
                if dead:
                    raise RuntimeError(f"data parallel engine(s) {dead} exited (exit codes "
                                       f"{[self.procs[r].exitcode for r in dead]}); see the log above") from None

    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:
        requests = list(requests)
        if not requests:
            return
        total = sum(r.n for r in requests)
        # each engine keeps at most this many samples in flight: its share of the window, and never
        # more than its share of the work, so that the first engine to ask does not take everything
        cap = max(1, min(self.max_inflight // self.size, math.ceil(total / self.size)))
        for q in self.ctrl_qs:
            q.put(("batch", cap))
        for r in requests:
            self.task_q.put(r)
        for _ in range(self.size):
            self.task_q.put(None)
        done = 0
        usage: dict[str, Any] = {}
        finished = False
        try:
            while done < self.size:
                kind, rank, payload = self._get()
                if kind == "completion":
                    yield payload
                elif kind == "batch_done":
                    done += 1
                    for k, v in (payload or {}).items():
                        if isinstance(v, (int, float)) and not isinstance(v, bool):
                            usage[k] = usage.get(k, 0) + v
                        elif isinstance(v, list):
                            usage[k] = [*usage.get(k, []), *v]
                elif kind == "error":
                    raise RuntimeError(f"data parallel engine {rank} failed:\n{payload}")
            finished = True
        finally:
            self._usage = usage
            if not finished:  # interrupted: stop the engines rather than let them finish the queue
                self.close()

    def usage(self) -> dict[str, Any]:
        return dict(self._usage)

    def close(self) -> None:
        if not self.procs:
            return
        for q in self.ctrl_qs:
            q.put(("stop",))
        for p in self.procs:
            p.join(timeout=60)
            if p.is_alive():
                log.warning("data parallel engine pid %d did not stop; terminating it", p.pid)
                p.terminate()
                p.join(timeout=10)
        self.procs = []
