"""The eval config, parsed and validated once, at the entry, into typed sections.

Defaults are written once, in the YAML files of configs/ (Hydra composes them); this module
checks the composed result and never restates a default. A section's valid keys are the keys its
group's YAML files declare (configs/sampling/*.yaml for `sampling`, the chosen backend's file for
`backend`, the task files of the same family for `task`, ...), so adding a key is adding it to
the YAML. An unknown key (a typo made with Hydra's `+key=value`) is an error naming the key and
the nearest valid one. Every error names its key.

Components receive only their own section: the task its `task` mapping, the backend its
`backend` and `model` mappings, the runner the typed `EvalConfig`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from harness.errors import ConfigError
from harness.paths import CONFIG_DIR, config_files
from harness.registry import did_you_mean
from harness.types import SamplingParams

if TYPE_CHECKING:
    from harness.backends import Backend

SECTIONS = ("model", "task", "backend", "sampling")
# Keys the harness adds itself (the class of a component), never part of a user's choice.
INTERNAL_KEYS = frozenset({"_target_"})


# -- the schema: the keys the YAML files declare ----------------------------------------------------

def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(str(path), f"unreadable YAML: {e}") from e
    return data if isinstance(data, dict) else {}


@functools.cache
def _group(group: str, _env: str | None = None) -> dict[str, dict[str, Any]]:
    """name -> raw YAML of every file of a config group (first along the search path wins)."""
    out: dict[str, dict[str, Any]] = {}
    for p in config_files(group):
        out.setdefault(p.stem, _load_yaml(p))
    return out


def _files(group: str) -> dict[str, dict[str, Any]]:
    return _group(group, os.environ.get("HARNESS_CONFIG_PATH"))


def _keys_with_parents(group: str, name: str, seen: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A group file's keys merged with those of the files it lists in `defaults` (same group)."""
    files = _files(group)
    data = files.get(name) or {}
    merged: dict[str, Any] = {}
    for d in data.get("defaults") or []:
        if isinstance(d, str) and d != "_self_" and d not in seen and d in files:
            merged.update(_keys_with_parents(group, d, seen | {name}))
    merged.update({k: v for k, v in data.items() if k != "defaults"})
    return merged


def allowed_keys(section: str, cfg: Mapping[str, Any]) -> set[str] | None:
    """The valid keys of a section for this config, or None when there is no schema to check
    against (a component configured from code, with no YAML)."""
    if section == "backend":
        name = str(cfg.get("name"))
        if name not in _files("backend"):
            return None
        return set(_keys_with_parents("backend", name)) | INTERNAL_KEYS
    if section == "task":
        family = cfg.get("family")
        keys: set[str] = set()
        for name in _files("task"):
            merged = _keys_with_parents("task", name)
            if merged.get("family") == family:
                keys |= set(merged)
        return (keys | INTERNAL_KEYS) if keys else None
    keys = set()
    for name in _files(section):
        keys |= set(_keys_with_parents(section, name))
    return keys or None


def _top_level_keys() -> set[str]:
    data = _load_yaml(CONFIG_DIR / "eval.yaml")
    return {k for k in data if k not in ("defaults", "hydra")} | set(SECTIONS)


def check_keys(cfg: Mapping[str, Any]) -> None:
    """Reject keys no YAML declares, naming the nearest valid one."""
    top = _top_level_keys()
    for key in cfg:
        if key not in top:
            raise ConfigError(str(key), f"unknown key{did_you_mean(str(key), top)}")
    for section in SECTIONS:
        sec = cfg.get(section)
        if not isinstance(sec, Mapping):
            raise ConfigError(section, "must be a mapping (pick a file: "
                                       f"{section}=NAME, one of configs/{section}/*.yaml)")
        allowed = allowed_keys(section, sec)
        if allowed is None:
            continue
        for key in sec:
            if key not in allowed:
                raise ConfigError(f"{section}.{key}", f"unknown key{did_you_mean(str(key), allowed)}")
    scoring = cfg.get("scoring")
    if isinstance(scoring, Mapping):
        known = set(_load_yaml(CONFIG_DIR / "eval.yaml").get("scoring") or {})
        for key in scoring:
            if known and key not in known:
                raise ConfigError(f"scoring.{key}", f"unknown key{did_you_mean(str(key), known)}")


# -- values ---------------------------------------------------------------------------------------

def _num(cfg: Mapping[str, Any], section: str, key: str, kind: type = float) -> Any:
    full = f"{section}.{key}"
    if key not in cfg or cfg[key] is None:
        raise ConfigError(full, "is required")
    v = cfg[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(full, f"must be a number, got {v!r}")
    if kind is int and (not isinstance(v, int) and not float(v).is_integer()):
        raise ConfigError(full, f"must be an integer, got {v!r}")
    return kind(v)


def _opt_int(cfg: Mapping[str, Any], section: str, key: str, minimum: int, what: str) -> int | None:
    v = cfg.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise ConfigError(f"{section}.{key}", f"must be a whole number >= {minimum} ({what}), got {v!r}")
    return v


def sampling_params(cfg: Mapping[str, Any]) -> SamplingParams:
    s = cfg["sampling"]
    k = _num(s, "sampling", "k", int)
    if k < 1:
        raise ConfigError("sampling.k", f"must be >= 1 (samples per problem), got {k}")
    t = _num(s, "sampling", "temperature")
    if t < 0:
        raise ConfigError("sampling.temperature", f"must be >= 0, got {t}")
    top_p = _num(s, "sampling", "top_p")
    if not 0 < top_p <= 1:
        raise ConfigError("sampling.top_p", f"must be in (0, 1], got {top_p}")
    mt = _num(s, "sampling", "max_tokens", int)
    if mt < 1:
        raise ConfigError("sampling.max_tokens", f"must be >= 1, got {mt}")
    top_k = s.get("top_k")
    top_k = -1 if top_k is None else _num(s, "sampling", "top_k", int)
    if top_k == 0 or top_k < -1:
        raise ConfigError("sampling.top_k", f"must be -1 (off) or >= 1, got {top_k}")
    seed = s.get("seed")
    seed = 0 if seed is None else _num(s, "sampling", "seed", int)
    if t == 0 and k > 1:
        raise ConfigError("sampling.k", f"greedy decoding (temperature 0) gives identical samples; use k=1, got k={k}")
    return SamplingParams(k=k, temperature=t, top_p=top_p, max_tokens=mt, seed=seed, top_k=top_k)


# -- the typed sections -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelSection:
    name: str
    path: str
    revision: str | None
    max_model_len: int | None
    claims_key: str | None
    display_name: str | None
    api: Mapping[str, Any] | None
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class TaskSection:
    name: str
    family: str
    benchmark: str
    limit: int | None  # first N problems; None = all
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class BackendSection:
    name: str
    cls: type[Backend]  # the registered class
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class RunOptions:
    results_dir: Path
    resume: bool
    progress: bool
    scoring_workers: int  # 0 = one per core (at most 8)


@dataclass(frozen=True)
class EvalConfig:
    model: ModelSection
    task: TaskSection
    backend: BackendSection
    sampling: SamplingParams
    run: RunOptions
    raw: Mapping[str, Any]  # the whole resolved config, for config.yaml and the run identity


def _required_str(sec: Mapping[str, Any], section: str, key: str) -> str:
    v = sec.get(key)
    if v is None or (isinstance(v, str) and not v.strip()):
        raise ConfigError(f"{section}.{key}", "is required")
    return str(v)


def _bool(cfg: Mapping[str, Any], key: str, default: bool) -> bool:
    v = cfg.get(key, default)
    if v is None:
        return default
    if not isinstance(v, bool):
        raise ConfigError(key, f"must be true or false, got {v!r}")
    return v


def parse(cfg: Mapping[str, Any], check_unknown: bool = True) -> EvalConfig:
    """Validate the resolved config (a plain dict) and return its typed sections."""
    from harness.backends import backend_class

    if check_unknown:
        check_keys(cfg)
    for section in SECTIONS:
        if not isinstance(cfg.get(section), Mapping):
            raise ConfigError(section, "is required")
    params = sampling_params(cfg)
    m = cfg["model"]
    model = ModelSection(
        name=_required_str(m, "model", "name"), path=_required_str(m, "model", "path"),
        revision=m.get("revision"), max_model_len=_opt_int(m, "model", "max_model_len", 1, "tokens"),
        claims_key=m.get("claims_key"), display_name=m.get("display_name"),
        api=m.get("api") or None, raw=m)
    if model.max_model_len is not None and params.max_tokens >= model.max_model_len:
        raise ConfigError("sampling.max_tokens",
                          f"{params.max_tokens} leaves no room for the prompt within model.max_model_len="
                          f"{model.max_model_len}")
    _opt_int(m, "model", "tensor_parallel_size", 1, "GPUs")
    t = cfg["task"]
    task = TaskSection(
        name=_required_str(t, "task", "name"), family=_required_str(t, "task", "family"),
        benchmark=str(t.get("benchmark") or t["name"]),
        limit=_opt_int(t, "task", "limit", 1, "the first N problems; null for all"), raw=t)
    b = cfg["backend"]
    name = _required_str(b, "backend", "name")
    cls = backend_class(b)
    backend = BackendSection(name=name, cls=cls, raw=b)
    if model.api and not cls.serves_api_models:
        raise ConfigError(
            "backend.name",
            f"model {model.name!r} is served by an API (its config has an `api:` block): "
            f"use backend=openai (or BACKEND=openai with make), not {name}")
    _opt_int(b, "backend", "tensor_parallel_size", 1, "GPUs")
    if cls.loads_weights:
        from harness.modelpath import check_model_source

        check_model_source(m)
    scoring = cfg.get("scoring") or {}
    if not isinstance(scoring, Mapping):
        raise ConfigError("scoring", "must be a mapping")
    workers = _opt_int(scoring, "scoring", "workers", 0, "0 = one per core")
    run = RunOptions(results_dir=Path(str(cfg.get("results_dir") or "results")),
                     resume=_bool(cfg, "resume", True), progress=_bool(cfg, "progress", True),
                     scoring_workers=workers or 0)
    return EvalConfig(model=model, task=task, backend=backend, sampling=params, run=run, raw=cfg)


def validate(cfg: Mapping[str, Any]) -> SamplingParams:
    """Validate a resolved config; returns its sampling parameters."""
    return parse(cfg).sampling
