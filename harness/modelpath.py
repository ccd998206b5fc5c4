"""Where a model's weights come from, and how its chat template turns messages into tokens."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

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


def render_chat(tokenizer: Any, messages: Sequence[Message], model_cfg: Mapping[str, Any]) -> list[int]:
    """Prompt token ids from the model's own chat template, with the generation prompt."""
    text = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
    return list(tokenizer.encode(text, add_special_tokens=False))
