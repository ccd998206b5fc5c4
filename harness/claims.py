"""The claims registry: published numbers (configs/claims/) and external reproductions
(configs/external/), loaded and validated.

A claims file is one source (a paper, a README, a model card), a protocol shared by its claims,
and a list of claims; an external-results file has the same shape with `results:` instead of
`claims:` and a `k` per result. Values are percentages, as printed. See docs/claims.md.

Benchmark keys are checked against BENCHMARKS below, an explicit registry: a claim may name a
benchmark for which no task config exists yet (math), but never an unknown one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError
from harness.paths import CONFIG_DIR, config_dirs, config_files


class ClaimsError(HarnessError):
    """An invalid claims or external-results file; the message names the file and the entry."""


@dataclass(frozen=True)
class Benchmark:
    key: str
    name: str
    problems: int  # size of the full benchmark
    metric: str  # the primary per-sample metric a run reports for it
    note: str = ""


# The benchmarks claims may name. A task config's `benchmark:` field selects one of these keys;
# tasks whose benchmark is not listed (math500_sample, swe_mini, ...) are not benchmarks and get
# no verdicts. `math` is the full MATH test set and is never compared with `math500`.
BENCHMARKS: dict[str, Benchmark] = {
    b.key: b
    for b in (
        Benchmark("aime24", "AIME 2024", 30, "pass@1"),
        Benchmark("aime25", "AIME 2025", 30, "pass@1"),
        Benchmark("math500", "MATH-500", 500, "pass@1",
                  "the 500-problem subset of the MATH test set (Lightman et al.)"),
        Benchmark("math", "MATH (full test set)", 5000, "pass@1",
                  "all 5,000 MATH test problems: not comparable with MATH-500"),
        Benchmark("gpqa_diamond", "GPQA Diamond", 198, "pass@1"),
        Benchmark("swebench_verified", "SWE-bench Verified", 500, "resolved"),
        Benchmark("swebench_lite", "SWE-bench Lite", 300, "resolved"),
    )
}

METRIC = re.compile(r"^(pass@1|resolved|cons@[1-9][0-9]*)$")
SOURCE_KINDS = ("paper", "readme", "model_card", "reproduction", "leaderboard")
# Protocol keys a claim may state; anything else is a typo and an error.
PROTOCOL_KEYS = ("temperature", "top_p", "top_k", "k", "max_tokens", "system_prompt", "instruction",
                 "prompt", "shots", "framework", "backend", "grader")
GRADERS = ("strict", "default", "lenient")  # `grader:` the answer grader a claim was made with (docs/grading.md)


@dataclass(frozen=True)
class Source:
    id: str
    label: str  # short name for tables
    document: str
    url: str
    kind: str
    path: str  # the file it came from (relative to the project when possible)


@dataclass(frozen=True)
class Claim:
    """A published number: `value` in percent, measured under `protocol`."""

    model: str  # a claims key (configs/model/*.yaml: file name or claims_key)
    benchmark: str
    metric: str
    value: float
    source: Source
    table: str  # table or section within the source document
    url: str
    protocol: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""
    entry: int = 0  # index in the file, for messages

    @property
    def p(self) -> float:
        return self.value / 100.0

    @property
    def k_for_se(self) -> int | None:
        """Samples per problem behind the number, for its standard error. A stated range
        [lo, hi] gives lo (the widest error bar the statement allows); unstated gives None."""
        k = self.protocol.get("k")
        if isinstance(k, (list, tuple)):
            return int(min(k))
        return None if k is None else int(k)

    @property
    def citation(self) -> str:
        return f"{self.source.document}, {self.table}. {self.url}"

    @property
    def where(self) -> str:
        return f"{self.source.path}: entry {self.entry} ({self.model} / {self.benchmark} / {self.metric})"


@dataclass(frozen=True)
class ExternalResult:
    """A published reproduction: summary figures only (value in percent, k samples per problem
    on `problems` problems)."""

    model: str
    benchmark: str
    metric: str
    value: float
    k: int
    problems: int
    source: Source
    table: str
    url: str
    protocol: Mapping[str, Any] = field(default_factory=dict)
    spread: float | None = None  # a dispersion the source reports beside the value (e.g. std over seeds)
    entry: int = 0
    tokens_per_sample: float | None = None  # mean output tokens per sample, when the source gives it
    seeds: int | None = None  # runs behind `spread` (default: k, one sample per problem per seed)

    @property
    def spread_seeds(self) -> int:
        return self.seeds or self.k

    @property
    def p(self) -> float:
        return self.value / 100.0

    @property
    def where(self) -> str:
        return f"{self.source.path}: entry {self.entry} ({self.model} / {self.benchmark} / {self.metric})"

    def as_claim(self) -> Claim:
        """The same figure as a reference number our own runs are compared with."""
        proto = dict(self.protocol)
        proto["k"] = self.k
        return Claim(model=self.model, benchmark=self.benchmark, metric=self.metric, value=self.value,
                     source=self.source, table=self.table, url=self.url, protocol=proto,
                     entry=self.entry)


@dataclass
class Registry:
    claims: list[Claim]
    external: list[ExternalResult]
    models: dict[str, str]  # claims key -> display name

    def claims_for(self, model: str, benchmark: str, metric: str | None = None) -> list[Claim]:
        return [c for c in self.claims
                if c.model == model and c.benchmark == benchmark and (metric is None or c.metric == metric)]

    def display(self, model: str) -> str:
        return self.models.get(model, model)


# -- model configs -------------------------------------------------------------------------------

def model_keys(model_dir: Path) -> dict[str, str]:
    """Claims keys that configs/model/ knows, with a display name: every file name, and every
    non-null `claims_key` (e.g. deepseek-reasoner.yaml points to deepseek-r1). A file whose own
    name is its claims key gives the display name."""
    out: dict[str, str] = {}
    secondary: dict[str, str] = {}
    for path in sorted(Path(model_dir).glob("*.yaml")):
        try:
            cfg = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise ClaimsError(f"{path}: invalid YAML: {e}") from e
        display = str(cfg.get("display_name") or cfg.get("name") or path.stem)
        out.setdefault(path.stem, display)
        key = cfg.get("claims_key")
        if key:
            secondary.setdefault(str(key), display)
    for key, display in secondary.items():
        out.setdefault(key, display)
    return out


# -- loading -------------------------------------------------------------------------------------

def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(CONFIG_DIR.parent))
    except ValueError:
        return str(path)


def _load_yaml(path: Path) -> Mapping[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ClaimsError(f"{_rel(path)}: invalid YAML: {e}") from e
    if not isinstance(data, Mapping):
        raise ClaimsError(f"{_rel(path)}: expected a mapping with `source` and entries")
    return data


def _source(path: Path, data: Mapping[str, Any]) -> Source:
    where = _rel(path)
    src = data.get("source")
    if not isinstance(src, Mapping):
        raise ClaimsError(f"{where}: `source` is missing (id, label, document, url, kind)")
    for key in ("id", "document", "url", "kind"):
        if not str(src.get(key) or "").strip():
            raise ClaimsError(f"{where}: source.{key} is missing: every source needs its citation")
    if src["kind"] not in SOURCE_KINDS:
        raise ClaimsError(f"{where}: source.kind {src['kind']!r} is not one of {', '.join(SOURCE_KINDS)}")
    if not re.match(r"^https?://", str(src["url"])):
        raise ClaimsError(f"{where}: source.url {src['url']!r} is not an http(s) URL")
    return Source(id=str(src["id"]), label=str(src.get("label") or src["id"]),
                  document=str(src["document"]), url=str(src["url"]), kind=str(src["kind"]), path=where)


def _protocol(where: str, proto: Any) -> dict[str, Any]:
    if proto is None:
        return {}
    if not isinstance(proto, Mapping):
        raise ClaimsError(f"{where}: `protocol` must be a mapping")
    unknown = sorted(set(proto) - set(PROTOCOL_KEYS))
    if unknown:
        raise ClaimsError(f"{where}: unknown protocol key(s) {', '.join(unknown)} "
                          f"(known: {', '.join(PROTOCOL_KEYS)})")
    # `grader` is either one of our grader profiles (the verdict then uses that profile) or a
    # description in words of the source's own grader ("LLM verifier (...)"), recorded and shown;
    # a single word that is not a profile is taken for a wrong profile name
    g = proto.get("grader")
    if g is not None and (not isinstance(g, str) or (g not in GRADERS and len(g.split()) < 2)):
        import difflib

        near = difflib.get_close_matches(str(g).strip().lower(), GRADERS, n=1, cutoff=0.7)
        raise ClaimsError(f"{where}: protocol.grader {g!r} is not one of {', '.join(GRADERS)}"
                          + (f" (did you mean {near[0]}?)" if near else
                             " (or describe the source's own grader in words)"))
    k = proto.get("k")
    if k is not None:
        ks = list(k) if isinstance(k, (list, tuple)) else [k]
        if (not ks or len(ks) > 2 or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in ks)):
            raise ClaimsError(f"{where}: protocol.k must be a positive integer or a range [lo, hi], got {k!r}")
    return dict(proto)


def _entry_common(where: str, e: Any, models: Mapping[str, str]) -> tuple[str, str, str, float]:
    if not isinstance(e, Mapping):
        raise ClaimsError(f"{where}: expected a mapping, got {e!r}")
    for key in ("model", "benchmark", "metric", "value"):
        if e.get(key) is None:
            raise ClaimsError(f"{where}: `{key}` is missing")
    model, bench, metric = str(e["model"]), str(e["benchmark"]), str(e["metric"])
    if model not in models:
        raise ClaimsError(f"{where}: unknown model {model!r}: no configs/model/{model}.yaml and no "
                          f"model config with claims_key: {model}")
    if bench not in BENCHMARKS:
        raise ClaimsError(f"{where}: unknown benchmark {bench!r} (known: {', '.join(sorted(BENCHMARKS))})")
    if not METRIC.match(metric):
        raise ClaimsError(f"{where}: unknown metric {metric!r} (pass@1, resolved or cons@N)")
    want = BENCHMARKS[bench].metric
    if not metric.startswith("cons@") and metric != want:
        raise ClaimsError(f"{where}: metric {metric!r} does not fit {bench} (its per-sample metric is {want})")
    v = e["value"]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= float(v) <= 100:
        raise ClaimsError(f"{where}: value {v!r} is out of range: a percentage in [0, 100]")
    if not str(e.get("table") or e.get("section") or "").strip():
        raise ClaimsError(f"{where}: `table` (or `section`) is missing: every claim needs its citation")
    return model, bench, metric, float(v)


_ENTRY_KEYS = frozenset({"model", "benchmark", "metric", "value", "table", "section", "url", "protocol"})


def _file_entries(path: Path, list_key: str, models: Mapping[str, str], extra_keys: frozenset[str]):
    """The source and file-level protocol of a claims / external-results file, and an iterator of
    its checked entries: (index, entry, where, (model, benchmark, metric, value))."""
    data = _load_yaml(path)
    source = _source(path, data)
    base = _protocol(f"{source.path}: protocol", data.get("protocol"))
    entries = data.get(list_key)
    if not isinstance(entries, list) or not entries:
        raise ClaimsError(f"{source.path}: `{list_key}` must be a non-empty list")

    def checked():
        for i, e in enumerate(entries):
            where = f"{source.path}: entry {i}"
            if isinstance(e, Mapping) and e.get("model") is not None:
                where += f" ({e.get('model')} / {e.get('benchmark')} / {e.get('metric')})"
            common = _entry_common(where, e, models)
            unknown = sorted(set(e) - _ENTRY_KEYS - extra_keys)
            if unknown:
                raise ClaimsError(f"{where}: unknown key(s) {', '.join(unknown)}")
            yield i, e, where, common

    return source, base, checked()


def load_claims_file(path: Path, models: Mapping[str, str]) -> list[Claim]:
    source, base, entries = _file_entries(path, "claims", models, frozenset({"note"}))
    out: list[Claim] = []
    seen: dict[tuple[str, str, str], int] = {}
    for i, e, where, (model, bench, metric, value) in entries:
        key = (model, bench, metric)
        if key in seen:
            raise ClaimsError(f"{where}: duplicates entry {seen[key]} of the same source: one source, one "
                              "number per model, benchmark and metric")
        seen[key] = i
        proto = {**base, **_protocol(f"{where}: protocol", e.get("protocol"))}
        if metric.startswith("cons@"):
            n = int(metric.split("@")[1])
            k = proto.get("k")
            if k is not None and not isinstance(k, (list, tuple)) and int(k) != n:
                raise ClaimsError(f"{where}: {metric} needs k = {n} samples per problem, protocol says k = {k}")
            proto["k"] = n
        out.append(Claim(model=model, benchmark=bench, metric=metric, value=value, source=source,
                         table=str(e.get("table") or e.get("section")), url=str(e.get("url") or source.url),
                         protocol=proto, note=str(e.get("note") or ""), entry=i))
    return out


def load_external_file(path: Path, models: Mapping[str, str]) -> list[ExternalResult]:
    source, base, entries = _file_entries(path, "results", models, frozenset({"k", "problems", "spread", "tokens_per_sample", "seeds"}))
    out: list[ExternalResult] = []
    for i, e, where, (model, bench, metric, value) in entries:
        k = e.get("k")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ClaimsError(f"{where}: `k` (samples per problem, a positive integer) is required: "
                              "the standard error depends on it")
        problems = e.get("problems", BENCHMARKS[bench].problems)
        if isinstance(problems, bool) or not isinstance(problems, int) or problems < 1:
            raise ClaimsError(f"{where}: `problems` must be a positive integer, got {problems!r}")
        spread = e.get("spread")
        if spread is not None and (isinstance(spread, bool) or not isinstance(spread, (int, float)) or spread < 0):
            raise ClaimsError(f"{where}: `spread` must be a non-negative number, got {spread!r}")
        seeds = e.get("seeds")
        if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1
                                  or k % seeds):
            raise ClaimsError(f"{where}: `seeds` must be a positive integer dividing k = {k}, got {seeds!r}")
        tps = e.get("tokens_per_sample")
        if tps is not None and (isinstance(tps, bool) or not isinstance(tps, (int, float)) or tps <= 0):
            raise ClaimsError(f"{where}: `tokens_per_sample` must be a positive number, got {tps!r}")
        proto = {**base, **_protocol(f"{where}: protocol", e.get("protocol")), "k": k}
        out.append(ExternalResult(model=model, benchmark=bench, metric=metric, value=value, k=k,
                                  problems=problems, source=source,
                                  table=str(e.get("table") or e.get("section")),
                                  url=str(e.get("url") or source.url), protocol=proto,
                                  spread=None if spread is None else float(spread), entry=i,
                                  tokens_per_sample=None if tps is None else float(tps), seeds=seeds))
    return out


def _files(d: Path | None) -> Iterable[Path]:
    if d is None or not Path(d).is_dir():
        return []
    return sorted(Path(d).glob("*.yaml"))


def load_registry(claims_dir: Path | None = None, external_dir: Path | None = None,
                  model_dir: Path | None = None) -> Registry:
    """Every claim and external result, validated; errors name the file and the entry."""
    # by default every directory of the config search path (the built-in configs, then $HARNESS_CONFIG_PATH)
    claim_files = config_files("claims") if claims_dir is None else _files(Path(claims_dir))
    external_files = config_files("external") if external_dir is None else _files(Path(external_dir))
    if model_dir is None:
        models: dict[str, str] = {}
        for d in config_dirs():
            for key, display in model_keys(d / "model").items():
                models.setdefault(key, display)
    else:
        models = model_keys(Path(model_dir))
    claims: list[Claim] = []
    ids: dict[str, str] = {}
    for path in claim_files:
        file_claims = load_claims_file(path, models)
        sid = file_claims[0].source.id
        if sid in ids:
            raise ClaimsError(f"{_rel(path)}: source.id {sid!r} is already used by {ids[sid]}")
        ids[sid] = _rel(path)
        claims.extend(file_claims)
    external: list[ExternalResult] = []
    for path in external_files:
        results = load_external_file(path, models)
        sid = results[0].source.id
        if sid in ids:
            raise ClaimsError(f"{_rel(path)}: source.id {sid!r} is already used by {ids[sid]}")
        ids[sid] = _rel(path)
        external.extend(results)
    return Registry(claims=claims, external=external, models=models)
