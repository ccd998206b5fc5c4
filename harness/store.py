"""The results directory: one folder per run, append-only samples, atomic metadata.

results/runs/<run-id>/
  config.yaml     resolved config, secrets redacted
  manifest.json   versions, git sha, hardware, dataset fingerprint, protocol, status
  samples.jsonl   one line per completion, appended and flushed as it arrives
  scores.jsonl    one line per completion: id, sample, correct, extracted, reason, ...
                  (`harness rescore` adds scores.v2.jsonl, scores.v3.jsonl, ...: the newest is read)
  metrics.json    pass@1, cons@k, pass@k, standard errors, diagnostics
  run.log         the log of every invocation that worked on this run
  .lock           held (flock) by the process working on the run; released by the OS on exit

This module is the one place that writes and reads these files; the records are typed
(harness.runs.records). The runner, the scorer, the lm-eval bridge and the report all go
through RunStore.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from harness.errors import DataError, HarnessError
from harness.runs.records import Invocation, Manifest, Metrics, RunStatus, utc_now
from harness.types import Completion, Score

log = logging.getLogger(__name__)

# Secret-looking keys: API keys, tokens that authenticate (`token`, hf_token, auth_token, any
# *_token), authorization headers, passwords, secrets, credentials. Fields that count tokens
# (max_tokens, max_new_tokens, output_tokens: plural) and a tokenizer's special tokens
# (eos_token, ...) are part of the protocol and are kept.
SECRET_KEY = re.compile(r"(api[_-]?key|secret|passw(or)?d|authori[sz]ation|credential|token$)", re.IGNORECASE)
NOT_SECRET = re.compile(r"^(bos|eos|pad|unk|sep|cls|mask|stop|start|end)_token$", re.IGNORECASE)
REDACTED = "***redacted***"


def is_secret_key(key: str) -> bool:
    return bool(SECRET_KEY.search(key)) and not NOT_SECRET.match(key) and not key.endswith("_env")


def redact(obj: Any) -> Any:
    """Replace values under secret-looking keys. Keys ending in `_env` name an environment
    variable (not the secret itself) and are kept."""
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if is_secret_key(str(k)) and v not in (None, ""):
                out[k] = REDACTED
            else:
                out[k] = redact(v)
        return out
    if isinstance(obj, list):
        return [redact(v) for v in obj]
    return obj


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def identity_hash(identity: Mapping[str, Any]) -> str:
    blob = json.dumps(identity, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", s).strip("-") or "x"


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for every complete line. A torn last line (no newline, or not
    valid JSON, as left by a crash mid-write) is skipped with a warning; a bad line elsewhere is
    an error naming the file and line."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as f:
        lineno = 0
        for line in f:
            lineno += 1
            if not line.strip():
                continue
            complete = line.endswith("\n")
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                if not complete or not f.readline():
                    log.warning("%s:%d: skipping a torn last line", path, lineno)
                    return
                raise ValueError(f"{path}:{lineno}: invalid JSON: {e}") from e
            if not complete:
                # valid JSON but the newline never made it: treat as torn, it will be rewritten
                log.warning("%s:%d: skipping a last line without newline", path, lineno)
                return
            yield lineno, rec


def repair_tail(path: Path) -> int:
    """Cut a torn last line off an append-only JSONL file. Returns the bytes removed."""
    if not path.exists():
        return 0
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb+") as f:
        f.seek(max(0, size - 1))
        if f.read(1) == b"\n":
            return 0
        # find the last newline
        pos = size
        chunk = 65536
        while pos > 0:
            start = max(0, pos - chunk)
            f.seek(start)
            buf = f.read(pos - start)
            i = buf.rfind(b"\n")
            if i != -1:
                keep = start + i + 1
                break
            pos = start
        else:
            keep = 0
        f.truncate(keep)
        return size - keep


def scores_versions(run_dir: Path) -> list[Path]:
    """The run's scores files, oldest first: scores.jsonl, then scores.v2.jsonl, scores.v3.jsonl, ...
    (scores.jsonl alone, existing or not, when the run was never rescored)."""
    found = [(int(m.group(1)), p) for p in run_dir.glob("scores.v*.jsonl")
             if (m := re.fullmatch(r"scores\.v(\d+)\.jsonl", p.name))]
    return [run_dir / "scores.jsonl", *(p for _, p in sorted(found))]


def next_scores_path(run_dir: Path) -> Path:
    """Where the next scores version goes (never an existing file)."""
    latest = scores_versions(run_dir)[-1]
    n = 1 if latest.name == "scores.jsonl" else int(latest.name.split(".")[1][1:])
    return run_dir / f"scores.v{n + 1}.jsonl"
class RunLockedError(HarnessError):
    """Another process is working on the run."""


class RunStore:
    def __init__(self, path: Path):
        self.path = path
        self.samples_path = path / "samples.jsonl"
        self.scores_path = scores_versions(path)[-1]
        self.metrics_path = path / "metrics.json"
        self.manifest_path = path / "manifest.json"
        self.config_path = path / "config.yaml"
        self.lock_path = path / ".lock"
        self.log_path = path / "run.log"
        self._lock_file: IO[str] | None = None

    @property
    def run_id(self) -> str:
        return self.path.name

    # -- creation and lookup -------------------------------------------------------------
    @classmethod
    def create(cls, results_dir: Path, model: str, task: str, ident: str) -> RunStore:
        runs = results_dir / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        base = f"{stamp}-{_slug(model)}-{_slug(task)}-{ident[:8]}"
        for i in range(1000):
            path = runs / (base if i == 0 else f"{base}.{i}")
            try:
                path.mkdir()
                return cls(path)
            except FileExistsError:
                continue
        raise RuntimeError(f"could not create a run directory under {runs}")

    @classmethod
    def with_identity(cls, results_dir: Path, ident: str) -> Iterator[tuple[RunStore, str | None]]:
        """(run, status) of every run with this identity, newest first."""
        runs = results_dir / "runs"
        if not runs.is_dir():
            return
        for d in sorted((p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")), reverse=True):
            mf = d / "manifest.json"
            if not mf.is_file():
                continue
            try:
                m = json.loads(mf.read_text())
            except json.JSONDecodeError:
                continue
            if m.get("identity") == ident:
                yield cls(d), m.get("status")

    @classmethod
    def find_latest(cls, results_dir: Path, ident: str) -> tuple[RunStore | None, str | None]:
        """The latest run with this identity and its status ("complete", "running", ...)."""
        return next(cls.with_identity(results_dir, ident), (None, None))

    @classmethod
    def find_resumable(cls, results_dir: Path, ident: str) -> RunStore | None:
        """The latest run with this identity that did not finish."""
        return next((store for store, status in cls.with_identity(results_dir, ident)
                     if status != RunStatus.COMPLETE), None)

    @classmethod
    def list_runs(cls, results_dir: Path) -> list[RunStore]:
        """Every run directory under results_dir/runs, sorted by run id (oldest first)."""
        root = Path(results_dir) / "runs"
        if not root.is_dir():
            return []
        return [cls(d) for d in sorted(p for p in root.iterdir() if p.is_dir())]

    # -- the lock --------------------------------------------------------------------------
    def acquire(self, part: str = "") -> None:
        """Take the run's lock (an flock on .lock, which the OS releases when the process ends,
        crash or kill -9 included). Raises RunLockedError naming the holder's PID. The shards of a
        sharded run work on the run side by side: each locks its own part (`.lock.<part>`)."""
        path = self.lock_path if not part else self.lock_path.with_name(f".lock.{part}")
        f = open(path, "a+", encoding="utf-8")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise RunLockedError(
                f"run {self.run_id}{f' ({part})' if part else ''} is in use by {holder}; wait for it to finish or stop it "
                f"(a second command on the same run would duplicate its samples)") from None
        f.seek(0)
        f.truncate()
        f.write(f"process {os.getpid()} on {os.uname().nodename} since {utc_now()}\n")
        f.flush()
        self._lock_file = f

    def release(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    @contextlib.contextmanager
    def locked(self) -> Iterator[RunStore]:
        self.acquire()
        try:
            yield self
        finally:
            self.release()

    # -- config and manifest ---------------------------------------------------------------
    def write_config(self, cfg: Mapping[str, Any]) -> None:
        """config.yaml: the resolved config with secrets redacted."""
        from omegaconf import OmegaConf

        atomic_write(self.config_path, OmegaConf.to_yaml(OmegaConf.create(redact(dict(cfg)))))

    def read_config(self) -> dict[str, Any]:
        import yaml

        if not self.config_path.is_file():
            return {}
        data = yaml.safe_load(self.config_path.read_text(encoding="utf-8")) or {}
        return data if isinstance(data, dict) else {}

    def load_manifest(self) -> Manifest:
        """The typed manifest; DataError naming the file when it is missing or unreadable."""
        try:
            raw = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"{self.manifest_path}: no manifest") from None
        except (OSError, json.JSONDecodeError) as e:
            raise DataError(f"{self.manifest_path}: unreadable: {e}") from e
        if not isinstance(raw, dict):
            raise DataError(f"{self.manifest_path}: not a JSON object")
        try:
            return Manifest.from_json(raw)
        except (TypeError, ValueError) as e:
            raise DataError(f"{self.manifest_path}: {e}") from e

    def save_manifest(self, manifest: Manifest) -> None:
        write_json(self.manifest_path, manifest.to_json())

    def read_manifest(self) -> dict[str, Any]:
        """The manifest as plain JSON ({} when there is none yet)."""
        if not self.manifest_path.exists():
            return {}
        try:
            raw = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DataError(f"{self.manifest_path}: unreadable: {e}") from e
        if not isinstance(raw, dict):
            raise DataError(f"{self.manifest_path}: not a JSON object")
        return raw

    def write_manifest(self, manifest: Mapping[str, Any] | Manifest) -> None:
        write_json(self.manifest_path, manifest.to_json() if isinstance(manifest, Manifest) else dict(manifest))

    def update_manifest(self, **fields: Any) -> dict[str, Any]:
        m = self.read_manifest()
        m.update(fields)
        self.write_manifest(m)
        return m

    def record_invocation(self, invocation: Invocation, status: RunStatus | None = None) -> Manifest:
        """Append one invocation to the manifest (and set the run's status)."""
        m = self.load_manifest()
        m.invocations.append(invocation)
        if status is not None:
            m.status = status
            if status is RunStatus.COMPLETE:
                m.completed = utc_now()
        self.save_manifest(m)
        return m

    def set_status(self, status: RunStatus) -> None:
        m = self.load_manifest()
        m.status = status
        if status is RunStatus.COMPLETE:
            m.completed = utc_now()
        self.save_manifest(m)

    # -- metrics ---------------------------------------------------------------------------
    def write_metrics(self, metrics: Metrics) -> None:
        write_json(self.metrics_path, metrics.to_json())

    def read_metrics(self) -> Metrics:
        try:
            raw = json.loads(self.metrics_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"{self.metrics_path}: no metrics (the run has not been scored)") from None
        except (OSError, json.JSONDecodeError) as e:
            raise DataError(f"{self.metrics_path}: unreadable: {e}") from e
        if not isinstance(raw, dict):
            raise DataError(f"{self.metrics_path}: not a JSON object")
        return Metrics.from_json(raw)

    # -- samples ---------------------------------------------------------------------------
    def sample_index(self) -> dict[str, set[int]]:
        """Sample indices already on disk, per problem id (torn tail repaired first). Samples
        whose generation errored (finish reason "error") do not count: a resume retries them."""
        removed = repair_tail(self.samples_path)
        if removed:
            log.warning("removed a torn last line (%d bytes) from %s", removed, self.samples_path)
        have: dict[str, set[int]] = defaultdict(set)
        for lineno, rec in read_jsonl(self.samples_path):
            pid, s = str(rec["id"]), int(rec["sample"])
            if rec.get("finish_reason") == "error":
                continue
            if s in have[pid]:
                log.warning("%s:%d: duplicate sample %s/%d ignored", self.samples_path, lineno, pid, s)
            have[pid].add(s)
        return have

    def sample_writer(self) -> SampleWriter:
        return SampleWriter(self.samples_path)

    def write_samples(self, completions: Iterable[Completion]) -> int:
        """Append completions (tools that produce a whole run at once); returns how many."""
        with self.sample_writer() as w:
            for c in completions:
                w.write(c)
            return w.written

    # -- scores ----------------------------------------------------------------------------
    def iter_scores(self) -> Iterator[Score]:
        for lineno, rec in read_jsonl(self.scores_path):
            try:
                yield Score.from_json(rec)
            except (TypeError, ValueError) as e:
                raise DataError(f"{self.scores_path}:{lineno}: not a score record: {e}") from e

    def write_scores(self, records: Iterable[Score | Mapping[str, Any]]) -> int:
        """Replace scores.jsonl atomically (a crash leaves the old file or the new one, never
        half of it); returns the number of lines written."""
        return write_jsonl_atomic(self.scores_path, (
            r.to_json() if isinstance(r, Score) else dict(r) for r in records))


def write_jsonl_atomic(path: Path, records: Iterable[Mapping[str, Any]]) -> int:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    n = 0
    with open(tmp, "w", encoding="utf-8") as out:
        for r in records:
            out.write(json.dumps(r, ensure_ascii=False) + "\n")
            n += 1
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    return n


class SampleWriter:
    """Appends completions, one JSON line each, flushed as they arrive (fsync at most every
    `sync_every` seconds so that a GPU run is not slowed by the disk)."""

    def __init__(self, path: Path, sync_every: float = 2.0):
        self.path = path
        self._f = open(path, "a", encoding="utf-8")
        self._sync_every = sync_every
        self._last_sync = time.monotonic()
        self.written = 0

    def write(self, c: Completion) -> None:
        self._f.write(json.dumps(c.to_json(), ensure_ascii=False) + "\n")
        self._f.flush()
        self.written += 1
        now = time.monotonic()
        if now - self._last_sync >= self._sync_every:
            os.fsync(self._f.fileno())
            self._last_sync = now

    def close(self) -> None:
        if not self._f.closed:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()

    def __enter__(self) -> SampleWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
