"""Compose the eval config with Hydra, outside `python -m harness` (serve, benchmarks, tools).

One helper so that every entry point sees the same config search path ($HARNESS_CONFIG_PATH)
and resolves interpolations the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.paths import CONFIG_DIR, user_config_dirs


def searchpath_override() -> list[str]:
    """The Hydra override that adds the user's config directories, or nothing."""
    dirs = user_config_dirs()
    if not dirs:
        return []
    return ["hydra.searchpath=[" + ",".join(f"file://{d}" for d in dirs) + "]"]


def compose(overrides: Sequence[str] = (), config_name: str = "eval") -> dict[str, Any]:
    """The resolved config (a plain dict) for these Hydra overrides."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = hydra_compose(config_name=config_name, overrides=[*searchpath_override(), *overrides])
    out = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(out, dict)
    return {str(k): v for k, v in out.items()}
