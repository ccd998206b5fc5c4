// The sample viewer: reads VIEWER_SUMMARY (viewer/summary.js) and, per problem on demand,
// VIEWER_CHUNK (viewer/p-NNNNNN.js) through <script> tags, since browsers block fetch() on file://.
// Model text only ever reaches the page through textContent.
"use strict";
var S = null;            // the summary
var chunks = {};         // problem index -> chunk
var waiting = {};        // problem index -> callbacks
var current = {problem: null, sample: null};
var FLAG_NAMES = {w: "wrong", t: "truncated", n: "no answer", s: "off majority", g: "grader-dependent"};

function VIEWER_SUMMARY(data) { S = data; }
function VIEWER_CHUNK(i, data) {
  chunks[i] = data;
  (waiting[i] || []).forEach(function (cb) { cb(data); });
  delete waiting[i];
}

function el(tag, text, cls) {
  var e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function pad(i) { var s = String(i); while (s.length < 6) s = "0" + s; return s; }
function pct(x) { return (x === null || x === undefined) ? "–" : (100 * x).toFixed(1); }

function loadChunk(i, cb) {
  if (chunks[i]) { cb(chunks[i]); return; }
  if (waiting[i]) { waiting[i].push(cb); return; }
  waiting[i] = [cb];
  var s = document.createElement("script");
  s.src = "viewer/p-" + pad(i) + ".js";
  s.onerror = function () { document.getElementById("hint").textContent = "could not load " + s.src; };
  document.head.appendChild(s);
}

function activeFlags() {
  var out = [];
  document.querySelectorAll("#controls input[type=checkbox]").forEach(function (c) {
    if (c.checked) out.push(c.getAttribute("data-flag"));
  });
  return out;
}
function matches(row, flags) {
  for (var j = 0; j < flags.length; j++) if (row[7].indexOf(flags[j]) < 0) return false;
  return true;
}

function renderFacts() {
  var r = S.run, p = r.protocol || {};
  document.getElementById("facts").textContent =
    r.model + " · " + r.task + " · " + r.problems + " problems × k " + r.k + " = " + r.samples + " samples · " +
    "pass@1 " + pct(r.pass1) + " ± " + pct(r.se) + " · cons@" + r.k + " " + pct(r.cons) + " · T " +
    p.temperature + ", top-p " + p.top_p + ", max tokens " + p.max_tokens +
    (r.has_texts ? "" : " · problem texts unavailable (dataset not found when the page was built)");
  if (r.has_graders) document.getElementById("grader-filter").hidden = false;
}

function renderProblems() {
  var flags = activeFlags(), tbody = document.querySelector("#problems tbody");
  tbody.textContent = "";
  var shownProblems = 0, shownSamples = 0;
  S.problems.forEach(function (p, i) {
    var n = 0;
    p.samples.forEach(function (row) { if (matches(row, flags)) n++; });
    if (flags.length && n === 0) return;
    shownProblems++; shownSamples += n;
    var c = 0; p.samples.forEach(function (row) { c += row[2]; });
    var tr = el("tr");
    tr.id = "problem-row-" + i;
    if (current.problem === i) tr.className = "active";
    tr.appendChild(el("td", p.id));
    var g = el("td", p.gold === null ? "–" : p.gold, "gold"); g.title = p.gold || ""; tr.appendChild(g);
    tr.appendChild(el("td", c + "/" + p.samples.length));
    var m = el("td", (p.maj === null ? "–" : p.maj), "maj " + (p.maj_ok ? "ok" : "bad"));
    m.title = (p.maj || "") + (p.maj_ok ? " (correct)" : " (wrong)"); tr.appendChild(m);
    tr.appendChild(el("td", n));
    tr.addEventListener("click", function () { openProblem(i); });
    tbody.appendChild(tr);
  });
  document.getElementById("count").textContent =
    shownProblems + " problems, " + shownSamples + " samples shown";
  if (current.problem !== null) renderSamples();
}

function openProblem(i) {
  current.problem = i; current.sample = null;
  document.querySelectorAll("#problems tr.active").forEach(function (r) { r.className = ""; });
  var row = document.getElementById("problem-row-" + i); if (row) row.className = "active";
  var p = S.problems[i];
  document.getElementById("hint").hidden = true;
  document.getElementById("problem").hidden = false;
  document.getElementById("completion").hidden = true;
  document.getElementById("problem-id").textContent = "Problem " + p.id;
  document.getElementById("problem-text").textContent = "loading…";
  document.getElementById("problem-gold").textContent = p.gold === null ? "–" : p.gold;
  renderSamples();
  loadChunk(i, function (ch) {
    if (current.problem !== i) return;
    document.getElementById("problem-text").textContent = ch.text || "(problem text unavailable)";
    if (ch.gold !== null && ch.gold !== undefined) document.getElementById("problem-gold").textContent = ch.gold;
    location.hash = "p=" + i;
  });
}

function renderSamples() {
  var i = current.problem, p = S.problems[i], flags = activeFlags();
  var tbody = document.querySelector("#samples tbody");
  tbody.textContent = "";
  p.samples.forEach(function (row, j) {
    if (!matches(row, flags)) return;
    var tr = el("tr");
    tr.id = "sample-row-" + row[0];
    if (current.sample === j) tr.className = "active";
    tr.appendChild(el("td", row[0]));
    tr.appendChild(el("td", row[1] === null ? "–" : row[1]));
    tr.appendChild(el("td", row[2] ? "✓" : "✗", row[2] ? "ok" : "bad"));
    tr.appendChild(el("td", row[3]));
    tr.appendChild(el("td", row[4] === null || row[4] === undefined ? "–" : row[4]));
    tr.appendChild(el("td", row[5] === null ? "–" : row[5]));
    tr.appendChild(el("td", row[6] === null ? "–" : row[6]));
    var f = el("td");
    row[7].split("").forEach(function (k) { f.appendChild(el("span", FLAG_NAMES[k] || k, "flag")); });
    tr.appendChild(f);
    tr.addEventListener("click", function () { openSample(j); });
    tbody.appendChild(tr);
  });
}

// The span of the answer in the text after the reasoning: the last \boxed{...} (balanced braces),
// else the last occurrence of the extracted answer.
function answerSpan(text, extracted) {
  var at = text.lastIndexOf("\\boxed{");
  if (at >= 0) {
    var depth = 0;
    for (var j = at + 6; j < text.length; j++) {
      if (text[j] === "{") depth++;
      else if (text[j] === "}") { depth--; if (depth === 0) return [at, j + 1]; }
    }
  }
  if (extracted) {
    var k = text.lastIndexOf(extracted);
    if (k >= 0) return [k, k + extracted.length];
  }
  return null;
}

function openSample(j) {
  var i = current.problem, row = S.problems[i].samples[j];
  current.sample = j;
  renderSamples();
  loadChunk(i, function (ch) {
    if (current.problem !== i || current.sample !== j) return;
    var c = ch.completions[j] || {text: ""};
    var text = c.text || "", think = c.reasoning || null, answer = text;
    var end = text.lastIndexOf("</think>");
    if (think === null && end >= 0) {
      var start = text.indexOf("<think>");
      think = text.slice(start >= 0 && start < end ? start + 7 : 0, end);
      answer = text.slice(end + 8).replace(/^\s+/, "");
    }
    document.getElementById("completion").hidden = false;
    document.getElementById("completion-title").textContent =
      "Sample " + row[0] + ": " + (row[2] ? "correct" : "wrong") + " (" + row[3] + ", " +
      (row[5] === null ? "?" : row[5]) + " tokens, finish " + row[6] + ")";
    var bg = c.by_grader || null, parts = [];
    if (bg) Object.keys(bg).sort().forEach(function (k) {
      var v = bg[k], ok = (v !== null && typeof v === "object") ? v.correct : v;
      parts.push(k + " " + (ok ? "✓" : "✗"));
    });
    document.getElementById("completion-graders").textContent = parts.length ? "graders: " + parts.join(", ") : "";
    var det = document.getElementById("think");
    det.hidden = think === null;
    det.open = false;
    document.getElementById("think-summary").textContent =
      think === null ? "" : "reasoning (" + think.length + " characters, folded)";
    document.getElementById("think-text").textContent = think || "";
    var pre = document.getElementById("answer-text");
    pre.textContent = "";
    if (think === null && end < 0 && row[3] !== "ok") {
      pre.appendChild(el("span", answer));
    } else {
      var span = answerSpan(answer, row[1]);
      if (span) {
        pre.appendChild(document.createTextNode(answer.slice(0, span[0])));
        pre.appendChild(el("mark", answer.slice(span[0], span[1])));
        pre.appendChild(document.createTextNode(answer.slice(span[1])));
      } else {
        pre.textContent = answer || "(nothing after the reasoning)";
      }
    }
    location.hash = "p=" + i + "&s=" + row[0];
    document.getElementById("completion").scrollIntoView({block: "nearest"});
  });
}

function start() {
  if (!S) { document.getElementById("hint").textContent = "viewer/summary.js did not load"; return; }
  renderFacts();
  document.querySelectorAll("#controls input[type=checkbox]").forEach(function (c) {
    c.addEventListener("change", renderProblems);
  });
  renderProblems();
  openFromHash();
  window.addEventListener("hashchange", openFromHash);
}

// #p=<problem index>&s=<sample>: a link to one problem or one sample (also the back button)
function openFromHash() {
  var m = /p=(\d+)(?:&s=(\d+))?/.exec(location.hash);
  if (!m || !S.problems[+m[1]]) return;
  var i = +m[1], j = -1;
  if (m[2] !== undefined) j = S.problems[i].samples.findIndex(function (r) { return r[0] === +m[2]; });
  if (current.problem === i && (j < 0 ? current.sample === null : current.sample === j)) return;
  if (current.problem !== i || j < 0) openProblem(i);
  if (j >= 0) openSample(j);
}
