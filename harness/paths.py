"""Where the harness finds its own files: the project root and the config search path.

In a source checkout the root is the checkout (configs/ and data/ at the top, where users read and
edit them). An installed package carries copies of both inside it (the build step puts them in
harness/configs and harness/data), and the root is then the package directory. Every module that
needs a bundled file asks here; nothing else computes a root from __file__.

Config search path: the directories in $HARNESS_CONFIG_PATH (separated by os.pathsep), then the
built-in configs. A user's directory mirrors the built-in layout (model/, task/, claims/, ...)
and may add files; a name that exists in both resolves to the built-in file first.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
ENV_CONFIG_PATH = "HARNESS_CONFIG_PATH"


def _find_root() -> Path:
    checkout = PACKAGE_DIR.parent
    if (checkout / "configs" / "eval.yaml").is_file() and (checkout / "pyproject.toml").is_file():
        return checkout
    return PACKAGE_DIR  # an installed package: configs/ and data/ were copied into it at build time


ROOT: Path = _find_root()
CONFIG_DIR: Path = ROOT / "configs"
IN_CHECKOUT: bool = ROOT != PACKAGE_DIR


def work_dir() -> Path:
    """Where relative outputs (results/, .cache/) go: the checkout, or else the current directory
    (never inside an installed package)."""
    return ROOT if IN_CHECKOUT else Path.cwd()


def user_config_dirs() -> list[Path]:
    """The directories named by $HARNESS_CONFIG_PATH, in order (missing ones are an error)."""
    from harness.errors import ConfigError

    out: list[Path] = []
    for part in os.environ.get(ENV_CONFIG_PATH, "").split(os.pathsep):
        if not part.strip():
            continue
        p = Path(part).expanduser().resolve()
        if not p.is_dir():
            raise ConfigError(ENV_CONFIG_PATH, f"not a directory: {p}")
        out.append(p)
    return out


def config_dirs() -> list[Path]:
    """The built-in config directory first, then the user's (Hydra's search order)."""
    return [CONFIG_DIR, *user_config_dirs()]


def config_files(group: str, suffix: str = ".yaml") -> list[Path]:
    """Every file of a config group (e.g. "claims") along the search path, sorted by name within
    each directory."""
    out: list[Path] = []
    for d in config_dirs():
        g = d / group
        if g.is_dir():
            out += sorted(p for p in g.iterdir() if p.is_file() and p.name.endswith(suffix))
    return out


def bundled(path: str | os.PathLike[str]) -> Path:
    """A path as given if it exists (absolute or relative to the working directory), else the
    same relative path under the project root (data/..., configs/...)."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p
    candidate = ROOT / p
    return candidate if candidate.exists() else p
