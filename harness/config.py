"""Typed checks on the resolved Hydra config. Every error names the offending key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.errors import ConfigError
from harness.types import SamplingParams


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
    top_k = int(s.get("top_k") if s.get("top_k") is not None else -1)
    if t == 0 and k > 1:
        raise ConfigError("sampling.k", f"greedy decoding (temperature 0) gives identical samples; use k=1, got k={k}")
    return SamplingParams(k=k, temperature=t, top_p=top_p, max_tokens=mt,
                          seed=int(s.get("seed") or 0), top_k=top_k)


def validate(cfg: Mapping[str, Any]) -> SamplingParams:
    params = sampling_params(cfg)
    model = cfg["model"]
    for key in ("name", "path"):
        if not model.get(key):
            raise ConfigError(f"model.{key}", "is required")
    mml = model.get("max_model_len")
    if mml is not None:
        mml = _num(model, "model", "max_model_len", int)
        if params.max_tokens >= mml:
            raise ConfigError(
                "sampling.max_tokens",
                f"{params.max_tokens} leaves no room for the prompt within model.max_model_len={mml}",
            )
    backend = cfg["backend"].get("name")
    if model.get("api") and backend in ("vllm", "hf"):
        raise ConfigError(
            "backend.name",
            f"model {model['name']!r} is served by an API (its config has an `api:` block): "
            f"use backend=openai (or BACKEND=openai with make), not {backend}",
        )
    tp = cfg["backend"].get("tensor_parallel_size")
    if tp is not None and (not isinstance(tp, int) or tp < 1):
        raise ConfigError("backend.tensor_parallel_size", f"must be an integer >= 1, got {tp!r}")
    workers = cfg.get("scoring", {}).get("workers")
    if workers is not None and (not isinstance(workers, int) or workers < 0):
        raise ConfigError("scoring.workers", f"must be an integer >= 0 (0 = one per core), got {workers!r}")
    for key in ("name", "family"):
        if not cfg["task"].get(key):
            raise ConfigError(f"task.{key}", "is required")
    return params
