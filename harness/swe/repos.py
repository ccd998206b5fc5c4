"""Local git repositories for SWE-bench instances.

Two sources, both offline:

- a *repo cache*: a directory of existing clones named ``owner__name`` (hub instances; clone them
  beforehand with ``git clone https://github.com/owner/name owner__name``);
- a *repo source* directory (the bundled swe_mini benchmark): one plain directory of files per
  repository, turned into a one-commit git repository on first use. The commit is built with a
  fixed author, date and message, so its sha is the same on every machine and can be the
  instance's ``base_commit``.

Working copies are exported with ``git archive`` (no shared objects, no hooks, no config from the
source) into a directory the caller owns, then committed there once so that ``git apply`` and
``git diff`` work.
"""

from __future__ import annotations

import fcntl
import io
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from harness.errors import ConfigError, DataError

log = logging.getLogger(__name__)

# A clean git environment: no user or system config, no hooks, no prompts, fixed identity.
_GIT_ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "swe-mini",
    "GIT_AUTHOR_EMAIL": "swe-mini@example.invalid",
    "GIT_COMMITTER_NAME": "swe-mini",
    "GIT_COMMITTER_EMAIL": "swe-mini@example.invalid",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00+0000",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00+0000",
    "LC_ALL": "C",
    "TZ": "UTC",
}
_GIT_OPTS = ["-c", "safe.directory=*", "-c", "core.autocrlf=false", "-c", "core.hooksPath=/dev/null",
             "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", "-c", "core.fileMode=true"]


def git(args: list[str], cwd: Path | str, *, input: bytes | None = None, check: bool = True,
        timeout: float = 300) -> subprocess.CompletedProcess:
    """Run git with a clean environment; raise with git's stderr when it fails."""
    p = subprocess.run(["git", *_GIT_OPTS, *args], cwd=str(cwd), input=input, capture_output=True,
                       env=_GIT_ENV, timeout=timeout)
    if check and p.returncode != 0:
        raise DataError(f"git {' '.join(args[:3])} failed in {cwd}: {p.stderr.decode(errors='replace').strip()}")
    return p


def build_repo_from_dir(src: Path, dest: Path) -> str:
    """A one-commit git repository at dest holding exactly the files of src; returns its sha.

    Files are copied with mode 0644 (0755 when executable in src) and committed with a fixed
    identity and date, so the sha depends only on the file contents."""
    if not src.is_dir():
        raise DataError(f"repository source not found: {src}")
    dest.mkdir(parents=True)
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if any(part in ("__pycache__", ".pytest_cache", ".git") for part in rel.parts) or path.suffix == ".pyc":
            continue
        target = dest / rel
        if path.is_symlink():
            raise DataError(f"repository source holds a symlink, which is not supported: {path}")
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        os.chmod(target, 0o755 if os.access(path, os.X_OK) else 0o644)
    git(["init", "-q"], dest)
    git(["add", "-A"], dest)
    git(["commit", "-q", "--no-verify", "-m", "base"], dest)
    return head(dest)


def head(repo: Path) -> str:
    return git(["rev-parse", "HEAD"], repo).stdout.decode().strip()


class RepoStore:
    """Finds (or builds) the local repository of an instance and exports working copies."""

    def __init__(self, cache_dir: str | Path | None, source_dir: str | Path | None = None):
        self.cache_dir = Path(cache_dir).expanduser().resolve() if cache_dir else None
        self.source_dir = Path(source_dir).expanduser().resolve() if source_dir else None

    @staticmethod
    def dirname(repo: str) -> str:
        return repo.replace("/", "__")

    def path(self, repo: str) -> Path:
        """The local git repository for `owner/name`, built from the source directory if needed."""
        if self.cache_dir is None:
            raise ConfigError(
                "task.repo_cache",
                f"instances of {repo} need a local clone: set task.repo_cache=DIR holding "
                f"{self.dirname(repo)} (git clone https://github.com/{repo} DIR/{self.dirname(repo)})",
            )
        path = self.cache_dir / self.dirname(repo)
        if (path / ".git").exists() or (path / "HEAD").exists():
            return path
        if self.source_dir is not None:
            src = self.source_dir / repo.split("/")[-1]
            if src.is_dir():
                return self._build(src, path)
        raise ConfigError("task.repo_cache", f"no clone of {repo} at {path} (expected a git repository named "
                                             f"{self.dirname(repo)} in {self.cache_dir})")

    def _build(self, src: Path, path: Path) -> Path:
        self.cache_dir.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
        lock_path = path.with_name(path.name + ".lock")
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # several scoring processes may ask at once
            if (path / ".git").exists():
                return path
            tmp = Path(tempfile.mkdtemp(prefix=path.name + ".", dir=path.parent))
            shutil.rmtree(tmp)
            sha = build_repo_from_dir(src, tmp)
            os.replace(tmp, path)
            log.info("built %s from %s (commit %s)", path.name, src, sha[:12])
        return path

    def check_commit(self, repo: str, commit: str) -> None:
        p = git(["cat-file", "-e", f"{commit}^{{commit}}"], self.path(repo), check=False)
        if p.returncode != 0:
            raise DataError(f"commit {commit} of {repo} is not in {self.path(repo)} (fetch it, or rebuild the cache)")

    def has_commit(self, repo: str, commit: str) -> bool:
        return git(["cat-file", "-e", f"{commit}^{{commit}}"], self.path(repo), check=False).returncode == 0

    def read(self, repo: str, commit: str, relpath: str) -> str | None:
        p = git(["show", f"{commit}:{relpath}"], self.path(repo), check=False)
        if p.returncode != 0:
            return None
        return p.stdout.decode("utf-8", errors="replace")

    def files(self, repo: str, commit: str) -> list[str]:
        out = git(["ls-tree", "-r", "--name-only", "-z", commit], self.path(repo)).stdout
        return [f for f in out.decode("utf-8", errors="replace").split("\0") if f]

    def export(self, repo: str, commit: str, dest: Path) -> None:
        """A fresh working copy of repo at commit in dest (which must be empty or absent), itself a
        one-commit git repository so that the executor can apply and reset files with git."""
        dest.mkdir(parents=True, exist_ok=True)
        blob = git(["archive", "--format=tar", commit], self.path(repo), timeout=600).stdout
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            tar.extractall(dest, filter="data")
        git(["init", "-q"], dest)
        git(["add", "-A", "-f"], dest)
        git(["commit", "-q", "--no-verify", "--allow-empty", "-m", f"base {commit}"], dest)
