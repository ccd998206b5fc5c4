"""The results store: torn lines, resume lookup, redaction."""

from __future__ import annotations

import json

from harness.store import REDACTED, RunStore, identity_hash, read_jsonl, redact, repair_tail
from harness.types import Completion


def test_torn_last_line_is_skipped_and_repaired(tmp_path):
    p = tmp_path / "samples.jsonl"
    good = [json.dumps({"id": "a", "sample": i, "text": "t"}) for i in range(3)]
    p.write_text("\n".join(good) + "\n" + '{"id": "a", "sample": 3, "te')
    assert [r["sample"] for _, r in read_jsonl(p)] == [0, 1, 2]
    removed = repair_tail(p)
    assert removed == len('{"id": "a", "sample": 3, "te')
    assert p.read_text().endswith("\n") and len(p.read_text().splitlines()) == 3
    assert repair_tail(p) == 0


def test_complete_json_without_newline_counts_as_torn(tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_text('{"id": "a", "sample": 0}\n{"id": "a", "sample": 1}')
    assert [r["sample"] for _, r in read_jsonl(p)] == [0]


def test_sample_index_skips_errors_and_duplicates(tmp_path):
    store = RunStore.create(tmp_path, "m", "t", "abc")
    with store.sample_writer() as w:
        w.write(Completion("a", 0, "x", "stop"))
        w.write(Completion("a", 1, "", "error", error="HTTP 500"))
        w.write(Completion("a", 0, "x", "stop"))
        w.write(Completion("b", 0, "y", "length"))
    have = store.sample_index()
    assert have == {"a": {0}, "b": {0}}


def test_find_resumable_picks_unfinished_run_with_same_identity(tmp_path):
    ident = identity_hash({"model": "m"})
    a = RunStore.create(tmp_path, "m", "t", ident)
    a.write_manifest({"identity": ident, "status": "complete"})
    assert RunStore.find_resumable(tmp_path, ident) is None
    b = RunStore.create(tmp_path, "m", "t", ident)
    b.write_manifest({"identity": ident, "status": "running"})
    assert RunStore.find_resumable(tmp_path, ident).path == b.path
    assert RunStore.find_resumable(tmp_path, identity_hash({"model": "other"})) is None
    assert a.path != b.path  # never overwritten


def test_redact():
    cfg = {"backend": {"api_key": "sk-123", "api_key_env": "OPENAI_API_KEY", "headers": {"Authorization": "Bearer x"}},
           "model": {"name": "m", "token": None}}
    r = redact(cfg)
    assert r["backend"]["api_key"] == REDACTED
    assert r["backend"]["api_key_env"] == "OPENAI_API_KEY"
    assert r["backend"]["headers"]["Authorization"] == REDACTED
    assert r["model"] == {"name": "m", "token": None}


def test_bad_line_in_the_middle_is_an_error_naming_file_and_line(tmp_path):
    import pytest

    p = tmp_path / "s.jsonl"
    p.write_text('{"a": 1}\n{bad\n{"a": 2}\n')
    with pytest.raises(ValueError, match=r"s.jsonl:2: invalid JSON"):
        list(read_jsonl(p))
    p.write_text('{"a": 1}\n{bad\n')  # the same damage on the last line is a torn write
    assert [r for _, r in read_jsonl(p)] == [{"a": 1}]
