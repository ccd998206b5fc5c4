"""Repeats over seeds: `sampling.seeds=[0,1,2]` or `repeats=N` (seeds seed, seed+1, ...).

Each seed is an ordinary run of its own (its own identity, so it resumes and is reused like any
run: `sampling.seed=1` alone later finds the study's seed-1 run); the runs share a study id,
recorded in each manifest (`study` and `studies`), for seed-variance figures.
"""

from __future__ import annotations

import copy
import logging
import statistics
from collections.abc import Mapping
from typing import Any

from harness.errors import ConfigError
from harness.store import identity_hash

log = logging.getLogger(__name__)


def seeds_of(cfg: Mapping[str, Any]) -> list[int] | None:
    """The seeds of a study, or None for a single run."""
    seeds = (cfg.get("sampling") or {}).get("seeds")
    repeats = cfg.get("repeats")
    if seeds is not None and repeats not in (None, 1):
        raise ConfigError("repeats", "give either sampling.seeds or repeats, not both")
    if seeds is not None:
        if isinstance(seeds, (int, str)) or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
            raise ConfigError("sampling.seeds", f"must be a list of integers, e.g. [0,1,2], got {seeds!r}")
        if len(set(seeds)) != len(seeds) or not seeds:
            raise ConfigError("sampling.seeds", f"must be distinct integers, got {list(seeds)!r}")
        return list(seeds)
    if repeats in (None, 1):
        return None
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
        raise ConfigError("repeats", f"must be an integer >= 1, got {repeats!r}")
    base = int(cfg["sampling"].get("seed") or 0)
    return [base + i for i in range(repeats)]


def expand(cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One config per run: the config itself, or one per seed with the study recorded."""
    seeds = seeds_of(cfg)
    if seeds is None:
        return [dict(cfg)]
    if cfg.get("shard"):
        raise ConfigError("shard", "a sharded run takes one seed: shard each seed's run "
                          "(e.g. -m sampling.seed=0,1,2 shard=0/4,1/4,2/4,3/4)")
    old_seed = cfg["sampling"].get("seed")
    base = copy.deepcopy(dict(cfg))
    base["sampling"] = {**base["sampling"], "seeds": None, "seed": None}
    base.pop("repeats", None)
    base.pop("results_dir", None)
    from harness.runner import run_identity

    study_id = identity_hash({"runs": run_identity(base), "seeds": seeds})[:10]
    out = []
    for s in seeds:
        c = copy.deepcopy(dict(cfg))
        c["sampling"] = {**c["sampling"], "seed": s, "seeds": None}
        # the engine's global seed follows the sampling seed unless it was set apart from it
        if "seed" in c.get("backend", {}) and c["backend"]["seed"] == old_seed:
            c["backend"] = {**c["backend"], "seed": s}
        c["repeats"] = None
        c["study"] = {"id": study_id, "seeds": list(seeds)}
        out.append(c)
    log.info("study %s: %d runs, seeds %s", study_id, len(out), ", ".join(map(str, seeds)))
    return out


def run_all(cfg: Mapping[str, Any]) -> list[tuple[Any, dict[str, Any]]]:
    """Run every seed of the study (or the single run) in turn."""
    from harness.runner import run_eval

    return [run_eval(c) for c in expand(cfg)]


def spread(results: list[tuple[Any, dict[str, Any]]], key: str = "pass@1") -> dict[str, Any] | None:
    """Mean and standard deviation over the seeds of a study."""
    values = [float(v) for _, m in results if isinstance(v := m.get(key), (int, float))]
    if len(values) < 2:
        return None
    return {"metric": key, "runs": len(values), "mean": statistics.fmean(values),
            "sd": statistics.stdev(values), "min": min(values), "max": max(values)}
