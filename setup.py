"""Build step: the package carries copies of configs/ and data/ (harness/configs, harness/data), so
that an installed harness finds its configs without the source tree. The source of truth stays at
the top level, where users read and edit them; harness.paths picks the checkout's copy when there
is one. Everything else about the package is in pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

BUNDLED = ("configs", "data")


class BuildPyWithConfigs(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout's own files
        here = Path(__file__).resolve().parent
        for name in BUNDLED:
            src = here / name
            if src.is_dir():
                shutil.copytree(src, Path(self.build_lib) / "harness" / name, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".git"))


setup(cmdclass={"build_py": BuildPyWithConfigs})
