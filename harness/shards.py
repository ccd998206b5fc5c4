"""Sharded runs: `shard=I/N` generates the problems whose id hashes to I (mod N).

The N shards of one configuration share one run directory (the run identity does not include the
shard). Each shard appends to its own file, `samples.shard-I-of-N.jsonl`, so shards never write
the same file and need no lock between them; the samples on disk are the union of
`samples.jsonl` and every shard file ("merged on read"). A shard can be rerun alone: it generates
only what its own problems still miss.

The shard that finds every problem complete after its own generation finalises the run: under an
advisory lock on `.finalize.lock` (the only lock, taken without waiting, once per run and only by
one shard at a time, never while generating) it merges the shard files into `samples.jsonl` and
scores. Until then the run has no scores or metrics, the report lists it as unfinished with the
missing shards, and each shard's summary says which shards are still missing.

A shard's own invocation records go to `shard-I-of-N.json` beside the manifest (shards never
rewrite the manifest concurrently), written *before* the shard looks at the others. The
finalising shard folds them into the manifest when it starts and again just before it marks the
run complete. Every record is therefore folded: a shard that saw another one missing wrote its
record before the finaliser saw its samples complete; a shard that saw the run complete but could
not take the lock wrote its record while the finaliser held it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.store import RunStore, SampleWriter, read_jsonl, repair_tail, write_json
from harness.types import Problem

log = logging.getLogger(__name__)

_SHARD_FILE = re.compile(r"^samples\.shard-(\d+)-of-(\d+)\.jsonl$")
_LOCKS: dict[Path, Any] = {}


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def tag(self) -> str:
        return f"shard-{self.index}-of-{self.count}"


def parse_shard(value: Any) -> Shard | None:
    """`shard=I/N` (0 <= I < N). None, "" or "0/1" mean unsharded."""
    if value is None or value == "" or value is False:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(value))
    if not m:
        raise ConfigError("shard", f"must be I/N with 0 <= I < N (e.g. shard=2/4), got {value!r}")
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 0 <= i < n:
        raise ConfigError("shard", f"must be I/N with 0 <= I < N (e.g. shard=2/4), got {value!r}")
    return None if n == 1 else Shard(i, n)


def shard_of(problem_id: str, count: int) -> int:
    """The shard a problem belongs to: a hash of its id, so the split does not depend on the
    order or the number of problems loaded."""
    h = hashlib.sha256(problem_id.encode("utf-8")).digest()
    return int.from_bytes(h[:8], "little") % count


def select(problems: Sequence[Problem], shard: Shard | None) -> list[Problem]:
    if shard is None:
        return list(problems)
    return [p for p in problems if shard_of(p.id, shard.count) == shard.index]


# -- samples files ------------------------------------------------------------------------------
def shard_path(store: RunStore, shard: Shard) -> Path:
    return store.path / f"samples.{shard.tag}.jsonl"


def shard_files(run_dir: Path) -> list[Path]:
    """Shard sample files of a run, in shard order."""
    found = []
    for p in run_dir.glob("samples.shard-*-of-*.jsonl"):
        m = _SHARD_FILE.match(p.name)
        if m:
            found.append(((int(m.group(2)), int(m.group(1))), p))
    return [p for _, p in sorted(found)]


def sample_files(run_dir: Path) -> list[Path]:
    return [run_dir / "samples.jsonl", *shard_files(run_dir)]


def sample_writer(store: RunStore, shard: Shard | None) -> SampleWriter:
    return store.sample_writer() if shard is None else SampleWriter(shard_path(store, shard))


def sample_index(store: RunStore, shard: Shard | None) -> dict[str, set[int]]:
    """Sample indices on disk per problem id, over samples.jsonl and every shard file. Only the
    file this invocation appends to gets its torn tail repaired: other shards may be writing
    theirs right now (a torn last line there is skipped, not cut)."""
    if shard is None and not shard_files(store.path):
        return store.sample_index()
    own = store.samples_path if shard is None else shard_path(store, shard)
    removed = repair_tail(own)
    if removed:
        log.warning("removed a torn last line (%d bytes) from %s", removed, own)
    have: dict[str, set[int]] = defaultdict(set)
    for path in sample_files(store.path):
        for _, rec in read_jsonl(path):
            if rec.get("finish_reason") == "error":
                continue
            have[str(rec["id"])].add(int(rec["sample"]))
    return have


def missing_shards(problems: Iterable[Problem], targets: Mapping[str, int], have: Mapping[str, set[int]],
                   count: int) -> list[int]:
    """Shards (of `count`) that still have problems without all their samples."""
    out = set()
    for p in problems:
        if len(have.get(p.id, ())) < targets.get(p.id, 0):
            out.add(shard_of(p.id, count))
    return sorted(out)


# -- finalising ---------------------------------------------------------------------------------
def try_finalize(store: RunStore, shard: Shard | None) -> bool:
    """Take the run's finalising lock without waiting and merge the shard files into
    samples.jsonl. False when another process holds the lock (it is finalising the run)."""
    if shard is None and not shard_files(store.path):
        return True
    import fcntl

    f = open(store.path / ".finalize.lock", "a+")
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        return False
    _LOCKS[store.path] = f
    merge(store)
    fold_records(store)
    if store.read_manifest().get("status") == "complete":  # another shard finalised it already
        release(store)
        return False
    return True


def release(store: RunStore) -> None:
    f = _LOCKS.pop(store.path, None)
    if f is not None:
        f.close()  # closing the descriptor drops the lock


def merge(store: RunStore) -> int:
    """Fold every shard file into samples.jsonl (atomically replaced), then delete them.
    A (problem, sample) already present with a real completion is not copied twice, so a merge
    interrupted after the replace and before the deletes is harmless when repeated."""
    files = shard_files(store.path)
    if not files:
        return 0
    seen: set[tuple[str, int]] = set()
    tmp = store.path / f".samples.jsonl.merge{os.getpid()}"
    n = 0
    with open(tmp, "w", encoding="utf-8") as out:
        for path in (store.samples_path, *files):
            for _, rec in read_jsonl(path):
                key = (str(rec["id"]), int(rec["sample"]))
                if rec.get("finish_reason") != "error":
                    if key in seen:
                        continue
                    seen.add(key)
                out.write(json.dumps(rec, ensure_ascii=False) + "\n")
                n += 1
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, store.samples_path)
    for path in files:
        path.unlink()
    log.info("merged %d shard files into %s (%d samples)", len(files), store.samples_path, n)
    return n


# -- per-shard records --------------------------------------------------------------------------
def record_path(store: RunStore, shard: Shard) -> Path:
    return store.path / f"{shard.tag}.json"


def record_invocation(store: RunStore, shard: Shard, invocation: Mapping[str, Any]) -> None:
    """A shard's invocation goes to its own file, never into a manifest other shards rewrite."""
    path = record_path(store, shard)
    rec: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"shard": str(shard)}
    rec["invocations"] = [*rec.get("invocations", []), dict(invocation)]
    write_json(path, rec)


def fold_records(store: RunStore) -> None:
    """Move the shards' invocation records into the manifest (under the finalising lock)."""
    paths = sorted(store.path.glob("shard-*-of-*.json"))
    if not paths:
        return
    manifest = store.read_manifest()
    invocations = manifest.setdefault("invocations", [])
    for path in paths:
        invocations.extend(json.loads(path.read_text()).get("invocations", []))
    invocations.sort(key=lambda i: str(i.get("started", "")))
    store.write_manifest(manifest)
    for path in paths:
        path.unlink()


def pending_reason(run_dir: Path) -> str | None:
    """"shards missing: 0, 3" for a sharded run still waiting for shards (from its shard
    records), None otherwise."""
    count = None
    done = set()
    for path in run_dir.glob("shard-*-of-*.json"):
        m = re.fullmatch(r"shard-(\d+)-of-(\d+)\.json", path.name)
        if not m:
            continue
        try:
            invs = json.loads(path.read_text()).get("invocations", [])
        except (OSError, json.JSONDecodeError):
            continue
        count = int(m.group(2))
        if any(i.get("outcome") == "shard_complete" for i in invs):
            done.add(int(m.group(1)))
    if count is None:
        return None
    missing = [i for i in range(count) if i not in done]
    return f"shards missing: {', '.join(f'{i}/{count}' for i in missing)}" if missing else None


def pending_metrics(store: RunStore, shard: Shard, missing: Sequence[int], model: str, task: str,
                    generated: int) -> dict[str, Any]:
    """What a shard reports when the run is not complete yet (no scores, no metrics.json)."""
    return {"run_id": store.run_id, "model": model, "task": task, "shard": str(shard),
            "shards_missing": [f"{i}/{shard.count}" for i in missing], "generated": generated}


# -- who creates the run ------------------------------------------------------------------------
def claim(store: RunStore, results_dir: Path, ident: str) -> RunStore:
    """Shards of one configuration started together must end up in one run directory. Each one
    that found no run creates its own; the first to publish `<results_dir>/.claims/<identity>` wins and
    the others drop their (still empty) directory and join the winner."""
    import shutil

    claims = results_dir / ".claims"
    claims.mkdir(parents=True, exist_ok=True)
    target = claims / ident
    tmp = claims / f".{ident}.{os.getpid()}"
    tmp.write_text(store.run_id + "\n")
    try:
        for _ in range(3):
            try:
                os.link(tmp, target)  # atomic: fails if another shard published first
                return store
            except FileExistsError:
                winner = results_dir / "runs" / target.read_text().strip()
                if winner != store.path and (winner / "manifest.json").is_file():
                    manifest = json.loads((winner / "manifest.json").read_text())
                    if manifest.get("identity") == ident and manifest.get("status") != "complete":
                        shutil.rmtree(store.path)
                        log.info("joining run %s created by another shard", winner.name)
                        return RunStore(winner)
                target.unlink(missing_ok=True)  # a claim left by a finished or deleted run
        return store
    finally:
        tmp.unlink(missing_ok=True)
