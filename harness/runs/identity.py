"""Run identity: which settings make two runs measure the same thing.

A hash of the model, task, sampling and backend sections minus the keys that do not change what is
measured (parallelism, transport, memory, names for display), plus the dataset fingerprint. A
rerun with the same identity resumes the latest unfinished run. The backend declares its own
identity-neutral keys (Backend.identity_neutral); the model's are listed here, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Keys of a model config that do not change what is measured.
MODEL_NOT_IDENTITY = frozenset({"tensor_parallel_size", "engine", "price", "display_name", "pipeline_parallel_size",
                                "distributed_executor_backend", "nodes", "gpus_per_node"})
# Keys of the sampling section that do not change a run's samples: the list of seeds of a study
# (each of its runs has its own `seed`).
SAMPLING_NOT_IDENTITY = frozenset({"seeds"})
# Keys of any section that name code, not a setting.
INTERNAL = frozenset({"_target_"})


def section_identity(section: Mapping[str, Any], neutral: Iterable[str] = ()) -> dict[str, Any]:
    drop = INTERNAL | set(neutral)
    return {k: v for k, v in section.items() if k not in drop}


def run_identity(cfg: Mapping[str, Any], backend_neutral: Iterable[str] | None = None) -> dict[str, Any]:
    """The identity-relevant part of a resolved config. `backend_neutral` defaults to what the
    configured backend declares."""
    if backend_neutral is None:
        from harness.backends import backend_class

        backend_neutral = backend_class(cfg["backend"]).identity_neutral
    from harness.reuse import strip_scoring_keys

    return {
        "model": section_identity(cfg["model"], MODEL_NOT_IDENTITY),
        # a grader change re-scores a finished run, it never regenerates one
        "task": strip_scoring_keys(section_identity(cfg["task"])),
        "sampling": section_identity(cfg["sampling"], SAMPLING_NOT_IDENTITY),
        "backend": section_identity(cfg["backend"], backend_neutral),
    }
