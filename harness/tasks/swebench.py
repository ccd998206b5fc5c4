"""SWE-bench-style tasks: an issue and code context in, a unified diff out, graded by tests.

Prompts follow the SWE-bench RAG baseline: the issue text, then code files with line numbers
(oracle: the files the gold patch touches; bm25: the files a BM25 search over the repository at
the base commit ranks highest for the issue text), then a request for a patch inside
<patch></patch>. The prompt is cut to the model's context window with the model's tokenizer:
files are dropped from the least relevant end, the last one kept may be cut to its first lines,
and an issue text that alone is too long is cut too. What was cut is recorded in the problem's
meta (`context`) and summed up in metrics.json (`swe.context`).

Each sample is graded on its own by the configured executor (`task.executor`: local or docker).
The sample's `reason` is the executor status: ok (tests ran), no_patch, rejected_<why>,
apply_failed, timeout, error; `extracted` holds a one-line summary (F2P/P2P counts, limits hit,
rejection detail). `correct` = resolved.
"""

from __future__ import annotations

import io
import logging
import math
import re
import tarfile
from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, DataError
from harness.paths import ROOT
from harness.scoring.patch import extract_patch, patch_paths
from harness.swe import ERROR, NO_PATCH, Instance, require_swebench
from harness.swe.repos import RepoStore, git
from harness.tasks import Task, load_rows, sample_score
from harness.types import Completion, Message, Problem, Score

log = logging.getLogger(__name__)

PROJECT_ROOT = ROOT

INTRO = ("Below is an issue reported in a software repository, followed by code from that repository "
         "that is relevant to it.")
REQUEST = """Write a patch that resolves the issue. Reply with one unified diff, in the format of `git diff`,
with paths relative to the repository root, inside <patch></patch> tags. For example:

<patch>
--- a/package/module.py
+++ b/package/module.py
@@ -10,7 +10,7 @@ def function(value):
     ...
-    return value - 1
+    return value + 1
     ...
</patch>"""


def project_path(p: str | None, must_exist: bool = False) -> Path | None:
    """A path from the config: absolute, or relative to the working directory when it exists
    there, else relative to the project root (where the bundled data lives)."""
    if not p:
        return None
    path = Path(str(p)).expanduser()
    if path.is_absolute() or path.exists():
        return path.resolve()
    bundled = PROJECT_ROOT / path
    if must_exist and not bundled.exists():
        raise ConfigError("task", f"path not found: {p}")
    return bundled


def numbered(text: str) -> list[str]:
    return [f"{i} {line}" for i, line in enumerate(text.splitlines(), 1)]


def file_block(path: str, lines: list[str], cut_after: int | None = None) -> str:
    body = "\n".join(lines)
    note = f"\n... (cut after line {cut_after})" if cut_after is not None else ""
    return f"[start of {path}]\n{body}{note}\n[end of {path}]"


# --- BM25 retrieval ---------------------------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+")


def _terms(text: str) -> list[str]:
    out = []
    for tok in _TOKEN.findall(text):
        low = tok.lower()
        out.append(low)
        parts = [p for p in re.split(r"_|(?<=[a-z])(?=[A-Z])", tok) if p]  # snake_case / camelCase pieces
        if len(parts) > 1:
            out.extend(p.lower() for p in parts)
    return out


def bm25_rank(query: str, docs: Mapping[str, str], k1: float = 1.2, b: float = 0.75) -> list[tuple[str, float]]:
    """Documents (path -> text; the path is part of the text) ranked by Okapi BM25 for query."""
    tf: dict[str, Counter] = {}
    df: Counter = Counter()
    for path, text in docs.items():
        c = Counter(_terms(path + "\n" + text))
        tf[path] = c
        df.update(c.keys())
    n = len(docs)
    if n == 0:
        return []
    avgdl = sum(sum(c.values()) for c in tf.values()) / n or 1.0
    q = Counter(_terms(query))
    scores = []
    for path, c in tf.items():
        dl = sum(c.values())
        s = 0.0
        for term in q:
            f = c.get(term, 0)
            if not f:
                continue
            idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
            s += idf * f * (k1 + 1) / (f + k1 * (1 - b + b * dl / avgdl))
        scores.append((path, s))
    scores.sort(key=lambda x: (-x[1], x[0]))
    return scores


# --- the task ---------------------------------------------------------------------------------


class SWEBenchTask(Task):
    def __init__(self, cfg: Mapping[str, Any], prompt_cfg: Mapping[str, Any]):
        super().__init__(cfg, prompt_cfg)
        self.context_cfg: dict[str, Any] = dict(cfg.get("context") or {})
        self.executor_cfg: dict[str, Any] = dict(cfg.get("executor") or {"kind": "local"})
        self.repo_cache = project_path(cfg.get("repo_cache"))
        self.repo_source = project_path(cfg.get("repo_source"))
        self._executor: Any = None
        self._context_stats: dict[str, Any] = {}
        mode = self.context_cfg.get("mode", "oracle")
        if mode not in ("oracle", "bm25", "none"):
            raise ConfigError("task.context.mode", f"must be oracle, bm25 or none, got {mode!r}")

    def repos(self) -> RepoStore:
        return RepoStore(self.repo_cache, self.repo_source)

    # Loading ---------------------------------------------------------------------------------
    def load(self) -> list[Problem]:
        require_swebench()  # both executors grade with it: fail before generating anything
        docker = self.executor_cfg.get("kind", "local") == "docker"
        if docker:
            from harness.swe.executors.docker import check_docker

            check_docker()
        rows, source = load_rows(self.cfg)
        where = source.get("path") or source.get("dataset")
        instances = [Instance.from_row(r) for r in rows]
        seen: set[str] = set()
        for inst in instances:
            if inst.instance_id in seen:
                raise DataError(f"{where}: duplicate instance_id {inst.instance_id!r}")
            seen.add(inst.instance_id)
        wanted = self.cfg.get("instance_ids")
        if wanted:
            unknown = set(wanted) - seen
            if unknown:
                raise ConfigError("task.instance_ids", f"not in {where}: {sorted(unknown)[:5]}")
            instances = [i for i in instances if i.instance_id in set(wanted)]
        limit = self.cfg.get("limit")
        if limit:
            instances = instances[: int(limit)]
        if docker:
            from harness.swe.executors.docker import DockerExecutor

            DockerExecutor.from_cfg(self.executor_cfg, check=False).check_instances(instances)
        counter = _TokenCounter.from_cfg(self.context_cfg, self.prompt_cfg)
        store = self.repos()
        problems = []
        stats: Counter = Counter()
        for inst in instances:
            text, ctx = self._build_prompt(inst, store, counter)
            stats["instances"] += 1
            stats["files_shown"] += len(ctx["files"])
            stats["files_dropped"] += len(ctx["dropped"])
            stats["files_cut"] += 1 if ctx["cut_file"] else 0
            stats["issues_cut"] += 1 if ctx["issue_cut"] else 0
            stats["instances_cut"] += 1 if (ctx["dropped"] or ctx["cut_file"] or ctx["issue_cut"]) else 0
            if ctx["dropped"] or ctx["cut_file"] or ctx["issue_cut"]:
                log.info("%s: context cut to %s tokens (dropped %s, cut %s%s)", inst.instance_id, ctx["budget"],
                         ctx["dropped"] or "-", ctx["cut_file"] or "-", ", issue cut" if ctx["issue_cut"] else "")
            problems.append(Problem(
                id=inst.instance_id,
                inputs={"problem": text},
                reference=inst.to_row(),
                meta={"repo": inst.repo, "version": inst.version, "context": ctx},
            ))
        self._context_stats = {"mode": self.context_cfg.get("mode", "oracle"), **dict(stats)}
        source["problems"] = len(problems)
        self.source = source
        return problems

    def _context_files(self, inst: Instance, store: RepoStore) -> list[tuple[str, str]]:
        mode = self.context_cfg.get("mode", "oracle")
        if mode == "none":
            return []
        if mode == "oracle":
            out = []
            for p in patch_paths(inst.patch):
                text = store.read(inst.repo, inst.base_commit, p)
                if text is not None and all(p != q for q, _ in out):
                    out.append((p, text))
            return out
        exts = tuple(self.context_cfg.get("bm25_extensions") or (".py",))
        docs = _read_tree(store, inst, exts, int(self.context_cfg.get("bm25_max_file_bytes", 200_000)))
        ranked = bm25_rank(inst.problem_statement, docs)
        top = int(self.context_cfg.get("bm25_top_k", 5))
        return [(p, docs[p]) for p, s in ranked[:top] if s > 0]

    def _build_prompt(self, inst: Instance, store: RepoStore, counter: _TokenCounter) -> tuple[str, dict[str, Any]]:
        files = self._context_files(inst, store)
        issue = inst.problem_statement.strip()
        if self.context_cfg.get("include_hints") and inst.hints_text.strip():
            issue += "\n\nHints:\n" + inst.hints_text.strip()

        def assemble(issue_text: str, blocks: list[str]) -> str:
            code = "\n".join(blocks)
            return f"{INTRO}\n\n<issue>\n{issue_text}\n</issue>\n\n<code>\n{code}\n</code>\n\n{REQUEST}"

        ctx: dict[str, Any] = {"files": [], "dropped": [], "cut_file": None, "issue_cut": False,
                               "budget": counter.budget, "tokens": None}
        if not counter.active:
            blocks = [file_block(p, numbered(t)) for p, t in files]
            ctx["files"] = [p for p, _ in files]
            return assemble(issue, blocks), ctx
        if counter.count(assemble(issue, [])) > counter.budget:  # the issue alone is too long
            issue = counter.truncate(issue, counter.budget - counter.count(assemble("", [])) - 16) + "\n... (cut)"
            ctx["issue_cut"] = True
        blocks: list[str] = []
        for i, (path, text) in enumerate(files):
            lines = numbered(text)
            full = file_block(path, lines)
            if counter.count(assemble(issue, [*blocks, full])) <= counter.budget:
                blocks.append(full)
                ctx["files"].append(path)
                continue
            lo, hi = 0, len(lines)  # the most leading lines that fit
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if counter.count(assemble(issue, [*blocks, file_block(path, lines[:mid], mid)])) <= counter.budget:
                    lo = mid
                else:
                    hi = mid - 1
            if lo > 0:
                blocks.append(file_block(path, lines[:lo], lo))
                ctx["files"].append(path)
                ctx["cut_file"] = {"path": path, "kept_lines": lo, "total_lines": len(lines)}
                ctx["dropped"] = [p for p, _ in files[i + 1:]]
            else:
                ctx["dropped"] = [p for p, _ in files[i:]]
            break
        text = assemble(issue, blocks)
        ctx["tokens"] = counter.count(text)
        return text, ctx

    # Prompt ----------------------------------------------------------------------------------
    def prompt(self, problem: Problem) -> list[Message]:
        template: str = self.prompt_cfg.get("template") or "{problem}"
        user = template.format(problem=problem.inputs["problem"], instruction="").strip()
        return self.chat(user)

    # Scoring ---------------------------------------------------------------------------------
    def executor(self) -> Any:
        if self._executor is None:
            from harness.swe.executors import build_executor

            self._executor = build_executor(self.executor_cfg, self)
        return self._executor

    def score(self, problem: Problem, completion: Completion) -> Score:
        def result(correct: bool, extracted: str | None, reason: str) -> Score:
            return sample_score(problem, completion, correct, extracted, reason)

        if completion.error is not None or completion.finish_reason == "error":
            return result(False, completion.error, ERROR)
        ex = extract_patch(completion.text)
        if ex.patch is None:
            why = "output truncated" if completion.finish_reason == "length" else ex.source
            return result(False, f"no patch ({why})", NO_PATCH)
        inst = Instance.from_row(problem.reference)
        r = self.executor().evaluate(inst, ex.patch)
        return result(r.resolved, r.summary(), r.status)

    def extra_metrics(self, scores: list[Score]) -> dict[str, Any]:
        kind = self.executor_cfg.get("kind", "local")
        sandbox = None
        if kind == "local":
            from harness.swe.executors.local import probed

            sandbox = probed()
        return swe_metrics(scores, int(self.source.get("problems") or 0), self._context_stats, kind, sandbox)

    def __getstate__(self) -> dict[str, Any]:  # the executor is rebuilt in each worker process
        state = dict(self.__dict__)
        state["_executor"] = None
        return state


def swe_metrics(scores: list[Score], n_instances: int, context: Mapping[str, Any] | None = None,
                executor: str = "local", sandbox: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`resolved` over all loaded instances (instances without samples count as unresolved), its
    generation SE, and how the samples ended."""
    by_id: dict[str, list[Score]] = defaultdict(list)
    for s in scores:
        by_id[s.id].append(s)
    n = max(n_instances, len(by_id))
    if n == 0:
        return {"resolved": None}
    ps = {pid: sum(s.correct for s in ss) / len(ss) for pid, ss in by_id.items()}
    var = sum(p * (1 - p) / len(by_id[pid]) for pid, p in ps.items())
    reasons = Counter(s.reason for s in scores)
    rejected = {r: c for r, c in sorted(reasons.items()) if r.startswith("rejected")}
    swe = {
        "executor": executor,
        "instances": n,
        "instances_without_samples": n - len(by_id),
        "instances_resolved_any": sum(1 for p in ps.values() if p > 0),
        "samples": len(scores),
        "resolved_samples": sum(1 for s in scores if s.correct),
        "applied": reasons.get("ok", 0) + reasons.get("timeout", 0),
        "rejected": sum(rejected.values()),
        "rejected_by_reason": rejected,
        "apply_failed": reasons.get("apply_failed", 0),
        "no_patch": reasons.get("no_patch", 0),
        "timed_out": reasons.get("timeout", 0),
        "errored": reasons.get("error", 0),
    }
    if context:
        swe["context"] = dict(context)
    if sandbox is not None:
        swe["sandbox"] = dict(sandbox)
    return {"resolved": sum(ps.values()) / n, "resolved_se_generation": math.sqrt(var) / n, "swe": swe}


def _read_tree(store: RepoStore, inst: Instance, exts: tuple[str, ...], max_bytes: int) -> dict[str, str]:
    blob = git(["archive", "--format=tar", inst.base_commit], store.path(inst.repo), timeout=600).stdout
    docs = {}
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        for m in tar:
            if m.isfile() and m.name.endswith(exts) and m.size <= max_bytes:
                f = tar.extractfile(m)
                if f is not None:
                    docs[m.name] = f.read().decode("utf-8", errors="replace")
    return docs


class _TokenCounter:
    """Counts prompt tokens with the model's tokenizer (chat template included)."""

    def __init__(self, tokenizer: Any, budget: int | None, system: str | None):
        self.tok = tokenizer
        self.budget = budget
        self.system = system

    @property
    def active(self) -> bool:
        return self.tok is not None and self.budget is not None

    @classmethod
    def from_cfg(cls, ctx: Mapping[str, Any], prompt_cfg: Mapping[str, Any]) -> _TokenCounter:
        path = ctx.get("tokenizer")
        max_len = ctx.get("max_model_len")
        if not path or not max_len:
            return cls(None, None, None)
        budget = int(max_len) - int(ctx.get("max_new_tokens") or 0) - int(ctx.get("reserve_tokens", 16))
        if budget <= 0:
            raise ConfigError("task.context.max_model_len", f"no room for a prompt: max_model_len {max_len}, "
                                                            f"max_new_tokens {ctx.get('max_new_tokens')}")
        from transformers import AutoTokenizer

        from harness.modelpath import resolve_model_path

        model_cfg: dict[str, Any] = {"path": str(path)}
        if ctx.get("tokenizer_tiny_seed") is not None:
            model_cfg["tiny"] = {"seed": int(ctx["tokenizer_tiny_seed"])}
        try:
            tok = AutoTokenizer.from_pretrained(resolve_model_path(model_cfg))
        except Exception as e:
            raise ConfigError("task.context.tokenizer", f"cannot load a tokenizer from {path}: {e}") from e
        return cls(tok, budget, prompt_cfg.get("system"))

    def count(self, user: str) -> int:
        messages = ([{"role": "system", "content": self.system}] if self.system else []) + \
                   [{"role": "user", "content": user}]
        if getattr(self.tok, "chat_template", None):
            ids = self.tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
            if isinstance(ids, Mapping) or hasattr(ids, "keys"):
                ids = ids["input_ids"]
            return len(ids)
        return len(self.tok.encode("\n".join(m["content"] for m in messages)))

    def truncate(self, text: str, n_tokens: int) -> str:
        ids = self.tok.encode(text, add_special_tokens=False)
        return self.tok.decode(ids[: max(n_tokens, 0)])
