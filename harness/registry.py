"""Registries of extension points (tasks, backends): a name -> "module:Class" map resolved lazily.

A component registers itself with the decorator of its kind (`@register_backend("vllm")`), and
its config file names it: the group YAML's `_target_` (Hydra's convention, `module.Class`) or, for
tasks, the `family` it registers under. Nothing is imported until a run asks for it, so listing
the names costs nothing and a heavy engine loads only when used.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from typing import Generic, TypeVar

from harness.errors import ConfigError

T = TypeVar("T")


def did_you_mean(word: str, choices: list[str] | set[str] | tuple[str, ...]) -> str:
    """' (did you mean X?)' for the nearest choice, or ''."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def import_target(target: str, key: str) -> type:
    """A class from "package.module:Class" or "package.module.Class"."""
    module, sep, name = target.partition(":")
    if not sep:
        module, _, name = target.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as e:
        raise ConfigError(key, f"cannot import {target!r}: {e}") from e
    if not isinstance(obj, type):
        raise ConfigError(key, f"{target!r} is not a class")
    return obj


class Registry(Generic[T]):
    def __init__(self, kind: str, key: str):
        self.kind = kind  # "backend", "task family"
        self.key = key    # the config key that names an entry, for errors
        self._targets: dict[str, str] = {}
        self._classes: dict[str, type[T]] = {}

    def lazy(self, name: str, target: str) -> None:
        """Declare an entry without importing it."""
        self._targets[name] = target

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        def deco(cls: type[T]) -> type[T]:
            self._classes[name] = cls
            self._targets.setdefault(name, f"{cls.__module__}:{cls.__qualname__}")
            return cls

        return deco

    def names(self) -> list[str]:
        return sorted(set(self._targets) | set(self._classes))

    def __contains__(self, name: object) -> bool:
        return name in self._targets or name in self._classes

    def get(self, name: str | None, target: str | None = None) -> type[T]:
        """The class registered under `name`, or the one `target` names (a config's `_target_`)."""
        if target:
            return import_target(target, self.key.rsplit(".", 1)[0] + "._target_")
        if name in self._classes:
            return self._classes[str(name)]
        if name not in self._targets:
            raise ConfigError(self.key, f"unknown {self.kind} {name!r}{did_you_mean(str(name), self.names())} "
                                        f"(known: {', '.join(self.names())})")
        cls = import_target(self._targets[str(name)], self.key)
        self._classes[str(name)] = cls
        return cls
