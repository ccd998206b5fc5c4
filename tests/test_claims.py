"""The shipped claims registry loads and is well formed; invalid files give errors that name the
file and the entry."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.claims import BENCHMARKS, CONFIG_DIR, ClaimsError, load_registry, model_keys

MODELS = model_keys(CONFIG_DIR / "model")


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def test_every_shipped_claim_loads_with_citation(registry):
    assert len(registry.claims) >= 60
    for c in registry.claims:
        assert c.model in MODELS, c.where
        assert c.benchmark in BENCHMARKS, c.where
        assert c.source.document.strip() and c.table.strip() and c.url.startswith("http"), c.where
        assert 0 <= c.value <= 100, c.where
        assert c.citation.count("http") == 1


def test_claims_keys_name_an_existing_model_config(registry):
    files = {p.stem for p in (CONFIG_DIR / "model").glob("*.yaml")}
    keys = set()
    for p in (CONFIG_DIR / "model").glob("*.yaml"):
        k = (yaml.safe_load(p.read_text()) or {}).get("claims_key")
        if k:
            keys.add(k)
    for c in registry.claims + [e.as_claim() for e in registry.external]:
        assert c.model in files or c.model in keys, c.where


def test_task_benchmarks_are_registered_or_not_benchmarks():
    for p in (CONFIG_DIR / "task").glob("*.yaml"):
        cfg = yaml.safe_load(p.read_text()) or {}
        bench = cfg.get("benchmark") or cfg.get("name") or p.stem
        if bench in ("math500", "aime24", "aime25", "gpqa_diamond", "swebench_verified"):
            assert bench in BENCHMARKS
    assert BENCHMARKS["math"].problems == 5000 and BENCHMARKS["math500"].problems == 500


def test_published_numbers(registry):
    def one(source, model, bench, metric="pass@1"):
        found = [c for c in registry.claims
                 if c.source.id == source and c.model == model and c.benchmark == bench and c.metric == metric]
        assert len(found) == 1, (source, model, bench, metric)
        return found[0]

    r1 = "deepseek-r1-paper"
    assert one(r1, "deepseek-r1", "aime24").value == 79.8
    assert one(r1, "deepseek-r1", "swebench_verified", "resolved").protocol["framework"] == "Agentless"
    assert one(r1, "r1-distill-qwen-7b", "aime24").protocol["k"] == 64
    assert one(r1, "r1-distill-qwen-7b", "aime24", "cons@64").value == 83.3
    assert one(r1, "r1-distill-qwen-7b", "math500").k_for_se == 4  # "between 4 and 64": the widest bar
    assert one(r1, "deepseek-r1-zero", "gpqa_diamond").value == 73.3
    # two sources that disagree are two claims
    assert one(r1, "qwq-32b-preview", "aime24").value == 50.0
    assert one("deepseek-r1-readme", "qwq-32b-preview", "aime24").value == 44.0
    assert one("llama-3.3-model-card", "llama-3.3-70b-instruct", "math").value == 77.0
    assert one("phi-4-report", "llama-3.3-70b-instruct", "math").value == 66.3
    # Llama and Phi-4 report the full MATH test set: never a MATH-500 claim
    for c in registry.claims:
        if c.model.startswith("llama-") or c.model == "phi-4":
            assert c.benchmark == "math", c.where


def test_external_results(registry):
    ext = {(e.source.id, e.model, e.benchmark): e for e in registry.external}
    assert ext[("open-r1", "r1-distill-qwen-7b", "aime24")].value == 50.8
    assert ext[("open-r1", "r1-distill-qwen-7b", "aime24")].k == 64
    assert ext[("open-r1", "r1-distill-qwen-7b", "math500")].k == 4
    assert ext[("open-r1", "r1-distill-qwen-7b", "gpqa_diamond")].k == 8
    assert ext[("sober-look", "r1-distill-qwen-1.5b", "aime24")].k == 10
    assert all(e.problems == BENCHMARKS[e.benchmark].problems for e in registry.external)


GOOD_SOURCE = {"id": "s", "label": "S", "document": "A paper", "url": "https://example.org/p", "kind": "paper"}
GOOD_CLAIM = {"model": "r1-distill-qwen-7b", "benchmark": "aime24", "metric": "pass@1", "value": 55.5,
              "table": "Table 5"}


def _write(d: Path, name: str, data) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    p = d / name
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def _load_claims(tmp_path, claims, source=None):
    d = tmp_path / "claims"
    _write(d, "bad.yaml", {"source": source or GOOD_SOURCE, "claims": claims})
    return load_registry(d, tmp_path / "none")


def test_a_valid_file_loads(tmp_path):
    reg = _load_claims(tmp_path, [GOOD_CLAIM])
    assert reg.claims[0].value == 55.5 and reg.claims[0].source.label == "S"


@pytest.mark.parametrize("change, message", [
    ({"model": "gpt-9"}, "unknown model 'gpt-9'"),
    ({"benchmark": "aime2024"}, "unknown benchmark 'aime2024'"),
    ({"metric": "pass@1"} | {"benchmark": "swebench_verified"}, "does not fit swebench_verified"),
    ({"metric": "maj@64"}, "unknown metric"),
    ({"value": 120}, "out of range"),
    ({"value": "55.5"}, "out of range"),
    ({"table": None}, "`table` (or `section`) is missing"),
    ({"protocol": {"temprature": 0.6}}, "unknown protocol key(s) temprature"),
    ({"protocol": {"k": 0}}, "protocol.k must be"),
    ({"metric": "cons@64", "protocol": {"k": 16}}, "cons@64 needs k = 64"),
    ({"colour": "red"}, "unknown key(s) colour"),
])
def test_invalid_claims_name_file_and_entry(tmp_path, change, message):
    bad = {k: v for k, v in ({**GOOD_CLAIM, **change}).items() if v is not None}
    with pytest.raises(ClaimsError) as e:
        _load_claims(tmp_path, [GOOD_CLAIM | {"benchmark": "math500"}, bad])
    text = str(e.value)
    assert "bad.yaml" in text and "entry 1" in text, text
    assert message in text, text


@pytest.mark.parametrize("change, message", [
    ({"url": None}, "source.url is missing"),
    ({"document": ""}, "source.document is missing"),
    ({"kind": "blog"}, "source.kind 'blog'"),
    ({"url": "arxiv 2501.12948"}, "not an http(s) URL"),
])
def test_invalid_source_names_file(tmp_path, change, message):
    src = {k: v for k, v in (GOOD_SOURCE | change).items() if v is not None}
    with pytest.raises(ClaimsError) as e:
        _load_claims(tmp_path, [GOOD_CLAIM], source=src)
    assert "bad.yaml" in str(e.value) and message in str(e.value)


def test_duplicate_and_missing_fields(tmp_path):
    with pytest.raises(ClaimsError, match=r"bad.yaml: entry 1 .*duplicates entry 0"):
        _load_claims(tmp_path, [GOOD_CLAIM, GOOD_CLAIM | {"value": 50.0}])
    with pytest.raises(ClaimsError, match=r"bad.yaml: entry 0 \(r1-distill-qwen-7b / aime24 / pass@1\): `value` is missing"):
        _load_claims(tmp_path, [{k: v for k, v in GOOD_CLAIM.items() if k != "value"}])
    with pytest.raises(ClaimsError, match="`claims` must be a non-empty list"):
        _load_claims(tmp_path, [])
    (tmp_path / "claims" / "bad.yaml").write_text("source: [unclosed\n")
    with pytest.raises(ClaimsError, match="bad.yaml: invalid YAML"):
        load_registry(tmp_path / "claims", tmp_path / "none")


def test_invalid_external_results(tmp_path):
    good = {"model": "r1-distill-qwen-7b", "benchmark": "aime24", "metric": "pass@1", "value": 50.8, "k": 64,
            "table": "AIME 2024"}
    src = GOOD_SOURCE | {"kind": "reproduction"}
    d = tmp_path / "ext"
    _write(d, "repro.yaml", {"source": src, "results": [good]})
    reg = load_registry(tmp_path / "none", d)
    assert reg.external[0].k == 64 and reg.external[0].problems == 30
    _write(d, "repro.yaml", {"source": src, "results": [good, {k: v for k, v in good.items() if k != "k"}]})
    with pytest.raises(ClaimsError, match=r"repro.yaml: entry 1 .*`k` \(samples per problem"):
        load_registry(tmp_path / "none", d)
    _write(d, "repro.yaml", {"source": src, "results": [good | {"model": "nope"}]})
    with pytest.raises(ClaimsError, match=r"repro.yaml: entry 0 .*unknown model 'nope'"):
        load_registry(tmp_path / "none", d)


def test_source_ids_are_unique(tmp_path):
    d = tmp_path / "claims"
    _write(d, "a.yaml", {"source": GOOD_SOURCE, "claims": [GOOD_CLAIM]})
    _write(d, "b.yaml", {"source": GOOD_SOURCE, "claims": [GOOD_CLAIM]})
    with pytest.raises(ClaimsError, match="b.yaml: source.id 's' is already used"):
        load_registry(d, tmp_path / "none")
