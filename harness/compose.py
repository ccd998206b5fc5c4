"""Compose the eval config with Hydra, outside `python -m harness` (serve, benchmarks, tools).

One helper so that every entry point composes and resolves the same way. The user's config
folders ($HARNESS_CONFIG_PATH) join the search path through the Hydra plugin in
hydra_plugins/harness_searchpath, here as in `python -m harness`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.errors import ConfigError
from harness.paths import CONFIG_DIR, user_config_dirs


def compose(overrides: Sequence[str] = (), config_name: str = "eval") -> dict[str, Any]:
    """The resolved config (a plain dict) for these Hydra overrides. A config that does not compose
    (an unknown model, a malformed override) is a ConfigError naming the overrides, in one line."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    user_config_dirs()  # a missing folder is a one-line error here, not inside Hydra
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            cfg = hydra_compose(config_name=config_name, overrides=list(overrides))
        out = OmegaConf.to_container(cfg, resolve=True)
    except (HydraException, OmegaConfBaseException) as e:
        raise ConfigError(" ".join(overrides) or config_name, str(e).strip().splitlines()[0]) from e
    assert isinstance(out, dict)
    return {str(k): v for k, v in out.items()}
