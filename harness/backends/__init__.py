"""Backends turn requests into completions. A backend never knows the task.

Adding a backend: a module with a Backend subclass decorated `@register_backend("name")` and a
file configs/backend/<name>.yaml whose `_target_` names the class (and holds every key's default).
The class declares what other modules need to know about it: which of its keys do not change what
a run measures, and its capabilities.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from harness.registry import Registry
from harness.types import Completion, Problem, Request

REGISTRY: Registry[Backend] = Registry("backend", "backend.name")
# The built-in backends, resolved on first use (their modules import no engine at load time).
REGISTRY.lazy("vllm", "harness.backends.vllm:VLLMBackend")
REGISTRY.lazy("hf", "harness.backends.hf:HFBackend")
REGISTRY.lazy("replay", "harness.backends.replay:ReplayBackend")
REGISTRY.lazy("openai", "harness.backends.openai:OpenAIBackend")
BACKENDS = tuple(REGISTRY.names())

register_backend = REGISTRY.register


class Backend(ABC):
    """Yields completions as they finish; the runner persists each one immediately."""

    name: ClassVar[str] = "?"
    # Keys of this backend's config section that do not change what a run measures (transport,
    # parallelism, memory): a rerun that differs only in them resumes the same run.
    identity_neutral: ClassVar[frozenset[str]] = frozenset()
    # Runs the model in this process on local hardware: usage is counted in GPU-hours and tokens/s.
    local_engine: ClassVar[bool] = False
    # Loads weights from model.path (a local directory or a hub id) before generating.
    loads_weights: ClassVar[bool] = False
    # Can run a model config with an `api:` block (a hosted API model).
    serves_api_models: ClassVar[bool] = False

    def __init__(self, cfg: Mapping[str, Any], model_cfg: Mapping[str, Any]) -> None:
        self.cfg = cfg
        self.model_cfg = model_cfg

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


def backend_class(backend_cfg: Mapping[str, Any]) -> type[Backend]:
    """The class a backend config names (its `_target_`, else its registered `name`)."""
    return REGISTRY.get(backend_cfg.get("name"), backend_cfg.get("_target_"))


def build_backend(backend_cfg: Mapping[str, Any], model_cfg: Mapping[str, Any]) -> Backend:
    cls = backend_class(backend_cfg)
    return cls(backend_cfg, model_cfg)


def derive_seed(base: int, problem_id: str, first_sample: int) -> int:
    """A per-request seed: independent streams across problems, reproducible across runs, and a
    resumed request (different first_sample) does not replay the samples already on disk.

    vLLM seeds the j-th of n samples of a request with seed + j, so seeds of different requests
    must be far apart: 62 random bits make an overlap practically impossible."""
    import hashlib

    h = hashlib.sha256(f"{base}:{problem_id}:{first_sample}".encode()).digest()
    return int.from_bytes(h[:8], "little") & ((1 << 62) - 1)
