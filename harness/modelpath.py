"""Where a model's weights come from, and how its chat template turns messages into tokens."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.types import Message

log = logging.getLogger(__name__)


def resolve_model_path(model_cfg: Mapping[str, Any]) -> str:
    """A local directory (built on demand for the project's tiny model) or a hub id."""
    path = str(model_cfg["path"])
    tiny = model_cfg.get("tiny")
    if tiny:
        from harness.tiny_model import ensure_tiny_model

        return str(ensure_tiny_model(Path(path), seed=int(tiny.get("seed", 0))))
    p = Path(path).expanduser()
    if p.is_dir():
        return str(p.resolve())
    return path


def looks_local(path: str) -> bool:
    """A filesystem path rather than a hub id (`org/name`)."""
    return path.startswith(("/", "./", "../", "~", ".")) or path.count("/") > 1 or os.sep != "/" and os.sep in path


def check_model_source(model_cfg: Mapping[str, Any]) -> None:
    """Fail before any engine starts when the weights cannot be there: a local path that does not
    exist, or (offline) a hub id that is not in the local cache."""
    if model_cfg.get("tiny"):
        return  # built on demand
    path = str(model_cfg.get("path") or "")
    p = Path(path).expanduser()
    if p.exists():
        if not p.is_dir():
            raise ConfigError("model.path", f"{path}: not a directory (a model directory with config.json)")
        return
    if looks_local(path):
        raise ConfigError("model.path", f"{path}: no such directory (a local model path; hub models are "
                                        "given as org/name)")
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:
            return
        revision = model_cfg.get("revision")
        hit = try_to_load_from_cache(path, "config.json", revision=str(revision) if revision else None)
        if not isinstance(hit, str):
            raise ConfigError("model.path", f"{path}{'@' + str(revision) if revision else ''} is not in the local "
                                            "hub cache and HF_HUB_OFFLINE is set: download it first, or point "
                                            "model.path at a local copy")


def render_chat(tokenizer: Any, messages: Sequence[Message], model_cfg: Mapping[str, Any]) -> list[int]:
    """Prompt token ids from the model's own chat template, with the generation prompt."""
    text = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
    return list(tokenizer.encode(text, add_special_tokens=False))
