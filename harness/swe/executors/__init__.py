"""Executors: run an instance's tests against a candidate patch and grade the result.

An executor is one module here and one YAML file in configs/swe/executors/ (its settings, merged
under ``task.executor``); ``task.executor.kind`` picks it. The module's class has
``from_cfg(cfg, task)`` and ``evaluate(instance, patch) -> ExecResult``; nothing heavy is imported
until an executor is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from harness.errors import ConfigError

EXECUTORS: dict[str, str] = {
    "local": "harness.swe.executors.local:LocalExecutor",
    "docker": "harness.swe.executors.docker:DockerExecutor",
}


def executor_class(kind: str) -> Any:
    if kind not in EXECUTORS:
        raise ConfigError("task.executor.kind", f"unknown executor {kind!r} (known: {', '.join(sorted(EXECUTORS))})")
    module, name = EXECUTORS[kind].split(":")
    return getattr(importlib.import_module(module), name)


def build_executor(cfg: Mapping[str, Any], task: Any) -> Any:
    """The executor `cfg["kind"]` names, built from its settings and the task (repositories, split)."""
    return executor_class(str(cfg.get("kind") or "local")).from_task(cfg, task)
