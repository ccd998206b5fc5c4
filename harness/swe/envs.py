"""Test environments for SWE-bench instances, as data: one YAML file per repository.

``configs/swe/envs/<owner>__<name>.yaml`` says, per version of the repository (the instance's
``version`` field), what the repository's tests need:

    repo: django/django             # or a pattern, e.g. "swe-mini/*"
    directives: django              # how test files become arguments: files | django
    log_parser: parse_log_django    # optional; default: swebench's parser for the repository
    defaults: {...}                 # merged under every version
    versions:
      "3.0":
        python: "3.6"               # an interpreter found on the machine (see find_interpreter)
        packages: [...]             # pip requirements installed into the environment
        requirements: [...]         # requirement files read from the repository at environment_setup_commit
        environment_yml: [...]      # conda environment files (their pip-installable pins are used)
        setup: [...]                # shell commands run in the working copy: once at build time on a
                                    #   checkout of environment_setup_commit (with the network, to bring
                                    #   the dependencies), then offline in every attempt's working copy
        cache: [...]                # commands run once at build time, with the network, to fetch what
                                    #   the tests would download; they write under {cache}
        env: {NAME: value}          # environment of setup and tests; {cache}, {env}, {version} and
                                    #   {project} (the harness's root) are filled in, in commands too
        test_cmd: "./tests/runtests.py --verbosity 2"   # the test files (directives) are appended
        inherit_site_packages: false  # true: the harness's own packages are visible (offline CI)
        system: [...]               # what swebench's images install with apt (not installed here: the
                                    #   machine must have it; informational)

A built environment is a virtualenv under ``<root>/<owner__name>/<version>-<hash>/`` where the hash
covers everything that decides its content (interpreter version, packages, requirement files,
build commands, cache commands). Builds are locked per environment (a second builder waits), the
finished one carries ``harness-env.json`` and is reused by every later run.

When swebench's per-instance environment files are available (``swebench/resources/swebench-og/
<owner__name>/<number>/environment.yml``: in the installed package when it ships them, or in a
directory given as ``resources``), the instance's Python version and pinned packages come from
that file instead of the version's ``python`` / ``packages`` / ``requirements``.
"""

from __future__ import annotations

import fcntl
import fnmatch
import glob
import hashlib
import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError, HarnessError

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SPEC_DIR = PROJECT_ROOT / "configs" / "swe" / "envs"
MARKER = "harness-env.json"
# Bumped when a change to how environments are built (the translation of conda files, the install
# order) can change what an existing one would hold: it is hashed into every environment's key.
ENV_BUILDER_VERSION = "2"
FIELDS = {"system", "notes", "python", "packages", "requirements", "environment_yml", "setup", "cache", "env", "test_cmd",
          "inherit_site_packages", "log_parser", "directives", "build_setup", "keep_frozen_pins"}
# conda packages of swebench's environment files that are not Python distributions on PyPI
CONDA_ONLY = re.compile(r"^(_.*|lib.*|python|pip|ca-certificates|certifi|ld_impl_linux-64|ncurses|openssl|readline|"
                        r"sqlite|tk|xz|zlib|bzip2|tzdata|expat|icu|intel-openmp|mkl.*|blas|openblas|krb5|"
                        r"c-ares|gmp|mpfr|mpc|yaml|jpeg|freetype|fontconfig|dbus|glib|gst.*|qt.*|pcre.*|"
                        r"cairo|pixman|harfbuzz|graphite2|fribidi|lz4-c|zstd|lerc|giflib|xorg.*|"
                        r"libwebp.*|openjpeg|pthread-stubs|fftw|hdf5|gdal|geos|proj|tbb|llvm.*|"
                        r"cudatoolkit|nodejs|pandoc|graphviz|ghostscript|texlive.*|make|cmake|gcc.*|gxx.*|"
                        r"binutils.*|sysroot.*|kernel-headers.*|c-compiler|cxx-compiler|compilers|"
                        r"font-ttf.*|fonts-.*|libcxx|lcms2|brotli|brotli-bin|unicodedata2|"
                        r"mysql.*|postgresql|ffmpeg|imagemagick)$")


# conda packages whose PyPI distribution has another name (same version numbers), or none (None).
# A wrong name is worse than a missing one: PyPI's "iris" is a placeholder whose import raises, so a
# conda "iris" (SciTools' Iris) installed under its own name breaks every test module importing it.
CONDA_TO_PYPI: dict[str, str | None] = {
    "iris": "scitools-iris",
    "msgpack-python": "msgpack",
    "pytables": "tables",
    "matplotlib-base": "matplotlib",
    "seaborn-base": "seaborn",
    "dask-core": "dask",
    "pytorch": "torch",
    "py-opencv": "opencv-python",
    "pyqt": "PyQt5",
    "ipython_genutils": "ipython-genutils",
    "typing_extensions": "typing-extensions",
    "nomkl": None,
    "cdms2": None,
    "cdat_info": None,
    "cdat-info": None,
    "cdtime": None,
    "esmpy": None,
    "pynio": None,
}


class EnvError(HarnessError):
    pass


class InterpreterMissing(EnvError):
    pass


@dataclass(frozen=True)
class EnvSpec:
    """Everything about one instance's environment (resolved from its repository's YAML)."""

    repo: str
    version: str
    python: str
    packages: tuple[str, ...] = ()
    # a frozen environment file's pip section and the spec's own pytest/pip pins, installed after
    # `packages` (the file's conda layer), as swebench's images install them after the conda env
    pip_packages: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()
    environment_yml: tuple[str, ...] = ()
    setup: tuple[str, ...] = ()
    build_setup: bool = True
    cache: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    test_cmd: str = "python -m pytest -rA"
    directives: str = "files"
    log_parser: str | None = None
    inherit_site_packages: bool = False
    keep_frozen_pins: bool = False  # with a frozen environment file: the build's setup step may not move its pins
    setup_commit: str | None = None  # the commit requirement files and build-time setup are read at
    fallback_commit: str | None = None  # used when setup_commit is not in the clone (not hashed)
    source: str = ""  # which file(s) it came from

    def content(self) -> dict[str, Any]:
        """What decides the environment's content (hashed into its directory name)."""
        reads_repo = bool(self.requirements or self.environment_yml or (self.setup and self.build_setup))
        return {"builder": ENV_BUILDER_VERSION, "repo": self.repo, "version": self.version, "python": self.python,
                "packages": list(self.packages), "requirements": list(self.requirements),
                "environment_yml": list(self.environment_yml),
                "setup": list(self.setup) if self.build_setup else [], "cache": list(self.cache),
                "inherit_site_packages": self.inherit_site_packages,
                "setup_commit": self.setup_commit if reads_repo else None,
                **({"keep_frozen_pins": True} if self.keep_frozen_pins else {}),
                **({"pip_packages": list(self.pip_packages)} if self.pip_packages else {}),
                **({"packages_after_environment_yml": True} if self.environment_yml and self.packages else {})}

    @property
    def key(self) -> str:
        h = hashlib.sha256(json.dumps(self.content(), sort_keys=True).encode()).hexdigest()[:12]
        return f"{self.repo.replace('/', '__')}/{self.version}-{h}"

    @property
    def parser(self) -> str:
        """The swebench log parser (PARSER_REGISTRY name) that reads this repository's test output."""
        from harness.swe.grading import log_parser

        return self.log_parser or log_parser(self.repo)


# --- loading specs ----------------------------------------------------------------------------


def _as_tuple(v: Any) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str):
        return (v,)
    return tuple(str(x) for x in v)


class SpecTable:
    """Every repository's YAML from the spec directories (later directories override earlier)."""

    def __init__(self, dirs: Iterable[str | Path] | None = None):
        self.dirs = [Path(d) for d in (dirs or [SPEC_DIR])]
        self.repos: dict[str, tuple[Path, dict[str, Any]]] = {}
        for d in self.dirs:
            if not d.is_dir():
                raise ConfigError("task.executor.envs.specs", f"not a directory: {d}")
            for path in sorted(d.glob("*.yaml")):
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
                if not isinstance(data, dict) or "repo" not in data:
                    raise ConfigError(str(path), "an environment spec needs `repo:` and `versions:`")
                for name, v in (data.get("versions") or {}).items():
                    unknown = set(v or {}) - FIELDS
                    if unknown:
                        raise ConfigError(f"{path}: versions.{name}", f"unknown field {sorted(unknown)[0]!r} "
                                                                       f"(known: {sorted(FIELDS)})")
                self.repos[str(data["repo"])] = (path, data)

    def lookup(self, repo: str) -> tuple[Path, dict[str, Any]]:
        if repo in self.repos:
            return self.repos[repo]
        for pattern, entry in self.repos.items():
            if fnmatch.fnmatchcase(repo, pattern):
                return entry
        where = ", ".join(str(d) for d in self.dirs)
        raise ConfigError("task.executor.envs.specs",
                          f"no environment spec for {repo}: add {repo.replace('/', '__')}.yaml to {where}")

    def spec(self, repo: str, version: str | None, setup_commit: str | None = None) -> EnvSpec:
        path, data = self.lookup(repo)
        versions = {str(k): v or {} for k, v in (data.get("versions") or {}).items()}
        v = str(version) if version is not None else None
        if v not in versions:
            if "*" in versions:
                v_entry = versions["*"]
            else:
                raise ConfigError(str(path), f"no entry for {repo} version {version!r} "
                                             f"(versions: {', '.join(sorted(versions)) or 'none'})")
        else:
            v_entry = versions[v]
        merged = {**(data.get("defaults") or {}), **v_entry}
        for k in ("directives", "log_parser"):
            if k in data and k not in merged:
                merged[k] = data[k]
        if "python" not in merged:
            raise ConfigError(str(path), f"versions.{version}: no `python`")
        return EnvSpec(
            repo=repo, version=str(version), python=str(merged["python"]),
            packages=_as_tuple(merged.get("packages")), requirements=_as_tuple(merged.get("requirements")),
            environment_yml=_as_tuple(merged.get("environment_yml")), setup=_as_tuple(merged.get("setup")),
            build_setup=bool(merged.get("build_setup", True)), cache=_as_tuple(merged.get("cache")),
            env=tuple(sorted((str(k), str(x)) for k, x in (merged.get("env") or {}).items())),
            test_cmd=str(merged.get("test_cmd") or "python -m pytest -rA"),
            directives=str(merged.get("directives") or "files"), log_parser=merged.get("log_parser"),
            inherit_site_packages=bool(merged.get("inherit_site_packages", False)),
            keep_frozen_pins=bool(merged.get("keep_frozen_pins", False)),
            setup_commit=setup_commit, source=str(path))


# --- swebench's per-instance environment files ------------------------------------------------


def resource_dirs(extra: Iterable[str | Path] = ()) -> list[Path]:
    """Where swebench's per-instance environment.yml files are looked for."""
    dirs = [Path(d).expanduser() for d in extra if d]
    try:
        import swebench

        dirs.append(Path(swebench.__file__).parent / "resources" / "swebench-og")
    except ImportError:
        pass
    return [d for d in dirs if d.is_dir()]


def parse_environment_yml(text: str) -> tuple[str | None, list[str]]:
    """(python major.minor, pip requirements) from a conda environment file: conda packages with a
    PyPI counterpart as name==version, then the pip section as it is."""
    python, conda, pip = environment_layers(text)
    return python, conda + pip


def environment_layers(text: str) -> tuple[str | None, list[str], list[str]]:
    """(python major.minor, conda packages as pip requirements, the pip section) of a conda
    environment file. The two layers install one after the other, as conda does: the pip section
    may move a conda package's pin (xarray's frozen files pin dask with pip below the version the
    conda packages were solved with), which one resolution of both together would refuse."""
    data = yaml.safe_load(text) or {}
    python, reqs, pip_reqs = None, [], []
    for dep in data.get("dependencies") or []:
        if isinstance(dep, dict):
            pip_reqs += [str(x) for x in dep.get("pip") or []]
            continue
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*$", str(dep))
        if not m:
            continue
        name, rest = m.group(1), m.group(2).replace(" ", "")
        if rest.startswith("=") and not rest.startswith("=="):  # conda: name=version[=build]
            version = rest[1:].split("=", 1)[0]
            spec = f"=={version}" if version else ""
        elif rest.startswith("=="):
            spec = "==" + rest[2:].split("=", 1)[0]
        else:  # a pip-style range (>=3.6, <2) or nothing
            spec = rest
        if name == "python":
            python = ".".join(spec.lstrip("=<>!~").split(".")[:2]) or None
            continue
        if CONDA_ONLY.match(name):
            continue
        pypi = CONDA_TO_PYPI.get(name.lower(), name)
        if pypi is None:
            continue
        reqs.append(pypi + spec)
    return python, reqs, pip_reqs


def _freeze(pip: list[str], env: Mapping[str, str]) -> dict[str, str]:
    """{normalized name: version} of what pip lists as installed."""
    out = subprocess.run(pip + ["list", "--format=json"], capture_output=True, env=env, check=True).stdout
    return {_dist_name(d["name"]): d["version"] for d in json.loads(out)}


def _kept_with_frozen(requirement: str) -> bool:
    """A spec package that stays next to a frozen environment's pins: pytest plugins, and pins of
    pip itself (the frozen files drop pip with the conda packages; a spec may need an older one)."""
    name = _dist_name(requirement)
    return name.startswith("pytest") or name == "pip"


def instance_resource(instance_id: str, repo: str, dirs: Iterable[Path]) -> Path | None:
    number = instance_id.rsplit("-", 1)[-1]
    for d in dirs:
        p = d / repo.replace("/", "__") / number / "environment.yml"
        if p.is_file():
            return p
    return None


# --- interpreters -----------------------------------------------------------------------------


def _version_of(python: str) -> str | None:
    try:
        p = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                           capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return p.stdout.decode().strip() if p.returncode == 0 else None


def _base_interpreter(python: str) -> str:
    """The interpreter behind a virtualenv's python (a venv is made from the base one)."""
    p = subprocess.run([python, "-c", "import sys, os; b = getattr(sys, '_base_executable', None) or "
                        "os.path.join(sys.base_prefix, 'bin', 'python%d.%d' % sys.version_info[:2]); print(b)"],
                       capture_output=True, timeout=60)
    out = p.stdout.decode().strip()
    if p.returncode == 0 and out and os.path.exists(out) and _version_of(out):
        return out
    return python


def find_interpreter(version: str, mapping: Mapping[str, str] | None = None) -> str:
    """An interpreter for Python `version` ("3.6"; "current" is the harness's own): the configured
    mapping, then python3.X on PATH, then pyenv's versions."""
    if version == "current":
        return _base_interpreter(sys.executable)
    mapping = dict(mapping or {})
    tried = []
    if version in mapping:
        cand = str(Path(mapping[version]).expanduser())
        if _version_of(cand) == version:
            return cand
        raise InterpreterMissing(f"task.executor.envs.interpreters.{version}: {cand} is not a Python {version}")
    found = shutil.which(f"python{version}")
    if found:
        tried.append(found)
        if _version_of(found) == version:
            return _base_interpreter(found)
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    cands = sorted(glob.glob(str(pyenv_root / "versions" / f"{version}.*" / "bin" / f"python{version}")),
                   key=lambda p: [int(x) for x in re.findall(r"\d+", Path(p).parts[-3])], reverse=True)
    for c in cands:
        tried.append(c)
        if _version_of(c) == version:
            return c
    raise InterpreterMissing(
        f"no Python {version} interpreter on this machine (tried python{version} on PATH"
        f"{', ' + ', '.join(tried) if tried else ''} and {pyenv_root}/versions/{version}.*): install one "
        f"(`pyenv install {version}`, `uv python install {version}`, or the distribution's python{version}) "
        f"or name it with task.executor.envs.interpreters.'{version}'=/path/to/python{version}")


# --- building ---------------------------------------------------------------------------------

# the newest pip and wheel each old Python can run (old pips do not all skip what they cannot run)
_PIP_CAPS = {"2.7": ("pip<21", "wheel<0.38"), "3.5": ("pip<21", "wheel<0.38"), "3.6": ("pip<22", "wheel<0.38"),
             "3.7": ("pip<24.1", "wheel<0.43"), "3.8": ("pip<25.1", "wheel<0.46")}


def pip_for(python_version: str) -> tuple[str, str]:
    return _PIP_CAPS.get(python_version, ("pip", "wheel"))



@dataclass
class Env:
    """A built environment."""

    path: Path
    spec: EnvSpec
    base_python: str
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def python(self) -> str:
        return str(self.path / "bin" / "python")

    @property
    def cache_dir(self) -> Path:
        return self.path / "cache"

    def site_packages(self) -> str:
        return self.info["site_packages"]

    def fill(self, text: str) -> str:
        """{cache}, {env} and {project} in a spec's command or variable."""
        return (text.replace("{cache}", str(self.cache_dir)).replace("{env}", str(self.path))
                .replace("{project}", str(PROJECT_ROOT)).replace("{version}", self.spec.version))

    def variables(self) -> dict[str, str]:
        """The spec's environment variables, placeholders filled in."""
        return {k: self.fill(v) for k, v in self.spec.env}


def _run(cmd: list[str] | str, cwd: Path, env: Mapping[str, str], logf: Any, what: str, timeout: float = 3600) -> None:
    shell = isinstance(cmd, str)
    logf.write(f"$ {cmd if shell else ' '.join(shlex.quote(c) for c in cmd)}\n")
    logf.flush()
    argv = ["bash", "-c", cmd] if isinstance(cmd, str) else cmd
    p = subprocess.run(argv, cwd=str(cwd), env=dict(env), stdout=logf, stderr=subprocess.STDOUT, timeout=timeout)
    if p.returncode != 0:
        raise EnvError(f"{what} failed (exit {p.returncode}): {cmd if shell else ' '.join(cmd)}; see {logf.name}")


def build_requires(repo: Path) -> list[str]:
    """[build-system] requires of the repository's pyproject.toml (none without one)."""
    import tomllib

    path = repo / "pyproject.toml"
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return []
    return [str(r) for r in (data.get("build-system") or {}).get("requires") or []]


_NOT_ON_INDEX = re.compile(r"No matching distribution found for ([A-Za-z0-9_.\-]+)")
_UNBUILDABLE = re.compile(r"^Failed to build ([A-Za-z0-9_.\- ]+)$", re.M)


def _dist_name(requirement: str) -> str:
    """The normalised distribution name of a requirement ("Foo_Bar[x]>=1" -> "foo-bar")."""
    return re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0]).lower()


def _index_url(env: Mapping[str, str]) -> str:
    return (env.get("PIP_INDEX_URL") or os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple").rstrip("/")


def missing_from_index(requirements: list[str], index_url: str, workers: int = 16,
                       timeout: float = 20) -> list[str] | None:
    """The distribution names of `requirements` that cannot install from the package index: names
    it does not know (PEP 503 simple API), or exact pins to a version it does not list (PEP 700
    JSON pages); None when the index could not be asked (then the caller falls back to installing
    and dropping one at a time).

    An environment file converted from conda lists many system libraries that pip cannot install
    (curl, hdf4, aws-sdk-cpp, ...): finding them in one parallel pass saves a full pip resolution
    per package."""
    import urllib.error
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    def known(item: tuple[str, str | None]) -> bool | None:
        name, version = item
        req = urllib.request.Request(f"{index_url}/{name}/", headers={
            "Accept": "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.5, text/html;q=0.1"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                kind = resp.headers.get("Content-Type", "")
                body = resp.read() if version and "json" in kind else b""
        except urllib.error.HTTPError as e:
            return False if e.code == 404 else None
        except (urllib.error.URLError, OSError, ValueError):
            return None
        if not body:
            return True
        try:  # PEP 700: the JSON page lists the versions; a pin to none of them cannot install
            versions = json.loads(body).get("versions")
        except ValueError:
            return True
        return True if not isinstance(versions, list) else _version_listed(version or "", versions)

    pins = {_dist_name(r): _exact_pin(r) for r in requirements if _dist_name(r)}
    unique = sorted(pins)
    if not unique:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(unique)))) as pool:
        answers = dict(zip(unique, pool.map(known, [(n, pins[n]) for n in unique]), strict=True))
    if any(a is None for a in answers.values()):
        return None
    return [n for n in unique if answers[n] is False]


def _exact_pin(requirement: str) -> str | None:
    m = re.search(r"==\s*([A-Za-z0-9_.!+\-]+)\s*$", requirement.split(";", 1)[0])
    return m.group(1) if m else None


def _version_listed(version: str, versions: list[Any]) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        want = Version(version)
    except InvalidVersion:
        return version in versions
    for v in versions:
        try:
            if Version(str(v)) == want:
                return True
        except InvalidVersion:
            continue
    return False


def _install_dropping_missing(pip: list[str], packages: list[str], cwd: Path, env: Mapping[str, str], logf: Any,
                              rounds: int = 40, drop_unbuildable: bool = False) -> None:
    """pip install `packages`; a pin that names no distribution on the index (a conda-only package
    converted from an environment file) is dropped, logged and the install retried. With
    `drop_unbuildable` (a conda layer, translated on a best-effort basis), so is a package whose
    source distribution does not build for this Python (conda's noarch backports.zoneinfo on 3.10)."""
    packages = list(packages)
    absent = missing_from_index(packages, _index_url(env))
    if absent:
        log.warning("swe-env: %d packages of the environment are not on the package index at their pinned "
                    "version (conda-only); installing without them: %s", len(absent), ", ".join(absent))
        logf.write(f"# not on the package index, dropped: {', '.join(absent)}\n")
        packages = [p for p in packages if _dist_name(p) not in set(absent)]
    for _ in range(rounds):
        try:
            _run(pip + ["install", *packages], cwd, env, logf, "installing packages")
            return
        except EnvError:
            logf.flush()
            tail = Path(logf.name).read_text(errors="replace")[-4000:]
            found = _NOT_ON_INDEX.findall(tail)
            unbuildable = _UNBUILDABLE.findall(tail) if drop_unbuildable else []
            if unbuildable and (not found or tail.rfind("Failed to build") > tail.rfind("No matching distribution")):
                names = {_dist_name(n) for n in unbuildable[-1].split()}
                why = "does not build for this Python"
            elif found:
                names = {_dist_name(found[-1])}  # this attempt's, the last in the log
                why = "is not on the package index"
            else:
                raise
            kept = [p for p in packages if _dist_name(p) not in names]
            if len(kept) == len(packages):
                raise
            log.warning("swe-env: %s %s; installing without it", ", ".join(sorted(names)), why)
            logf.write(f"# {why}, dropped: {', '.join(sorted(names))}\n")
            packages = kept
    raise EnvError(f"too many packages missing from the package index; see {logf.name}")


class EnvStore:
    """Environments under one root directory (default .cache/swe/envs)."""

    def __init__(self, root: str | Path, *, specs: SpecTable | None = None, resources: Iterable[str | Path] = (),
                 interpreters: Mapping[str, str] | None = None, pip_cache: str | Path | None = None):
        self.root = Path(root).expanduser().resolve()
        self.specs = specs or SpecTable()
        self.resources = resource_dirs(resources)
        self.interpreters = dict(interpreters or {})
        self.pip_cache = Path(pip_cache).expanduser().resolve() if pip_cache else self.root.parent / "pip"

    @classmethod
    def from_cfg(cls, cfg: Mapping[str, Any] | None) -> EnvStore:
        from harness.tasks.swebench import project_path

        cfg = dict(cfg or {})
        dirs = [SPEC_DIR] + [p for d in (cfg.get("specs") or []) if (p := project_path(d, must_exist=True))]
        root = project_path(cfg.get("root") or ".cache/swe/envs")
        assert root is not None  # a non-empty path
        return cls(root, specs=SpecTable(dirs),
                   resources=[str(project_path(r)) for r in (cfg.get("resources") or [])],
                   interpreters={str(k): str(v) for k, v in (cfg.get("interpreters") or {}).items()},
                   pip_cache=project_path(cfg.get("pip_cache")) if cfg.get("pip_cache") else None)

    # Resolving ---------------------------------------------------------------------------------
    def spec_for(self, instance: Any) -> EnvSpec:
        spec = self.specs.spec(instance.repo, instance.version,
                               instance.environment_setup_commit or instance.base_commit)
        spec = replace(spec, fallback_commit=instance.base_commit)
        res = instance_resource(instance.instance_id, instance.repo, self.resources)
        if res is not None:
            python, pins, pip_pins = environment_layers(res.read_text(encoding="utf-8"))
            spec = replace(spec, python=python or spec.python,
                           packages=tuple(pins),
                           pip_packages=tuple(pip_pins) + tuple(p for p in spec.packages if _kept_with_frozen(p)),
                           requirements=(), environment_yml=(), source=f"{spec.source} + {res}")
        else:
            spec = replace(spec, keep_frozen_pins=False)
        return spec

    def path(self, spec: EnvSpec) -> Path:
        return self.root / spec.key

    def get(self, spec: EnvSpec) -> Env | None:
        path = self.path(spec)
        marker = path / MARKER
        if not marker.is_file():
            return None
        info = json.loads(marker.read_text())
        return Env(path, spec, info["base_python"], info)

    def require(self, spec: EnvSpec) -> Env:
        env = self.get(spec)
        if env is None:
            raise EnvError(f"no environment for {spec.repo} {spec.version} at {self.path(spec)}: build it with "
                           f"`python -m harness swe-env build TASK` (needs the package index once)")
        return env

    # Building ----------------------------------------------------------------------------------
    def build(self, spec: EnvSpec, repos: Any = None, *, force: bool = False) -> Env:
        path = self.path(spec)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(path.name + ".lock"), "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                log.info("swe-env: waiting for another build of %s", spec.key)
                fcntl.flock(lock, fcntl.LOCK_EX)
            env = self.get(spec)
            if env is not None and not force:
                return env
            if path.exists():
                shutil.rmtree(path)
            t0 = time.time()
            try:
                return self._build(spec, path, repos, t0)
            except BaseException:
                (path / MARKER).unlink(missing_ok=True)
                raise

    def _build(self, spec: EnvSpec, path: Path, repos: Any, t0: float) -> Env:
        base = find_interpreter(spec.python, self.interpreters)
        path.mkdir(parents=True)
        (path / "cache").mkdir()
        self.pip_cache.mkdir(parents=True, exist_ok=True)
        logp = path / "build.log"
        log.info("swe-env: building %s (Python %s from %s); log: %s", spec.key, spec.python, base, logp)
        with open(logp, "w") as logf:
            _run([base, "-m", "venv", str(path)], path, os.environ, logf, "creating the virtualenv")
            py = str(path / "bin" / "python")
            site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, check=True).stdout.decode().strip()
            if spec.inherit_site_packages:  # the harness's own packages (pytest, ...), offline
                own = sysconfig.get_paths()["purelib"]
                Path(site, "zz_harness_inherit.pth").write_text(f"import site; site.addsitedir({own!r})\n")
            env = {**os.environ, "PATH": f"{path / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
                   "VIRTUAL_ENV": str(path), "PIP_CACHE_DIR": str(self.pip_cache),
                   "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONNOUSERSITE": "1"}
            env.pop("PYTHONPATH", None)
            pip = [py, "-m", "pip"]
            if not spec.inherit_site_packages:
                new_pip, new_wheel = pip_for(_version_of(py) or spec.python)
                _run(pip + ["install", "-U", new_pip], path, env, logf, "updating pip")
                _run(pip + ["install", "-U", new_wheel], path, env, logf, "installing wheel")
            # with a repository's environment file, its packages go in first and the spec's pins after
            # them (as swebench's images run `conda env create` and then pip install the pins): the
            # file's unpinned packages would otherwise move the pins (numpy 2 under pandas 1.5)
            packages_pending = bool(spec.packages)
            if spec.packages and not spec.environment_yml:
                _install_dropping_missing(pip, list(spec.packages), path, env, logf,
                                          drop_unbuildable=bool(spec.pip_packages))
                packages_pending = False
            if spec.pip_packages:
                _install_dropping_missing(pip, list(spec.pip_packages), path, env, logf)
            work = Path(tempfile.mkdtemp(prefix="swe-env-", dir=path))
            try:
                needs_repo = spec.requirements or spec.environment_yml or (spec.setup and spec.build_setup)
                if needs_repo:
                    if repos is None or not spec.setup_commit:
                        raise EnvError(f"{spec.key}: building it reads the repository; give task.repo_cache")
                    commit = spec.setup_commit
                    if spec.fallback_commit and not repos.has_commit(spec.repo, commit):
                        log.warning("swe-env: %s: environment_setup_commit %s is not in the clone; using the "
                                    "instance's base commit %s", spec.key, commit[:12], spec.fallback_commit[:12])
                        commit = spec.fallback_commit
                    repos.export(spec.repo, commit, work / "repo")
                    repo = work / "repo"
                    for rel in spec.requirements:
                        if (repo / rel).is_file():
                            _run(pip + ["install", "-r", str(repo / rel)], repo, env, logf, f"installing {rel}")
                            break
                    for rel in spec.environment_yml:
                        if (repo / rel).is_file():
                            _, conda_reqs, pip_reqs = environment_layers((repo / rel).read_text())
                            # a conda file translated to pip: its conda-only packages are left out
                            for layer, conda in ((conda_reqs, True), (pip_reqs, False)):
                                if layer:
                                    _install_dropping_missing(pip, layer, repo, env, logf, drop_unbuildable=conda)
                            break
                    if packages_pending:
                        _install_dropping_missing(pip, list(spec.packages), path, env, logf)
                        packages_pending = False
                    if spec.setup and spec.build_setup:
                        # attempts install offline without build isolation: the build backend and
                        # its plugins (e.g. setuptools_scm) must be in the environment
                        build_reqs = build_requires(repo)
                        if build_reqs:
                            _run(pip + ["install", *build_reqs], repo, env, logf, "installing the build requirements")
                        renv = {**env, **Env(path, spec, base).variables()}
                        before = _freeze(pip, env) if spec.keep_frozen_pins else {}
                        for cmd in spec.setup:
                            cmd = Env(path, spec, base).fill(cmd)
                            try:
                                _run(cmd, repo, renv, logf, "the setup step at environment_setup_commit")
                            except EnvError:
                                if "pip install" not in cmd:
                                    raise
                                # the project's declared build backend may predate editable installs
                                # (PEP 660): build with the environment's own setuptools instead
                                _run(cmd.replace("pip install", "pip install --no-build-isolation", 1), repo,
                                     renv, logf, "the setup step at environment_setup_commit")
                        moved = [f"{n}=={v}" for n, v in before.items() if _freeze(pip, env).get(n, v) != v]
                        if moved:  # the checkout at environment_setup_commit asked for other versions
                            _run(pip + ["install", "--no-deps", *moved], repo, env, logf, "restoring the frozen pins")
                        self._remove_own_distribution(py, repo, env, logf)
                cenv = {**env, **Env(path, spec, base).variables(), "HOME": str(path / "cache")}
                for cmd in spec.cache:
                    _run(Env(path, spec, base).fill(cmd), path / "cache", cenv, logf, "the cache step")
            finally:
                shutil.rmtree(work, ignore_errors=True)
            freeze = subprocess.run(pip + ["freeze", "--all"], capture_output=True, env=env).stdout.decode()
            (path / "freeze.txt").write_text(freeze)
        info = {"key": spec.key, "spec": spec.content(), "source": spec.source, "base_python": base,
                "python_version": _version_of(py), "site_packages": site, "built_at": time.time(),
                "build_seconds": round(time.time() - t0, 1)}
        os.chmod(path, 0o755)
        (path / MARKER).write_text(json.dumps(info, indent=1))
        log.info("swe-env: built %s in %.0fs", spec.key, info["build_seconds"])
        return Env(path, spec, base, info)

    @staticmethod
    def _remove_own_distribution(py: str, repo: Path, env: Mapping[str, str], logf: Any) -> None:
        """The build-time install of the repository brought its dependencies; the repository itself
        must not stay in the environment (each attempt installs its own working copy)."""
        names = set()
        code = ("import json, sys, os\n"
                "try:\n from importlib import metadata as m\nexcept ImportError:\n import importlib_metadata as m\n"
                "out = []\n"
                "for d in m.distributions():\n"
                "  t = d.read_text('direct_url.json') or ''\n"
                "  f = [str(x) for x in (d.files or [])]\n"
                "  if sys.argv[1] in t or any(x.endswith('.egg-link') for x in f): out.append(d.metadata['Name'])\n"
                "print(json.dumps(out))\n")
        p = subprocess.run([py, "-c", code, str(repo)], capture_output=True, env=dict(env))
        if p.returncode == 0:
            names.update(json.loads(p.stdout.decode() or "[]"))
        sp = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                            capture_output=True, env=dict(env)).stdout.decode().strip()
        for link in Path(sp).glob("*.egg-link"):
            if str(repo) in link.read_text(errors="replace"):
                names.add(link.stem)
        for name in sorted(names):
            _run([py, "-m", "pip", "uninstall", "-y", name], repo, env, logf, f"removing {name} from the environment")
        for pth in Path(sp).glob("*.pth"):  # what a legacy install left pointing at the checkout
            text = pth.read_text(errors="replace")
            if str(repo) in text:
                pth.write_text("".join(line for line in text.splitlines(True) if str(repo) not in line))

    # Listing -----------------------------------------------------------------------------------
    def list(self) -> list[dict[str, Any]]:
        out = []
        for marker in sorted(self.root.glob(f"*/*/{MARKER}")):
            info = json.loads(marker.read_text())
            size = sum(f.stat().st_size for f in marker.parent.rglob("*") if f.is_file() and not f.is_symlink())
            out.append({**info, "path": str(marker.parent), "size_mb": round(size / 2**20, 1)})
        return out
