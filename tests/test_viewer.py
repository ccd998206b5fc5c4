"""The per-run sample viewer: the files `make report` writes for a replay run, and the page itself in
a real headless Chromium (opened from file://, filtered, a sample opened, a screenshot taken)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import AIME_SAMPLE, only_run, run_harness

from harness import report
from harness.viewer import write_run_page

CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run"]

# per problem, 6 samples: kinds in sample order
KINDS = ["ok", "ok", "ok", "wrong", "truncated", "no_answer"]


def completion(kind: str, answer: str, j: int) -> dict:
    think = "<think>\n" + f"Sample {j}: checking the cases one by one. " * 20
    text = {"ok": think + f"\n</think>\n\nSo the answer is $\\boxed{{{answer}}}$.",
            "wrong": think + f"\n</think>\n\nThe final answer is $\\boxed{{{int(answer) + 1}}}$.",
            "truncated": think + " and then",
            "no_answer": think + "\n</think>\n\nI could not finish this one."}[kind]
    return {"completion": text, "finish_reason": "length" if kind == "truncated" else "stop",
            "output_tokens": 100 + 10 * j}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A replay run of R1-Distill-Qwen-7B on five AIME problems, six samples each, then `report`."""
    tmp = tmp_path_factory.mktemp("viewer")
    rows = [json.loads(line) for line in AIME_SAMPLE.read_text().splitlines()]
    outs = tmp / "outs.jsonl"
    with open(outs, "w") as f:
        for r in rows:
            for j, kind in enumerate(KINDS):
                f.write(json.dumps({"id": r["id"], "sample": j, **completion(kind, r["answer"], j)}) + "\n")
    results = tmp / "results"
    run_harness("model=r1-distill-qwen-7b", "task=aime24", "backend=replay", f"backend.path={outs}",
                f"task.data_files={AIME_SAMPLE}", "sampling=r1", "sampling.k=6", f"results_dir={results}")
    return only_run(results)


def load_js(path: Path, call: str) -> dict:
    text = path.read_text(encoding="utf-8")
    assert text.startswith(call + "(") and text.endswith(");\n")
    body = text[len(call) + 1:-3]
    if call == "VIEWER_CHUNK":
        body = body.split(",", 1)[1]
    return json.loads(body)


def test_report_writes_a_self_contained_page_with_paged_data(run_dir):
    page = (run_dir / "index.html").read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page  # no CDN, no network
    assert '<script src="viewer/summary.js"></script>' in page and "<svg" in page
    assert "pass@k and cons@k" in page and "pass@1 by output-token budget" in page
    summary = load_js(run_dir / "viewer" / "summary.js", "VIEWER_SUMMARY")
    assert summary["run"]["problems"] == 5 and summary["run"]["samples"] == 30
    assert summary["run"]["has_texts"] is True
    p0 = summary["problems"][0]
    assert p0["id"] == "60" and p0["gold"] == "24" and p0["maj"] == "24" and p0["maj_ok"] is True
    flags = [row[7] for row in p0["samples"]]
    # ok, ok, ok, wrong (off the majority), truncated (no answer), no answer
    assert flags == ["", "", "", "ws", "wtn", "wn"]
    assert [row[3] for row in p0["samples"]] == ["ok", "ok", "ok", "ok", "truncated", "no_answer"]
    assert [row[6] for row in p0["samples"]][4] == "length"
    assert "checking the cases" not in (run_dir / "viewer" / "summary.js").read_text()  # no text in the summary
    chunk = load_js(run_dir / "viewer" / "p-000000.js", "VIEWER_CHUNK")
    assert chunk["text"].startswith("Find the number of ordered pairs") and chunk["gold"] == "24"
    assert len(chunk["completions"]) == 6 and "\\boxed{24}" in chunk["completions"][0]["text"]
    assert sorted(p.name for p in (run_dir / "viewer").glob("p-*.js")) == [f"p-{i:06d}.js" for i in range(5)]
    # linked from the run report and the leaderboard
    assert "(index.html)" in (run_dir / "report.md").read_text()
    board = (run_dir.parents[1] / "LEADERBOARD.md").read_text()
    assert f"[samples](runs/{run_dir.name}/index.html)" in board


def test_an_unchanged_run_is_not_rewritten_and_a_changed_one_is(run_dir):
    before = {p: p.stat().st_mtime_ns for p in (run_dir / "viewer").iterdir()}
    write_run_page(run_dir)
    assert {p: p.stat().st_mtime_ns for p in (run_dir / "viewer").iterdir()} == before
    # a rescored run with per-sample rules and grader profiles that disagree on one sample
    scores = [json.loads(line) for line in (run_dir / "scores.jsonl").read_text().splitlines()]
    for s in scores:
        s["rule"] = "boxed" if s["extracted"] else None
        s["by_grader"] = {"strict": s["correct"], "lenient": s["correct"] or (s["id"] == "60" and s["sample"] == 3)}
    (run_dir / "scores.jsonl").write_text("".join(json.dumps(s) + "\n" for s in scores))
    write_run_page(run_dir)
    summary = load_js(run_dir / "viewer" / "summary.js", "VIEWER_SUMMARY")
    assert summary["run"]["has_graders"] is True
    row = summary["problems"][0]["samples"][3]
    assert row[4] == "boxed" and "g" in row[7]
    assert sum("g" in r[7] for p in summary["problems"] for r in p["samples"]) == 1


def test_a_run_without_its_dataset_still_gets_a_page(tmp_path, run_dir):
    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy)
    shutil.rmtree(copy / "viewer")
    (copy / "index.html").unlink()
    cfg = (copy / "config.yaml").read_text().replace(str(AIME_SAMPLE), str(tmp_path / "gone.jsonl"))
    (copy / "config.yaml").write_text(cfg)
    write_run_page(copy)
    summary = load_js(copy / "viewer" / "summary.js", "VIEWER_SUMMARY")
    assert summary["run"]["has_texts"] is False and summary["problems"][0]["gold"] is None
    assert load_js(copy / "viewer" / "p-000000.js", "VIEWER_CHUNK")["completions"][0]["text"]


def test_report_can_skip_the_pages(tmp_path, run_dir):
    results = tmp_path / "results"
    shutil.copytree(run_dir.parents[1], results)
    page = results / "runs" / run_dir.name / "index.html"
    page.unlink()
    report.main(["--results-dir", str(results), "--no-plots", "--no-viewer"])
    assert not page.exists()


def _playwright():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (CI installs it: apt-get install chromium)")
    return pytest.importorskip("playwright.sync_api")


@pytest.mark.browser
def test_the_page_in_a_headless_browser(run_dir, tmp_path):
    pw = _playwright()
    with pw.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors, remote = [], []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: remote.append(r.url) if not r.url.startswith("file://") else None)
            page.goto((run_dir / "index.html").as_uri())
            assert "5 problems, 30 samples shown" in page.inner_text("#count")
            assert "pass@1" in page.inner_text("#facts")
            # filter: truncated samples only (one per problem)
            page.check("#f-truncated")
            assert page.inner_text("#count") == "5 problems, 5 samples shown"
            page.uncheck("#f-truncated")
            page.check("#f-wrong")
            assert page.inner_text("#count") == "5 problems, 15 samples shown"
            page.uncheck("#f-wrong")
            # open the first problem: its text arrives from its data file
            page.click("#problem-row-0")
            page.wait_for_function("document.getElementById('problem-text').textContent.startsWith('Find')")
            assert page.inner_text("#problem-gold") == "24"
            assert page.locator("#samples tbody tr").count() == 6
            # open sample 3 (a wrong answer): the reasoning is folded, the answer highlighted
            page.click("#sample-row-3")
            page.wait_for_selector("#completion:not([hidden])")
            assert "wrong" in page.inner_text("#completion-title")
            assert page.locator("#think").get_attribute("open") is None
            assert page.locator("#answer-text mark").inner_text() == "\\boxed{25}"
            assert not page.locator("#think-text").is_visible()
            page.click("#think-summary")
            assert page.locator("#think-text").is_visible()
            shot = tmp_path / "viewer.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            if os.environ.get("VIEWER_SCREENSHOT"):
                shutil.copy(shot, os.environ["VIEWER_SCREENSHOT"])
            # the same state from a link
            page.goto((run_dir / "index.html").as_uri() + "#p=1&s=0")
            page.wait_for_selector("#completion:not([hidden])")
            assert page.locator("#answer-text mark").inner_text() == "\\boxed{180}"
            assert errors == [] and remote == []
        finally:
            browser.close()
