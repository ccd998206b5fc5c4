"""One evaluation run: load -> prompt -> generate (resumable) -> score -> metrics -> summary."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness import metrics as metrics_mod
from harness import reuse, shards
from harness.backends import build_backend, derive_seed
from harness.config import validate
from harness.errors import ConfigError
from harness.manifest import base_manifest
from harness.scorer import score_file
from harness.store import RunStore, identity_hash, redact, write_json
from harness.tasks import build_task
from harness.types import Request

log = logging.getLogger(__name__)

# Keys that do not change what a run measures: a rerun that differs only in these resumes.
_NOT_IDENTITY = {
    "model": ("tensor_parallel_size", "engine", "price", "display_name", "pipeline_parallel_size",
              "distributed_executor_backend", "nodes", "gpus_per_node"),
    "sampling": ("seeds",),
    "backend": ("tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size",
                "distributed_executor_backend", "chunk_size", "max_inflight_samples", "engine_progress", "engine_kwargs",
                "gpu_memory_utilization", "enforce_eager", "samples_per_batch", "device",
                "concurrency", "timeout", "max_retries", "base_url", "api_key_env", "backoff", "check_model"),
}


def run_identity(cfg: Mapping[str, Any]) -> dict[str, Any]:
    ident: dict[str, Any] = {}
    for section in ("model", "task", "sampling", "backend"):
        drop = _NOT_IDENTITY.get(section, ())
        ident[section] = {k: v for k, v in cfg[section].items() if k not in drop}
    ident["task"] = reuse.strip_scoring_keys(ident["task"])  # a grader change re-scores, never regenerates
    return ident


def prompt_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    p = dict(cfg["model"].get("prompt") or {})
    p["template"] = cfg["task"].get("prompt_template") or "{problem}"
    return p


def protocol(cfg: Mapping[str, Any], params, prompt_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """What a claim's protocol is compared against."""
    return {
        "k": params.k,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "top_k": params.top_k,
        "max_tokens": params.max_tokens,
        "seed": params.seed,
        "system_prompt": prompt_cfg.get("system"),
        "prompt_template": prompt_cfg.get("template"),
        # the model's instruction is part of the prompt only where the task's template uses it
        "instruction": (prompt_cfg.get("instruction")
                        if "{instruction}" in str(prompt_cfg.get("template") or "") else None),
        "backend": cfg["backend"]["name"],
        "framework": "harness",
    }


def _attach_log(store: RunStore) -> logging.Handler:
    h = logging.FileHandler(store.path / "run.log", encoding="utf-8")
    h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(h)
    return h


def run_eval(cfg: Mapping[str, Any]) -> tuple[RunStore, dict[str, Any]]:
    """Run (or resume) the evaluation described by a resolved config (plain dict)."""
    t_start = time.time()
    params = validate(cfg)
    prompt_cfg = prompt_config(cfg)
    task = build_task(cfg["task"], prompt_cfg)
    problems = task.load()
    log.info("%s: %d problems from %s", task.name, len(problems),
             task.source.get("path") or task.source.get("dataset"))

    ident_dict = run_identity(cfg)
    ident_dict["dataset_fingerprint"] = task.source.get("fingerprint")
    ident_dict.update(reuse.identity_extras(cfg))
    ident = identity_hash(ident_dict)
    results_dir = Path(str(cfg.get("results_dir") or "results"))
    shard = shards.parse_shard(cfg.get("shard"))
    if shard is not None and not cfg.get("resume", True):
        raise ConfigError("resume", "shards find their common run by its identity: resume=false cannot "
                          "be sharded (use another seed, or move the old run away)")
    store, status = reuse.find_latest(results_dir, ident) if cfg.get("resume", True) else (None, None)
    if store is not None and status == "complete":
        reuse.join_study(store, cfg)
        done = reuse.finished(store, cfg)
        if done is not None:  # never pay twice: the same samples exist and are scored the same way
            return store, done
        reuse.note_rescore(store, cfg)
    resumed = store is not None
    if store is None:
        store = RunStore.create(results_dir, cfg["model"]["name"], task.name, ident)
        from omegaconf import OmegaConf

        (store.config_path).write_text(OmegaConf.to_yaml(OmegaConf.create(redact(dict(cfg)))))
        store.write_manifest({
            "run_id": store.run_id,
            "identity": ident,
            "status": "running",
            "created": _now(),
            **base_manifest(),
            "model": {**{k: cfg["model"].get(k) for k in ("name", "path", "revision", "dtype", "claims_key")},
                      "commit": reuse.model_commit(cfg)},
            "task": {"name": task.name, "benchmark": cfg["task"].get("benchmark", task.name),
                     "family": cfg["task"].get("family")},
            "dataset": task.source,
            "protocol": protocol(cfg, params, prompt_cfg),
            "study": cfg.get("study"),
            "studies": [cfg["study"]] if cfg.get("study") else [],
            "invocations": [],
        })
        if shard is not None:
            store = shards.claim(store, results_dir, ident)
    else:
        reuse.join_study(store, cfg)
    handler = _attach_log(store)
    try:
        log.info("%s run %s", "resuming" if resumed else "starting", store.path)
        return _run(cfg, store, task, problems, params, t_start, resumed)
    finally:
        shards.release(store)
        logging.getLogger().removeHandler(handler)
        handler.close()


def _run(cfg, store: RunStore, task, problems, params, t_start: float, resumed: bool):
    from tqdm import tqdm

    progress = bool(cfg.get("progress", True))
    backend = build_backend(cfg["backend"], cfg["model"])
    overrides = backend.protocol_overrides()
    if overrides:  # record what was really used, and what was asked for
        proto = dict(store.read_manifest().get("protocol") or {})
        requested = proto.pop("requested", {})
        for key, value in overrides.items():
            if key not in requested and proto.get(key) != value:
                requested[key] = proto.get(key)
            proto[key] = value
        if requested:
            proto["requested"] = requested
            log.warning("the %s backend does not use %s as configured: the protocol records %s",
                        backend.name, ", ".join(sorted(requested)),
                        ", ".join(f"{k}={overrides[k]}" for k in sorted(requested)))
        store.update_manifest(protocol=proto)
    targets = backend.plan(problems, params.k)
    shard = shards.parse_shard(cfg.get("shard"))
    have = shards.sample_index(store, shard)
    requests: list[Request] = []
    for p in shards.select(problems, shard):
        target = targets.get(p.id, 0)
        missing = tuple(i for i in range(target) if i not in have.get(p.id, ()))
        if missing:
            requests.append(Request(
                problem_id=p.id, messages=task.prompt(p), samples=missing, params=params,
                seed=derive_seed(params.seed, p.id, missing[0]),
            ))
    to_generate = sum(r.n for r in requests)
    already = sum(len(v) for v in have.values())
    log.info("samples on disk: %d; to generate: %d (%d requests)", already, to_generate, len(requests))
    invocation: dict[str, Any] = {"started": _now(), "resumed": resumed, "samples_before": already,
                                  "to_generate": to_generate}
    if shard is not None:
        invocation["shard"] = str(shard)
    gen_seconds = 0.0
    generated = 0
    try:
        if requests:
            t0 = time.time()
            backend.start()
            store.update_manifest(backend=backend.info())
            bar = tqdm(total=to_generate, desc="generating", unit="sample", disable=not progress,
                       dynamic_ncols=True)
            with shards.sample_writer(store, shard) as writer:
                for c in backend.generate(requests):
                    writer.write(c)
                    generated += 1
                    bar.update(1)
            bar.close()
            gen_seconds = time.time() - t0
            invocation["usage"] = backend.usage()
    except BaseException:
        invocation.update(generated=generated, ended=_now(), outcome="interrupted",
                          usage=backend.usage())
        _record_invocation(store, invocation, shard)
        raise
    finally:
        backend.close()
    if generated != to_generate:
        raise RuntimeError(f"the {backend.name} backend returned {generated} completions, expected {to_generate}")
    # a sharded run is scored once every shard is complete, by one process, after merging the shard files
    if shard is not None:  # the shard's record is on disk before it looks at the others (see harness/shards.py)
        invocation.update(generated=generated, generation_seconds=round(gen_seconds, 2),
                          ended=_now(), outcome="shard_complete", usage=backend.usage())
        _record_invocation(store, invocation, shard)
    waiting = [] if shard is None else shards.missing_shards(problems, targets, shards.sample_index(store, shard),
                                                              shard.count)
    if waiting or not shards.try_finalize(store, shard):
        if shard is None:
            raise RuntimeError(f"{store.path}: another process is merging and scoring this run's shards")
        log.info("shard %s complete; %s", shard, "waiting for shards " + ", ".join(
            f"{i}/{shard.count}" for i in waiting) if waiting else "the run is scored by another shard")
        return store, shards.pending_metrics(store, shard, waiting, cfg["model"]["name"], task.name, generated)
    if shard is not None:  # this shard finalises: what follows is a scoring invocation of its own
        invocation = {"started": _now(), "resumed": True, "samples_before": already + generated, "to_generate": 0,
                      "shard": str(shard), "finalize": True}
        generated, gen_seconds = 0, 0.0

    t0 = time.time()
    n_scored = score_file(task, problems, store.samples_path, store.scores_path,
                          workers=int(cfg.get("scoring", {}).get("workers") or 0), progress=progress)
    score_seconds = time.time() - t0
    log.info("scored %d samples in %.1fs", n_scored, score_seconds)

    scores = list(store.iter_scores())
    meta = {p.id: p.meta for p in problems}
    m = metrics_mod.compute(scores, meta, task.group_fields())
    m.update(task.extra_metrics(scores))
    missing = [p.id for p in problems if targets.get(p.id, 0) == 0]
    m["problems_loaded"] = len(problems)
    m["problems_without_samples"] = missing
    invocation.update(generated=generated, generation_seconds=round(gen_seconds, 2),
                      scoring_seconds=round(score_seconds, 2), ended=_now(), outcome="complete")
    manifest = _record_invocation(store, invocation)
    m["wall_seconds"] = round(sum(i.get("generation_seconds", 0) + i.get("scoring_seconds", 0)
                                  for i in manifest.get("invocations", [])), 2)
    m["generation_seconds"] = round(sum(i.get("generation_seconds", 0) for i in manifest["invocations"]), 2)
    m["this_invocation_seconds"] = round(time.time() - t_start, 2)
    m["usage"] = usage_summary(scores, manifest, cfg["model"])
    m["run_id"] = store.run_id
    m["model"] = cfg["model"]["name"]
    m["task"] = task.name
    m["benchmark"] = cfg["task"].get("benchmark", task.name)
    m["protocol"] = manifest.get("protocol")
    write_json(store.metrics_path, m)
    # samples whose generation failed (API errors) keep the run open: the same command resumes it
    # and generates exactly those again
    gen_errors = sum(1 for s in scores if s.finish_reason == "error")
    if gen_errors:
        log.warning("%d samples have no generation (errors); rerun the same command to retry them", gen_errors)
    shards.fold_records(store)  # a shard that recorded itself while this one was scoring
    store.update_manifest(status="incomplete" if gen_errors else "complete", completed=_now(),
                          scoring_identity=reuse.scoring_identity(cfg))
    return store, m


def usage_summary(scores, manifest: Mapping[str, Any], model_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Tokens, requests, retries, wall time; a cost estimate when the model config has prices
    (USD per million tokens), GPU-hours and throughput for local engines."""
    invocations = manifest.get("invocations", [])
    counters: dict[str, int] = {}
    for inv in invocations:
        for k, v in (inv.get("usage") or {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                counters[k] = counters.get(k, 0) + v
    # APIs bill a prompt once per call, not once per sample: prefer their billed counts
    tokens_in = counters.pop("api_prompt_tokens", None)
    tokens_out = counters.pop("api_completion_tokens", None)
    if tokens_in is None:
        tokens_in = sum(s.prompt_tokens or 0 for s in scores)
    if tokens_out is None:
        tokens_out = sum(s.output_tokens or 0 for s in scores)
    gen_s = sum(inv.get("generation_seconds", 0) for inv in invocations)
    u: dict[str, Any] = {"prompt_tokens": tokens_in, "output_tokens": tokens_out,
                         "generation_seconds": round(gen_s, 2), **counters}
    price = model_cfg.get("price") or {}
    if price.get("input_per_mtok") is not None or price.get("output_per_mtok") is not None:
        u["cost_usd"] = round(tokens_in / 1e6 * float(price.get("input_per_mtok") or 0)
                              + tokens_out / 1e6 * float(price.get("output_per_mtok") or 0), 4)
    backend = (manifest.get("backend") or {}).get("name")
    if backend in ("vllm", "hf"):
        gpus = len((manifest.get("hardware") or {}).get("gpus") or [])
        u["gpu_hours"] = round(gpus * gen_s / 3600, 4)
        u["output_tokens_per_second"] = round(tokens_out / gen_s, 1) if gen_s > 0 else None
    return u


def _record_invocation(store: RunStore, invocation: dict[str, Any], shard=None) -> dict[str, Any]:
    if shard is not None:  # a shard writes its own record file, never the shared manifest
        shards.record_invocation(store, shard, invocation)
        return {}
    manifest = store.read_manifest()
    manifest.setdefault("invocations", []).append(invocation)
    store.write_manifest(manifest)
    return manifest


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def env_defaults() -> None:
    """Keep vLLM / torch caches inside the project unless the user chose otherwise."""
    root = Path.cwd() / ".cache"
    os.environ.setdefault("VLLM_CACHE_ROOT", str(root / "vllm"))
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(root / "torchinductor"))
