"""Backends turn requests into completions. A backend never knows the task."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from harness.errors import ConfigError
from harness.types import Completion, Problem, Request

BACKENDS = ("vllm", "hf", "replay", "openai")


class Backend(ABC):
    """Yields completions as they finish; the runner persists each one immediately."""

    name: str = "?"

    def plan(self, problems: Sequence[Problem], k: int) -> dict[str, int]:
        """How many samples each problem should end up with. Engines generate k; a replay
        backend has whatever its file holds."""
        return {p.id: k for p in problems}

    def start(self) -> None:
        """Load the model / start the engine. Called only when something must be generated,
        so a resumed run with nothing missing never pays for an engine start."""

    @abstractmethod
    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]: ...

    def info(self) -> dict[str, Any]:
        """Facts about the engine for the manifest (versions, device, resolved model path)."""
        return {"name": self.name}

    def protocol_overrides(self) -> dict[str, Any]:
        """Sampling fields the engine or API does not honour as configured, with the value it
        really uses (e.g. o1 ignores temperature); merged into the run's protocol record."""
        return {}

    def usage(self) -> dict[str, Any]:
        """Counters of the last generate() call for the run record, e.g. {"requests": 30,
        "retries": 2, "errors": 0}. Token counts come from the completions themselves."""
        return {}

    def close(self) -> None:
        pass


def build_backend(backend_cfg: Mapping[str, Any], model_cfg: Mapping[str, Any]) -> Backend:
    name = backend_cfg.get("name")
    if name == "vllm":
        from harness.backends.vllm import VLLMBackend

        return VLLMBackend(backend_cfg, model_cfg)
    if name == "hf":
        from harness.backends.hf import HFBackend

        return HFBackend(backend_cfg, model_cfg)
    if name == "replay":
        from harness.backends.replay import ReplayBackend

        return ReplayBackend(backend_cfg, model_cfg)
    if name == "openai":
        from harness.backends.openai import OpenAIBackend

        return OpenAIBackend(backend_cfg, model_cfg)
    raise ConfigError("backend.name", f"unknown backend {name!r} (known: {', '.join(BACKENDS)})")


def derive_seed(base: int, problem_id: str, first_sample: int) -> int:
    """A per-request seed: independent streams across problems, reproducible across runs, and a
    resumed request (different first_sample) does not replay the samples already on disk.

    vLLM seeds the j-th of n samples of a request with seed + j, so seeds of different requests
    must be far apart: 62 random bits make an overlap practically impossible."""
    import hashlib

    h = hashlib.sha256(f"{base}:{problem_id}:{first_sample}".encode()).digest()
    return int.from_bytes(h[:8], "little") & ((1 << 62) - 1)
