"""The local executor: run an instance's tests against a candidate patch, contained.

Per attempt:

1. the patch is validated (harness.scoring.patch) before anything touches a repository;
2. a fresh working copy of the repository at ``base_commit`` is exported into a new directory;
3. the patch is checked with ``git apply --check`` and applied (optionally GNU ``patch`` with
   fuzz as a fallback, as the swebench harness does);
4. the files the test patch touches are reset to the base commit and the test patch applied;
5. pytest runs the test files of the instance in a subprocess, contained:

   - its own session and process group; a wall-clock timeout kills the whole group;
   - as root (the usual case in containers and CI images): a fresh unprivileged uid/gid per
     attempt, so RLIMIT_NPROC is enforced (it is not for root), the tests cannot write anywhere
     but their own directories and world-writable ones, and every process of that uid can be
     found and killed afterwards, even one that left the process group;
   - a pids (and memory) cgroup when the cgroup tree is writable;
   - rlimits: CPU seconds, address space, file size, processes, open files, no core files;
   - a new network namespace (only loopback, no route out) when the OS allows; otherwise a
     warning is logged once and the tests run with the host network;
   - a minimal environment: PATH, HOME and TMPDIR inside the attempt directory,
     PYTHONHASHSEED=0, TZ=UTC, a UTF-8 locale; nothing else from the parent (no tokens, no keys);

6. the log is graded by swebench's own grading code (harness.swe.grading); leftover processes
   are killed, files the uid left in /tmp, /var/tmp and /dev/shm are removed, the directory is
   deleted.

Without root, the tests run under the caller's uid: the rlimits and the process-group kill
still apply, but RLIMIT_NPROC then counts every process of the user, so the limit is raised by
the user's current process count, and nothing stops a test from writing where the user can.
`containment()` reports what is in force; it is logged once per process and recorded in metrics.
"""

from __future__ import annotations

import ctypes
import fcntl
import logging
import os
import pwd
import re
import resource
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from swebench.harness.constants import NON_TEST_EXTS

from harness.errors import HarnessError
from harness.scoring.patch import PatchRejected, patch_paths, validate_patch
from harness.swe import APPLY_FAILED, ERROR, NO_PATCH, OK, TIMEOUT, ExecResult, Instance
from harness.swe.envs import Env, EnvStore
from harness.swe.grading import grade
from harness.swe.repos import RepoStore, git

log = logging.getLogger(__name__)

GiB = 1 << 30
MiB = 1 << 20
CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 4096, 16384, 1 << 18
UID_BASE = 620_000  # sandbox uids: UID_BASE .. UID_BASE + UID_SPAN - 1 (not in /etc/passwd)
UID_SPAN = 60_000


@dataclass(frozen=True)
class Limits:
    timeout: float = 600.0  # wall clock, seconds, for the whole test run
    cpu_seconds: int = 600
    address_space: int = 4 * GiB  # per process
    memory: int = 8 * GiB  # per attempt, when a memory cgroup is available
    file_size: int = 256 * MiB
    nproc: int = 256
    nofile: int = 1024
    log_bytes: int = 8 * MiB  # how much of the test log is read back

    @classmethod
    def from_cfg(cls, cfg: Mapping[str, Any] | None) -> Limits:
        cfg = dict(cfg or {})
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(cfg) - known
        if unknown:
            from harness.errors import ConfigError

            raise ConfigError(f"task.sandbox.limits.{sorted(unknown)[0]}", f"unknown limit (known: {sorted(known)})")
        return cls(**{k: _size(v) if isinstance(v, str) else v for k, v in cfg.items()})


def _size(v: str) -> float:
    m = re.fullmatch(r"\s*([\d.]+)\s*([KMG]i?B?)?\s*", v, re.I)
    if not m:
        raise ValueError(f"not a size: {v!r}")
    unit = (m.group(2) or "").upper()[:1]
    return int(float(m.group(1)) * {"": 1, "K": 1 << 10, "M": MiB, "G": GiB}[unit])


@dataclass
class Containment:
    root: bool = False
    uid_switch: bool = False
    netns: bool = False
    cgroup_pids: str | None = None  # parent cgroup directory where per-attempt cgroups are made
    cgroup_memory: str | None = None
    hidden: dict[str, list[str]] = field(default_factory=dict)  # covered by a tmpfs, see _expose
    warnings: list[str] = field(default_factory=list)

    @property
    def process_limit(self) -> bool:
        """Is a fork bomb bounded without hurting the caller's other processes?"""
        return self.uid_switch or self.cgroup_pids is not None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["process_limit"] = self.process_limit
        return d


def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def _unshare_net() -> None:
    if _libc().unshare(CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    try:  # bring loopback up: tests that talk to localhost keep working
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        ifr = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, ifr)[:18])[1]  # SIOCGIFFLAGS
        fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 0x1))  # SIOCSIFFLAGS, IFF_UP
        s.close()
    except OSError:
        pass


def _mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(x: str | None) -> bytes | None:
        return None if x is None else x.encode()

    if _libc().mount(enc(src), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"mount {target}: {os.strerror(e)}")


def hidden_ancestors(paths: list[str]) -> dict[str, list[str]]:
    """For each path, its topmost ancestor that others cannot traverse (e.g. /root, mode 0700),
    with the child names under it that lead to the paths: {"/root": [".pyenv"]}."""
    out: dict[str, list[str]] = {}
    for p in paths:
        cur = Path("/")
        for part in Path(os.path.realpath(p)).parts[1:]:
            try:
                mode = cur.stat().st_mode
            except OSError:
                break
            if not mode & 0o001:
                names = out.setdefault(str(cur), [])
                if part not in names:
                    names.append(part)
                break
            cur = cur / part
    return out


def _expose(hidden: dict[str, list[str]]) -> None:
    """In a new mount namespace: cover each hidden ancestor with an empty tmpfs and bind back only
    the entries on the way to what the tests need (the interpreter). The rest of, e.g., /root
    (keys, tokens, caches) is not visible to the tests at all."""
    if _libc().unshare(CLONE_NEWNS) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    # opened inside the new namespace (a bind source must be one of its mounts), before covering
    fds = {(a, n): os.open(os.path.join(a, n), os.O_RDONLY | os.O_DIRECTORY)
           for a, names in hidden.items() for n in names}
    for a, names in hidden.items():
        _mount("tmpfs", a, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
        for n in names:
            os.mkdir(os.path.join(a, n))
            _mount(f"/proc/self/fd/{fds[(a, n)]}", os.path.join(a, n), None, MS_BIND | MS_REC)
    for fd in fds.values():
        os.close(fd)


def _self_cgroup(controller: str) -> str | None:
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, ctrls, path = line.split(":", 2)
            if controller in ctrls.split(","):
                return path
    except OSError:
        return None
    return None


def _probe_cgroup(controller: str, limit_file: str) -> str | None:
    rel = _self_cgroup(controller)
    if rel is None:
        return None
    base = Path("/sys/fs/cgroup") / controller / rel.lstrip("/")
    if not (base / "cgroup.procs").exists():
        return None
    probe = base / f"harness-probe-{os.getpid()}"
    try:
        probe.mkdir()
        ok = (probe / limit_file).exists()
        probe.rmdir()
        return str(base) if ok else None
    except OSError:
        return None


_CONTAINMENT: dict[tuple[str, ...], Containment] = {}


def _needed_paths(python: str, work_root: str, extra: tuple[str, ...] = ()) -> list[str]:
    real = os.path.realpath(python)
    prefix = os.path.dirname(os.path.dirname(real))  # the interpreter's installation
    return [real, prefix, os.path.realpath(sys.base_prefix), work_root, *extra]


def containment(python: str | None = None, work_root: str | None = None, extra_paths: tuple[str, ...] = ()) -> Containment:
    """What this machine allows (probed once per process, interpreter and paths; logged once).

    `extra_paths` are what the tests must reach besides the interpreter (the environment)."""
    python = python or sys.executable
    work_root = work_root or tempfile.gettempdir()
    key = (python, work_root, *extra_paths)
    if key in _CONTAINMENT:
        return _CONTAINMENT[key]
    c = Containment(root=os.geteuid() == 0)
    if c.root:
        uid = UID_BASE + UID_SPAN - 1
        c.hidden = hidden_ancestors(_needed_paths(python, work_root, extra_paths))
        hidden = c.hidden

        def become() -> None:
            if hidden:
                _expose(hidden)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)

        try:
            p = subprocess.run([python, "-c", "import sys"], preexec_fn=become, capture_output=True,
                               cwd="/", env={"PATH": "/usr/bin:/bin", "HOME": "/"}, timeout=60)
            c.uid_switch = p.returncode == 0
            if not c.uid_switch:
                c.warnings.append(f"an unprivileged uid cannot run {python}: "
                                  f"{p.stderr.decode(errors='replace').strip()[-200:]}")
        except (subprocess.SubprocessError, OSError) as e:
            c.warnings.append(f"cannot switch to an unprivileged uid: {e}")
        c.cgroup_pids = _probe_cgroup("pids", "pids.max")
        c.cgroup_memory = _probe_cgroup("memory", "memory.limit_in_bytes")
    try:
        c.netns = subprocess.run(["true"], preexec_fn=_unshare_net, check=False).returncode == 0
    except (subprocess.SubprocessError, OSError):
        c.netns = False
    if not c.netns:
        c.warnings.append("network namespaces are not available (unshare -n): tests run with the host network")
    if not c.root:
        c.warnings.append("not root: tests run under the caller's uid; RLIMIT_NPROC counts all of the user's "
                          "processes and files the caller can write are writable by tests")
    if not c.process_limit:
        c.warnings.append("no per-attempt process limit (no uid switch, no writable pids cgroup)")
    for w in c.warnings:
        log.warning("sandbox: %s", w)
    log.info("sandbox containment: %s", {k: v for k, v in c.to_json().items() if k != "warnings"})
    _CONTAINMENT[key] = c
    return c


def refusal(c: Containment) -> str | None:
    """Why an attempt must not run at all: as root, without the unprivileged uid."""
    if c.root and not c.uid_switch:
        why = next((w for w in c.warnings if "uid" in w), "the uid switch failed")
        return f"sandbox: the tests would run as root ({why}); refusing to run them"
    return None


# --- processes of running attempts (killed when the harness itself is stopped) -------------------

PR_SET_PDEATHSIG = 1
_ACTIVE: dict[int, tuple[int | None, list[Path]]] = {}  # pid of a test process -> (uid, cgroups)


def set_pdeathsig(sig: int = signal.SIGKILL) -> None:
    """This process gets `sig` when its parent dies (Linux)."""
    try:
        _libc().prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def kill_active() -> int:
    """Kill the process group, uid and cgroups of every attempt running in this process."""
    n = 0
    for pid, (uid, cgroups) in list(_ACTIVE.items()):
        try:
            os.killpg(pid, signal.SIGKILL)
            n += 1
        except (ProcessLookupError, PermissionError):
            pass
        if uid is not None:
            n += _kill_uid(uid, rounds=5)
        for cg in cgroups:
            _kill_cgroup(cg, rounds=5)
        _ACTIVE.pop(pid, None)
    return n


def install_cleanup_handlers() -> None:
    """On SIGTERM, SIGINT or SIGHUP: kill the running attempts' processes, then exit as the signal
    would. (A SIGKILL of this process is covered by PR_SET_PDEATHSIG on the test processes.)"""
    def handler(signum: int, frame: Any) -> None:
        kill_active()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, handler)


# --- uids, processes, cleanup -----------------------------------------------------------------


class _UidClaim:
    """An unused uid in the sandbox range, held (flock) for one attempt."""

    def __init__(self) -> None:
        d = Path(tempfile.gettempdir()) / "harness-sandbox-uids"
        d.mkdir(mode=0o700, exist_ok=True)
        start = os.getpid() % UID_SPAN
        for i in range(UID_SPAN - 1):
            uid = UID_BASE + (start + i) % (UID_SPAN - 1)
            try:
                pwd.getpwuid(uid)
                continue  # a real account: never borrow it
            except KeyError:
                pass
            f = open(d / f"{uid}.lock", "w")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.close()
                continue
            if _pids_of_uid(uid):  # a leftover of a crashed attempt: clean it before reuse
                _kill_uid(uid)
            self.uid, self._lock = uid, f
            return
        raise RuntimeError("no free sandbox uid")

    def release(self) -> None:
        self._lock.close()


def _pids_of_uid(uid: int) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"Uid:"):
                        if int(line.split()[1]) == uid:  # real uid
                            pids.append(int(entry.name))
                        break
        except (OSError, ValueError):
            continue
    return pids


def _kill_uid(uid: int, rounds: int = 50) -> int:
    killed = 0
    for _ in range(rounds):
        pids = _pids_of_uid(uid)
        if not pids:
            return killed
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        time.sleep(0.02)
    log.warning("sandbox: processes of uid %d survive repeated SIGKILL", uid)
    return killed


def _kill_cgroup(path: Path, rounds: int = 50) -> None:
    for _ in range(rounds):
        try:
            pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
        except OSError:
            return
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)


def _remove_tmp_files_of(uid: int) -> list[str]:
    removed = []
    for d in ("/tmp", "/var/tmp", "/dev/shm"):
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            try:
                if e.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if e.is_dir(follow_symlinks=False):
                    shutil.rmtree(e.path, ignore_errors=True)
                else:
                    os.unlink(e.path)
                removed.append(e.path)
            except OSError:
                continue
    return removed


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid, follow_symlinks=False)
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def _rmtree(path: Path) -> None:
    top = os.path.realpath(path)

    def onerror(func, p, exc_info):  # a test may have removed permissions on its own files
        try:
            parent = os.path.dirname(os.path.realpath(p))
            if parent.startswith(top + os.sep) or parent == top:  # never above the tree (e.g. /tmp)
                os.chmod(parent, 0o700)
            if os.path.realpath(p) != top:
                os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=onerror)


# --- the executor ---------------------------------------------------------------------------

_LIMIT_SIGNS = (
    ("memory", re.compile(r"MemoryError|Cannot allocate memory|std::bad_alloc")),
    ("file_size", re.compile(r"File too large|\[Errno 27\]")),
    ("nproc", re.compile(r"BlockingIOError: \[Errno 11\]|Resource temporarily unavailable")),
    ("network", re.compile(r"Network is unreachable|\[Errno 101\]|Temporary failure in name resolution|"
                           r"Name or service not known|\[Errno -[23]\]")),
    ("nofile", re.compile(r"Too many open files|\[Errno 24\]")),
)


def directives_for(instance: Instance, style: str = "files") -> list[str]:
    """What the test command is given, as swebench derives it: the files the test patch touches
    (not data files), as paths (`files`) or as Django test labels (`django`)."""
    out: list[str] = []
    for path in re.findall(r"diff --git a/.* b/(.*)", instance.test_patch):
        if any(path.endswith(ext) for ext in NON_TEST_EXTS):
            continue
        if style == "django":
            path = path[: -len(".py")] if path.endswith(".py") else path
            path = path[len("tests/"):] if path.startswith("tests/") else path
            path = path.replace("/", ".")
        if path not in out:
            out.append(path)
    return out


def offline_setup_command(cmd: str) -> str:
    """A setup command as run in an attempt: pip installs use only what the environment has."""
    return re.sub(r"\bpip install\b", "pip install --no-deps --no-build-isolation --no-index", cmd)


def pytest_autoload(setting: bool | None, inherits_harness_packages: bool) -> bool:
    """Whether pytest may load the installed plugins in an attempt: `task.executor.plugin_autoload`
    when set, else yes for an instance's own environment and no for one that inherits the harness's."""
    return (not inherits_harness_packages) if setting is None else setting


class LocalExecutor:
    """Runs attempts one at a time in the calling process (scoring workers run several at once).

    Each instance runs in the environment its repository's spec names (harness.swe.envs): the
    environment's packages are shared read-only; each attempt gets its own small virtualenv on top
    of them, into which the spec's setup step installs the attempt's working copy (editable)."""

    name = "local"

    def __init__(self, repos: RepoStore, limits: Limits | None = None, *, envs: EnvStore | None = None,
                 auto_build: bool = False, work_root: str | None = None, patch_fallback: bool = True,
                 plugin_autoload: bool | None = None, keep: bool = False):
        self.repos = repos
        self.limits = limits or Limits()
        self.envs = envs or EnvStore(".cache/swe/envs")
        self.auto_build = auto_build
        self.work_root = Path(work_root or tempfile.gettempdir())
        self.patch_fallback = patch_fallback
        self.plugin_autoload = plugin_autoload
        self.keep = keep

    @classmethod
    def from_cfg(cls, cfg: Mapping[str, Any], repos: RepoStore) -> LocalExecutor:
        cfg = dict(cfg or {})
        if cfg.get("python"):
            from harness.errors import ConfigError

            raise ConfigError("task.executor.python", "replaced by environments (task.executor.envs, "
                                                      "configs/swe/envs/); see docs/swebench.md")
        envs_cfg = dict(cfg.get("envs") or {})
        return cls(repos, Limits.from_cfg(cfg.get("limits")), envs=EnvStore.from_cfg(envs_cfg),
                   auto_build=bool(envs_cfg.get("auto_build", False)), work_root=cfg.get("work_root"),
                   patch_fallback=bool(cfg.get("patch_fallback", True)),
                   plugin_autoload=(None if cfg.get("plugin_autoload") is None else bool(cfg["plugin_autoload"])),
                   keep=bool(cfg.get("keep", False)))

    @classmethod
    def from_task(cls, cfg: Mapping[str, Any], task: Any) -> LocalExecutor:
        return cls.from_cfg(cfg, task.repos())

    def environment(self, instance: Instance) -> Env:
        spec = self.envs.spec_for(instance)
        env = self.envs.get(spec)
        if env is None:
            if not self.auto_build:
                return self.envs.require(spec)
            env = self.envs.build(spec, self.repos)
        return env

    def containment_for(self, env: Env) -> Containment:
        return containment(env.base_python, str(self.work_root), (str(env.path),))

    # The one public call --------------------------------------------------------------------
    def evaluate(self, instance: Instance, patch: str | None) -> ExecResult:
        """Resolve `instance` with `patch`. An empty patch runs the tests on the unchanged
        repository (the baseline): status no_patch, never resolved, its test results recorded."""
        t0 = time.time()
        try:
            r = self._evaluate(instance, patch)
        except PatchRejected as e:
            r = ExecResult(status=e.reason, detail=e.detail)
        except HarnessError as e:
            r = ExecResult(status=ERROR, detail=str(e))
        except Exception as e:  # an executor failure is the sample's error, not the run's
            log.exception("sandbox: %s failed", instance.instance_id)
            r = ExecResult(status=ERROR, detail=f"{type(e).__name__}: {e}")
        r.seconds = round(time.time() - t0, 3)
        return r

    def _evaluate(self, instance: Instance, patch: str | None) -> ExecResult:
        empty = not patch or not patch.strip()
        if not empty:
            validate_patch(patch or "")  # before any repository work
        env = self.environment(instance)
        self.work_root.mkdir(parents=True, exist_ok=True)
        c = self.containment_for(env)
        why = refusal(c)
        if why:
            return ExecResult(status=ERROR, detail=why)
        root = Path(tempfile.mkdtemp(prefix="harness-swe-", dir=self.work_root))
        claim = _UidClaim() if c.uid_switch else None
        cgroups: list[Path] = []
        try:
            os.chmod(root, 0o711)
            repo = root / "repo"
            self.repos.export(instance.repo, instance.base_commit, repo)
            if not empty:
                validate_patch(patch or "", repo)  # symlinks already in the repository count too
                applied = self._apply(repo, root / "model.diff", patch or "")
                if applied is not None:
                    return applied
            self._reset_tests(repo, instance)
            for d in ("home", "tmp"):
                (root / d).mkdir(mode=0o700)
            self._attempt_venv(env, root / "venv")
            uid = claim.uid if claim else None
            if uid is not None:
                for d in (repo, root / "home", root / "tmp", root / "venv"):
                    _chown_tree(d, uid, uid)
            cgroups = self._make_cgroups(c, root.name)
            r = self._setup(instance, env, root, repo, uid, cgroups, c)
            if r is None:
                r = self._run_tests(instance, env, root, repo, uid, cgroups, c)
            if empty:
                r.status, r.resolved = NO_PATCH, False
                r.detail = "; ".join(x for x in ("empty patch: the tests ran on the unchanged repository",
                                                  r.detail) if x)
            return r
        finally:
            for cg in cgroups:
                _kill_cgroup(cg)
                try:
                    cg.rmdir()
                except OSError:
                    log.warning("sandbox: could not remove cgroup %s", cg)
            if claim is not None:
                _kill_uid(claim.uid)
                _remove_tmp_files_of(claim.uid)
                claim.release()
            if not self.keep:
                _rmtree(root)

    # Steps ----------------------------------------------------------------------------------
    def _apply(self, repo: Path, patch_file: Path, patch: str) -> ExecResult | None:
        patch_file.write_text(patch, encoding="utf-8")
        check = git(["apply", "--check", "--whitespace=nowarn", str(patch_file)], repo, check=False)
        if check.returncode == 0:
            git(["apply", "--whitespace=nowarn", str(patch_file)], repo)
            return None
        err = check.stderr.decode(errors="replace").strip()
        if self.patch_fallback and shutil.which("patch"):
            args = ["patch", "--batch", "--fuzz=5", "-p1", "--no-backup-if-mismatch", "-i", str(patch_file)]
            dry = subprocess.run([*args, "--dry-run"], cwd=repo, capture_output=True, timeout=60)
            if dry.returncode == 0:
                subprocess.run(args, cwd=repo, capture_output=True, timeout=60, check=True)
                return None
        return ExecResult(status=APPLY_FAILED, detail=err[-500:])

    def _reset_tests(self, repo: Path, instance: Instance) -> None:
        """Test files as at the base commit (whatever the model did to them), then the test patch."""
        tracked = set(git(["ls-files", "-z"], repo).stdout.decode().split("\0"))
        for p in patch_paths(instance.test_patch):
            target = repo / p
            if p in tracked:
                git(["checkout", "-q", "HEAD", "--", p], repo)
            elif target.is_file() or target.is_symlink():
                target.unlink()
        if instance.test_patch.strip():
            tp = repo.parent / "test.diff"
            tp.write_text(instance.test_patch, encoding="utf-8")
            p = git(["apply", "--whitespace=nowarn", str(tp)], repo, check=False)
            if p.returncode != 0:
                raise RuntimeError(f"the test patch does not apply: {p.stderr.decode(errors='replace')[-300:]}")

    @staticmethod
    def _attempt_venv(env: Env, path: Path) -> None:
        """A virtualenv of the environment's interpreter that sees the environment's packages
        (processed last, so the attempt's own editable install comes first)."""
        subprocess.run([env.base_python, "-m", "venv", "--without-pip", str(path)], check=True,
                       capture_output=True, timeout=120)
        site = subprocess.run([str(path / "bin" / "python"), "-c",
                               "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              check=True, capture_output=True, timeout=60).stdout.decode().strip()
        Path(site, "zz_harness_env.pth").write_text(f"import site; site.addsitedir({env.site_packages()!r})\n")

    def _make_cgroups(self, c: Containment, name: str) -> list[Path]:
        made = []
        for base, limit_file, value in ((c.cgroup_pids, "pids.max", self.limits.nproc),
                                        (c.cgroup_memory, "memory.limit_in_bytes", self.limits.memory)):
            if base is None:
                continue
            cg = Path(base) / name
            try:
                cg.mkdir()
                (cg / limit_file).write_text(str(int(value)))
                made.append(cg)
            except OSError as e:
                log.warning("sandbox: cgroup %s unusable: %s", cg, e)
        return made

    def _env(self, root: Path, env: Env) -> dict[str, str]:
        venv_bin = root / "venv" / "bin"
        out = {
            "PATH": f"{venv_bin}:{env.path / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            "VIRTUAL_ENV": str(root / "venv"),
            "HOME": str(root / "home"),
            "TMPDIR": str(root / "tmp"),
            "USER": "sandbox",
            "LOGNAME": "sandbox",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "TZ": "UTC",
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "PYTHONNOUSERSITE": "1",
            "PIP_NO_INDEX": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_CACHE_DIR": "1",
        }
        # pytest loads the plugins installed in the instance's environment, as in swebench's images
        # (astropy's setup.cfg passes --doctest-rst, an option of pytest-doctestplus); not in one that
        # inherits the harness's own site-packages, whose plugins are not the repository's
        if not pytest_autoload(self.plugin_autoload, env.spec.inherit_site_packages):
            out["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        out.update(env.variables())
        return out

    def _preexec(self, uid: int | None, c: Containment, cgroups: list[Path], shared_nproc: int):
        lim = self.limits
        rlimits = [
            (resource.RLIMIT_CPU, int(lim.cpu_seconds)),
            (resource.RLIMIT_AS, int(lim.address_space)),
            (resource.RLIMIT_FSIZE, int(lim.file_size)),
            (resource.RLIMIT_NOFILE, int(lim.nofile)),
            (resource.RLIMIT_CORE, 0),
            (resource.RLIMIT_NPROC, int(lim.nproc) + shared_nproc),
        ]
        procs_files = [str(cg / "cgroup.procs") for cg in cgroups]

        def preexec() -> None:
            os.setsid()
            for f in procs_files:
                with open(f, "w") as fh:
                    fh.write(str(os.getpid()))
            if uid is not None and c.hidden:
                _expose(c.hidden)
            if c.netns:
                _unshare_net()
            for res, value in rlimits:
                soft, hard = resource.getrlimit(res)
                value = value if hard == resource.RLIM_INFINITY else min(value, hard)
                resource.setrlimit(res, (value, value))
            if uid is not None:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
            set_pdeathsig(signal.SIGKILL)  # after the uid change, which clears it
            os.umask(0o022)

        return preexec

    def _contained(self, cmd: str, cwd: Path, env: dict[str, str], log_path: Path, uid: int | None,
                   cgroups: list[Path], c: Containment) -> tuple[int | None, bool, float]:
        """Run `cmd` (bash) contained; (exit code or None when killed by the timeout, timed out, seconds)."""
        shared = 0 if uid is not None else len(_pids_of_uid(os.getuid()))
        with open(log_path, "ab") as logf:
            os.chmod(log_path, 0o600)
            t0 = time.time()
            proc = subprocess.Popen(["bash", "-c", cmd], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=logf,
                                    stderr=subprocess.STDOUT, close_fds=True,
                                    preexec_fn=self._preexec(uid, c, cgroups, shared))
            _ACTIVE[proc.pid] = (uid, cgroups)
            timed_out = False
            try:
                code: int | None = proc.wait(timeout=self.limits.timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                code = None
            finally:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)  # the group: the runner and what it started
                except (ProcessLookupError, PermissionError):
                    pass
                if uid is not None:
                    _kill_uid(uid)  # and anything that left the group
                for cg in cgroups:
                    _kill_cgroup(cg)
                if timed_out:
                    proc.wait()
                _ACTIVE.pop(proc.pid, None)
        return code, timed_out, time.time() - t0

    def _setup(self, instance: Instance, env: Env, root: Path, repo: Path, uid: int | None,
               cgroups: list[Path], c: Containment) -> ExecResult | None:
        """The spec's setup step in the working copy (offline): None when it succeeded."""
        log_path = root / "setup.log"
        for cmd in env.spec.setup:
            cmd = offline_setup_command(env.fill(cmd))
            code, timed_out, _ = self._contained(cmd, repo, self._env(root, env), log_path, uid, cgroups, c)
            if timed_out or code != 0:
                text = _read_capped(log_path, self.limits.log_bytes)
                why = "timed out" if timed_out else f"exit {code}"
                return ExecResult(status=OK, resolved=False, detail=f"the setup step failed ({why}): {cmd}",
                                  log_tail=text[-4000:])
        return None

    def _run_tests(self, instance: Instance, env: Env, root: Path, repo: Path, uid: int | None,
                   cgroups: list[Path], c: Containment) -> ExecResult:
        directives = directives_for(instance, env.spec.directives)
        cmd = " ".join([env.spec.test_cmd, *(shlex.quote(d) for d in directives)])
        log_path = root / "test.log"
        code, timed_out, elapsed = self._contained(cmd, repo, self._env(root, env), log_path, uid, cgroups, c)
        text = _read_capped(log_path, self.limits.log_bytes)
        limits = [name for name, rx in _LIMIT_SIGNS if rx.search(text)]
        if code == -signal.SIGXCPU or code == 128 + signal.SIGXCPU or (
                code is not None and code < 0 and elapsed >= self.limits.cpu_seconds):
            limits.append("cpu")
        if timed_out:
            limits.append("wall_clock")
            return ExecResult(status=TIMEOUT, detail=f"tests exceeded {self.limits.timeout:g}s (killed)",
                              limits=limits, log_tail=text[-4000:])
        g = grade(text, code, instance, parser=env.spec.parser, workdir=root)
        return ExecResult(status=OK, resolved=g.resolved, tests=g.tests, limits=limits, detail=g.note,
                          log_tail=text[-4000:], collected=g.collected, unmatched=g.unmatched)


def _read_capped(path: Path, cap: int) -> str:
    size = path.stat().st_size
    with open(path, "rb") as f:
        if size <= cap:
            data = f.read()
        else:  # the summary is at the end: keep the head and a large tail
            head = f.read(cap // 8)
            f.seek(size - (cap - cap // 8))
            data = head + b"\n[... log cut ...]\n" + f.read()
    return data.decode("utf-8", errors="replace")



def probed() -> dict[str, Any]:
    """What containment this process found (the last probe; a fresh one for the harness's own
    interpreter when nothing ran here), for metrics.json."""
    if _CONTAINMENT:
        return list(_CONTAINMENT.values())[-1].to_json()
    return containment().to_json()
