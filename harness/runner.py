"""One evaluation run: load -> prompt -> generate (resumable) -> score -> metrics -> summary.

The config is parsed and validated once (harness.config.parse) before anything is loaded; the
run directory is locked while a command works on it; the outcome of every invocation is
recorded in the manifest (complete, incomplete, interrupted, failed)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness import metrics as metrics_mod
from harness import reuse, shards
from harness.backends import Backend, build_backend, derive_seed
from harness.config import EvalConfig, parse
from harness.errors import ConfigError, DataError, HarnessError
from harness.manifest import base_manifest
from harness.runs.identity import MODEL_NOT_IDENTITY, run_identity
from harness.runs.records import Invocation, Manifest, Metrics, RunStatus, utc_now
from harness.scorer import score_file
from harness.store import RunStore, identity_hash, next_scores_path
from harness.tasks import Task, build_task
from harness.types import Completion, Problem, Request, SamplingParams, Score

log = logging.getLogger(__name__)


@contextmanager
def closed_after(stream: Iterator[Completion]) -> Iterator[Iterator[Completion]]:
    """The backend's completions, with the generator closed when the block ends however it ends."""
    try:
        yield stream
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()

__all__ = ["MODEL_NOT_IDENTITY", "NothingScoredError", "Interrupted", "run_eval", "run_identity", "usage_summary"]


class NothingScoredError(HarnessError):
    """Every sample of the run failed to generate: there is no number to report."""

    exit_code = 3


class Interrupted(HarnessError):
    """Ctrl-C or SIGTERM during the run; the run is marked interrupted and resumes on rerun."""

    exit_code = 130


def prompt_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    p = dict(cfg["model"].get("prompt") or {})
    p["template"] = cfg["task"].get("prompt_template") or "{problem}"
    return p


def protocol(cfg: Mapping[str, Any], params: SamplingParams, prompt_cfg: Mapping[str, Any]) -> dict[str, Any]:
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


def attach_log(store: RunStore) -> logging.Handler:
    """Copy the log into the run's run.log while the run is worked on."""
    h = logging.FileHandler(store.log_path, encoding="utf-8")
    h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(h)
    return h


def run_eval(cfg: Mapping[str, Any]) -> tuple[RunStore, dict[str, Any]]:
    """Run (or resume) the evaluation described by a resolved config (plain dict)."""
    t_start = time.time()
    ec = parse(cfg)  # every config error surfaces here, before anything is loaded or created
    prompt_cfg = prompt_config(cfg)
    task = build_task(ec.task.raw, prompt_cfg)
    problems = task.load()
    log.info("%s: %d problems from %s", task.name, len(problems),
             task.source.get("path") or task.source.get("dataset"))
    backend = build_backend(ec.backend.raw, ec.model.raw)
    try:
        targets = backend.plan(problems, ec.sampling.k)
        if not any(targets.values()):
            raise DataError(f"nothing to evaluate: the {backend.name} backend has no samples for any of the "
                            f"{len(problems)} problems")
        ident_dict = run_identity(cfg, ec.backend.cls.identity_neutral)
        ident_dict["dataset_fingerprint"] = task.source.get("fingerprint")
        ident_dict.update(reuse.identity_extras(cfg))  # engine version, chat template: what changes samples
        ident = identity_hash(ident_dict)
        shard = shards.parse_shard(cfg.get("shard"))
        if shard is not None and not ec.run.resume:
            raise ConfigError("resume", "shards find their common run by its identity: resume=false cannot "
                              "be sharded (use another seed, or move the old run away)")
        if ec.run.resume:
            done, status = reuse.find_latest(ec.run.results_dir, ident)
            if done is not None and status == "complete":
                reuse.join_study(done, cfg)
                reused = reuse.finished(done, cfg)
                if reused is not None:  # never pay twice: the same samples exist, scored the same way
                    backend.close()
                    return done, reused
        store, resumed = _open_run(ec, cfg, task, prompt_cfg, ident, shard)
    except BaseException:
        backend.close()
        raise
    handler = attach_log(store)
    try:
        log.info("%s run %s%s", "resuming" if resumed else "starting", store.path,
                 f" (shard {shard})" if shard is not None else "")
        return _run(ec, cfg, store, task, problems, backend, targets, t_start, resumed, shard)
    except KeyboardInterrupt:  # between the steps that record their own outcome
        backend.close()
        store.set_status(RunStatus.INTERRUPTED)
        raise Interrupted(f"interrupted: run {store.run_id} is marked interrupted; the same command resumes it") from None
    finally:
        shards.release(store)
        logging.getLogger().removeHandler(handler)
        handler.close()
        store.release()


def _open_run(ec: EvalConfig, cfg: Mapping[str, Any], task: Task, prompt_cfg: Mapping[str, Any],
              ident: str, shard: shards.Shard | None = None) -> tuple[RunStore, bool]:
    """The run to work on, locked: the latest unfinished one with this identity (a finished one
    whose scoring settings changed is re-scored), or a new one. The shards of a sharded run share
    the run and each hold a lock of their own."""
    lock = "" if shard is None else f"shard-{shard.index}-of-{shard.count}"
    store = None
    if ec.run.resume:
        store, status = reuse.find_latest(ec.run.results_dir, ident)
        if store is not None and status == "complete":
            reuse.note_rescore(store, cfg)  # its config.yaml follows the new scoring settings
            store.scores_path = next_scores_path(store.path)  # a new scores version; the old one stays
    if store is not None:
        store.acquire(lock)  # RunLockedError when another command is working on it
        reuse.join_study(store, cfg)
        return store, True
    store = RunStore.create(ec.run.results_dir, ec.model.name, task.name, ident)
    store.acquire(lock)  # before the manifest exists: no other command can find the run unlocked
    store.write_config(cfg)
    store.save_manifest(Manifest(
        run_id=store.run_id, identity=ident, status=RunStatus.RUNNING, created=utc_now(),
        **base_manifest(),
        model={k: ec.model.raw.get(k) for k in ("name", "path", "revision", "dtype", "claims_key")},
        task={"name": task.name, "benchmark": ec.task.benchmark, "family": ec.task.family},
        dataset=task.source,
        protocol=protocol(cfg, ec.sampling, prompt_cfg),
    ))
    store.update_manifest(model={**store.read_manifest()["model"], "commit": reuse.model_commit(cfg)},
                          study=cfg.get("study"), studies=[cfg["study"]] if cfg.get("study") else [])
    if shard is not None:  # shards started together converge on one run directory
        claimed = shards.claim(store, ec.run.results_dir, ident)
        if claimed.path != store.path:
            store.release()
            store = claimed
            store.acquire(lock)
            return store, True
    return store, False


def _record_overrides(store: RunStore, backend: Backend) -> None:
    """Record what the engine or API really used where it differs from the config."""
    overrides = backend.protocol_overrides()
    if not overrides:
        return
    m = store.load_manifest()
    proto = dict(m.protocol)
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
    m.protocol = proto
    store.save_manifest(m)


def _run(ec: EvalConfig, cfg: Mapping[str, Any], store: RunStore, task: Task, problems: list[Problem],
         backend: Backend, targets: Mapping[str, int], t_start: float, resumed: bool,
         shard: shards.Shard | None = None) -> tuple[RunStore, dict[str, Any]]:
    from tqdm import tqdm

    params = ec.sampling
    progress = ec.run.progress
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
    inv = Invocation(started=utc_now(), resumed=resumed, samples_before=already, to_generate=to_generate,
                     pid=os.getpid(), extra={"shard": str(shard)} if shard is not None else {})

    def record(status: RunStatus | None) -> None:
        if shard is not None:  # a shard writes its own record file, never the manifest other shards share
            shards.record_invocation(store, shard, inv.to_json())
        else:
            store.record_invocation(inv, status)
    generated = 0
    t0 = time.time()
    try:
        _record_overrides(store, backend)
        if requests:
            backend.start()
            store.update_manifest(backend=backend.info())
            bar = tqdm(total=to_generate, desc="generating", unit="sample", disable=not progress,
                       dynamic_ncols=True)
            # closed_after(): on Ctrl-C the backend's generator cleans up (cancels requests in flight, closes
            # its client) here and now, not when it is collected at interpreter exit, where that
            # cleanup can print a traceback or wait on a connection
            with shards.sample_writer(store, shard) as writer, closed_after(backend.generate(requests)) as stream:
                for c in stream:
                    writer.write(c)
                    generated += 1
                    bar.update(1)
            bar.close()
            inv.generation_seconds = round(time.time() - t0, 2)
            inv.usage = backend.usage()
        if generated != to_generate:
            raise RuntimeError(f"the {backend.name} backend returned {generated} completions, expected {to_generate}")
    except BaseException as e:
        interrupted = isinstance(e, KeyboardInterrupt)
        inv.generated, inv.ended = generated, utc_now()
        inv.generation_seconds = round(time.time() - t0, 2)
        inv.outcome = "interrupted" if interrupted else "failed"
        try:
            inv.usage = backend.usage()
        except Exception:  # the record of what happened matters more than the counters
            pass
        record(RunStatus.INTERRUPTED if interrupted else RunStatus.FAILED)
        if interrupted:
            raise Interrupted(f"interrupted: run {store.run_id} kept {already + generated} samples and is marked "
                              "interrupted; the same command resumes it") from None
        raise
    finally:
        backend.close()

    # a sharded run is scored once every shard is complete, by one process, after merging the shard files
    if shard is not None:  # the shard's record is on disk before it looks at the others (harness/shards.py)
        inv.generated, inv.ended, inv.outcome = generated, utc_now(), "shard_complete"
        record(None)
    waiting = [] if shard is None else shards.missing_shards(problems, targets, shards.sample_index(store, shard),
                                                              shard.count)
    if waiting or not shards.try_finalize(store, shard):
        if shard is None:
            raise RuntimeError(f"{store.path}: another process is merging and scoring this run's shards")
        log.info("shard %s complete; %s", shard, "waiting for shards " + ", ".join(
            f"{i}/{shard.count}" for i in waiting) if waiting else "the run is scored by another shard")
        return store, shards.pending_metrics(store, shard, waiting, ec.model.name, task.name, generated)
    if shard is not None:  # this shard finalises: what follows is a scoring invocation of its own
        inv = Invocation(started=utc_now(), resumed=True, samples_before=already + generated, pid=os.getpid(),
                         extra={"shard": str(shard), "finalize": True})
        generated = 0

    t0 = time.time()
    try:
        n_scored = score_file(task, problems, store.samples_path, store.scores_path,
                              workers=ec.run.scoring_workers, progress=progress)
    except KeyboardInterrupt:
        inv.generated, inv.ended, inv.outcome = generated, utc_now(), "interrupted"
        store.record_invocation(inv, RunStatus.INTERRUPTED)  # shard files are merged by now
        raise Interrupted(f"interrupted while scoring: run {store.run_id} is marked interrupted; the same "
                          "command scores it again") from None
    inv.scoring_seconds = round(time.time() - t0, 2)
    log.info("scored %d samples in %.1fs", n_scored, inv.scoring_seconds)

    scores = list(store.iter_scores())
    meta = {p.id: p.meta for p in problems}
    stats = metrics_mod.compute(scores, meta, task.group_fields(), task.same_answer)
    stats.update(task.extra_metrics(scores))
    gen_errors = sum(1 for s in scores if s.finish_reason == "error")
    # samples whose generation failed (API errors) keep the run open: the same command resumes it
    # and generates exactly those again
    status = RunStatus.INCOMPLETE if gen_errors else RunStatus.COMPLETE
    inv.generated, inv.ended, inv.outcome = generated, utc_now(), str(status)
    shards.fold_records(store)  # a shard that recorded itself while this one was scoring
    manifest = store.record_invocation(inv, status)
    store.update_manifest(scoring_identity=reuse.scoring_identity(cfg))
    invs = manifest.invocations
    m = Metrics(
        run_id=store.run_id, model=ec.model.name, task=task.name, benchmark=ec.task.benchmark,
        protocol=manifest.protocol,
        usage=usage_summary(scores, manifest.to_json(), ec.model.raw, ec.backend.cls.local_engine),
        problems_loaded=len(problems),
        problems_without_samples=[p.id for p in problems if targets.get(p.id, 0) == 0],
        wall_seconds=round(sum(i.generation_seconds + i.scoring_seconds for i in invs), 2),
        generation_seconds=round(sum(i.generation_seconds for i in invs), 2),
        this_invocation_seconds=round(time.time() - t_start, 2),
        stats=stats,
    )
    store.write_metrics(m)
    if scores and gen_errors == len(scores):
        first = _first_error(store)
        raise NothingScoredError(
            f"nothing was scored: all {len(scores)} samples of run {store.run_id} failed to generate"
            f"{f' (first error: {first})' if first else ''}; the run stays open, rerun the same command to retry")
    if gen_errors:
        log.warning("%d samples have no generation (errors); rerun the same command to retry them", gen_errors)
    return store, m.to_json()


def _first_error(store: RunStore) -> str | None:
    from harness.store import read_jsonl

    for _, rec in read_jsonl(store.samples_path):
        if rec.get("finish_reason") == "error":
            return str(rec.get("error") or "unknown error")[:200]
    return None


def usage_summary(scores: Sequence[Score], manifest: Mapping[str, Any], model_cfg: Mapping[str, Any],
                  local_engine: bool | None = None) -> dict[str, Any]:
    """Tokens, requests, retries, wall time; a cost estimate when the model config has prices
    (USD per million tokens), GPU-hours and throughput for local engines."""
    invocations = manifest.get("invocations", [])
    counters: dict[str, float] = {}
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
    if local_engine is None:  # from the backend the run was made with
        from harness.backends import REGISTRY

        name = (manifest.get("backend") or {}).get("name")
        local_engine = name in REGISTRY and getattr(REGISTRY.get(name), "local_engine", False)
    if local_engine:
        gpus = len((manifest.get("hardware") or {}).get("gpus") or [])
        u["gpu_hours"] = round(gpus * gen_s / 3600, 4)
        u["output_tokens_per_second"] = round(tokens_out / gen_s, 1) if gen_s > 0 else None
    return u


# kept for callers of the former private name
_now = utc_now


def env_defaults() -> None:
    """Keep vLLM / torch caches inside the project unless the user chose otherwise."""
    root = Path.cwd() / ".cache"
    os.environ.setdefault("VLLM_CACHE_ROOT", str(root / "vllm"))
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(root / "torchinductor"))
