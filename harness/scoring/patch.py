"""Patches from model completions: extraction and validation.

Extraction (`extract_patch`): only text after the last ``</think>`` counts (a think block that
never closed holds no patch); then the last ``<patch>...</patch>`` block; else fenced blocks
(```diff, ```patch, or any fence whose body is a diff); else a bare diff in the text. Line endings
are normalised to ``\\n``.

Validation (`validate_patch`) runs before anything touches a repository and rejects, with a
reason recorded on the sample:

    rejected_size           larger than the size cap
    rejected_malformed      no file header (diff --git / --- +++) or an unparseable path
    rejected_binary         a binary patch (GIT binary patch, "Binary files ... differ")
    rejected_symlink        a symlink mode (120000) on any file
    rejected_mode           a gitlink / submodule mode (160000) or any other non-regular mode
    rejected_absolute_path  a path starting with "/" (other than /dev/null) or "~" or a drive
    rejected_traversal      a ".." path component
    rejected_git_dir        a path inside ".git/" (hooks, config, ...)
    rejected_outside_repo   a path that resolves outside the repository (e.g. through a symlink)

``git apply --check`` runs after validation, in the working copy (see harness.swe.executors.local).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

MAX_PATCH_BYTES = 1 << 20  # 1 MiB: far above any real SWE-bench fix

_PATCH_TAG = re.compile(r"<patch>(.*?)</patch>", re.S | re.I)
_FENCE = re.compile(r"^```[ \t]*([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
_DIFF_START = re.compile(r"^(diff --git |--- (?:a/|/dev/null|\S)|Index: )", re.M)


class PatchRejected(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Extracted:
    patch: str | None
    source: str  # "patch_tag" | "fence" | "bare" | "none" | "think_unclosed"


def normalise(patch: str) -> str:
    patch = patch.replace("\r\n", "\n").replace("\r", "\n")
    patch = patch.strip("\n")
    return patch + "\n" if patch.strip() else ""


def _looks_like_diff(text: str) -> bool:
    return bool(re.search(r"^(diff --git |--- )", text, re.M)) and bool(re.search(r"^(\+\+\+ |@@ )", text, re.M))


def _files_of(diff: str) -> set[str]:
    return set(re.findall(r"^\+\+\+ (\S+)", diff, re.M))


def _answer_text(text: str, reasoning_separate: bool = False) -> str | None:
    if "</think>" in text:
        return text.rsplit("</think>", 1)[1]
    if "<think>" in text and not reasoning_separate:
        return None  # the model never left its think block
    return text


def extract_patch(text: str) -> Extracted:
    """The diff a completion proposes, or None (see the module docstring for the order)."""
    answer = _answer_text((text or "").replace("\r\n", "\n").replace("\r", "\n"))
    if answer is None:
        return Extracted(None, "think_unclosed")
    tags = _PATCH_TAG.findall(answer)
    if tags:
        body = tags[-1]
        fenced = [b for _, b in _FENCE.findall(body)]  # a fence inside the tags
        if fenced and _looks_like_diff(fenced[-1]):
            body = fenced[-1]
        body = normalise(body)
        return Extracted(body or None, "patch_tag")
    blocks = [b for lang, b in _FENCE.findall(answer)
              if lang.lower() in ("diff", "patch", "udiff") or _looks_like_diff(b)]
    blocks = [b for b in blocks if _looks_like_diff(b)]
    if blocks:
        # One block per file is common; a repeated file means drafts: keep the last block only.
        files = [_files_of(b) for b in blocks]
        disjoint = all(not (files[i] & files[j]) for i in range(len(files)) for j in range(i))
        body = "\n".join(b.strip("\n") for b in blocks) if disjoint else blocks[-1]
        return Extracted(normalise(body) or None, "fence")
    m = _DIFF_START.search(answer)
    if m and _looks_like_diff(answer[m.start():]):
        return Extracted(normalise(_trim_trailing_prose(answer[m.start():])) or None, "bare")
    return Extracted(None, "none")


def _trim_trailing_prose(diff: str) -> str:
    """Cut prose after the last hunk of a bare diff (hunk lines start with ' ', '+', '-', '\\')."""
    lines = diff.split("\n")
    last = 0
    in_hunk = False
    for i, line in enumerate(lines):
        if line.startswith("@@"):
            in_hunk = True
            last = i
        elif line.startswith(("diff --git", "--- ", "+++ ", "index ", "new file", "deleted file",
                              "old mode", "new mode", "similarity", "rename ", "copy ")):
            in_hunk = False
            last = i
        elif in_hunk and (line[:1] in (" ", "+", "-", "\\") or line == ""):
            if line != "":
                last = i
        else:
            in_hunk = False
    return "\n".join(lines[: last + 1])


# --- validation ------------------------------------------------------------------------------

_HEADER_PATH = re.compile(r"^(?:---|\+\+\+) (.+?)(?:\t.*)?$")
_GIT_HEADER = re.compile(r"^diff --git (.+)$")
_RENAME = re.compile(r"^(?:rename|copy) (?:from|to) (.+)$")


def _unquote(path: str) -> str:
    """git's C-style quoting of unusual paths ("a/t\\303\\251st")."""
    if len(path) >= 2 and path[0] == '"' and path[-1] == '"':
        body = path[1:-1]
        out = bytearray()
        i = 0
        while i < len(body):
            c = body[i]
            if c == "\\" and i + 1 < len(body):
                n = body[i + 1]
                if n in "01234567" and i + 3 < len(body) + 1:
                    out.append(int(body[i + 1:i + 4], 8))
                    i += 4
                    continue
                out += {"n": b"\n", "t": b"\t", '"': b'"', "\\": b"\\", "a": b"\a", "b": b"\b",
                        "f": b"\f", "r": b"\r", "v": b"\v"}.get(n, n.encode())
                i += 2
                continue
            out += c.encode()
            i += 1
        return out.decode("utf-8", errors="replace")
    return path


def _git_header_paths(rest: str) -> list[str]:
    rest = rest.strip()
    if rest.startswith('"'):
        m = re.match(r'("(?:[^"\\]|\\.)*")\s+(.*)$', rest)
        if m:
            return [_unquote(m.group(1)), _unquote(m.group(2))]
        return [rest]
    # "a/x b/x": split at " b/" (paths may contain spaces)
    i = rest.find(" b/")
    if i > 0:
        return [rest[:i], _unquote(rest[i + 1:])]
    return rest.split(" ", 1)


def _strip_prefix(path: str) -> str:
    return path[2:] if path.startswith(("a/", "b/")) else path


def patch_paths(patch: str) -> list[str]:
    """Every path a patch names, prefixes (a/ b/) removed, /dev/null skipped."""
    paths: list[str] = []
    for line in patch.split("\n"):
        if line.startswith("diff --git "):
            raw = _git_header_paths(line[len("diff --git "):])
        elif line.startswith(("--- ", "+++ ")):
            m = _HEADER_PATH.match(line)
            raw = [_unquote(m.group(1).strip())] if m else []
        elif _RENAME.match(line):
            raw = [_unquote(_RENAME.match(line).group(1).strip())]  # type: ignore[union-attr]
            paths.extend(raw)
            continue
        else:
            continue
        for p in raw:
            p = _unquote(p.strip())
            if p == "/dev/null":
                continue
            paths.append(_strip_prefix(p))
    return paths


def validate_patch(patch: str, repo_root: str | Path | None = None, max_bytes: int = MAX_PATCH_BYTES) -> list[str]:
    """Raise PatchRejected for anything unsafe; return the (unique) paths the patch touches."""
    size = len(patch.encode("utf-8", errors="replace"))
    if size > max_bytes:
        raise PatchRejected("rejected_size", f"patch is {size} bytes, over the cap of {max_bytes}")
    if "\0" in patch:
        raise PatchRejected("rejected_binary", "patch contains NUL bytes")
    for line in patch.split("\n"):
        if line.startswith("GIT binary patch") or (line.startswith("Binary files ") and line.endswith(" differ")):
            raise PatchRejected("rejected_binary", f"binary patch: {line[:80]!r}")
        m = re.match(r"^(new file mode|deleted file mode|old mode|new mode) (\d+)\s*$", line)
        if not m:
            m = re.match(r"^index [0-9a-fA-F]+\.\.[0-9a-fA-F]+ (\d+)\s*$", line)
            mode = m.group(1) if m else None
        else:
            mode = m.group(2)
        if mode is not None:
            if mode == "120000":
                raise PatchRejected("rejected_symlink", f"symlink mode: {line!r}")
            if mode not in ("100644", "100755", "100664"):
                raise PatchRejected("rejected_mode", f"unsupported file mode: {line!r}")
    paths = patch_paths(patch)
    if not paths:
        raise PatchRejected("rejected_malformed", "no file headers (diff --git / --- / +++) found")
    root = Path(os.path.realpath(repo_root)) if repo_root is not None else None
    seen: list[str] = []
    for p in paths:
        if not p or "\n" in p:
            raise PatchRejected("rejected_malformed", f"empty or broken path {p!r}")
        if p.startswith(("/", "~", "\\")) or re.match(r"^[A-Za-z]:[\\/]", p):
            raise PatchRejected("rejected_absolute_path", f"absolute path {p!r}")
        parts = re.split(r"[\\/]+", p)
        if ".." in parts:
            raise PatchRejected("rejected_traversal", f"'..' in path {p!r}")
        if any(part.lower().rstrip(". ") == ".git" for part in parts):
            raise PatchRejected("rejected_git_dir", f"path inside .git: {p!r}")
        if root is not None:
            resolved = Path(os.path.realpath(root / p))
            if resolved != root and root not in resolved.parents:
                raise PatchRejected("rejected_outside_repo", f"{p!r} resolves to {resolved}, outside the repository")
        if p not in seen:
            seen.append(p)
    return seen
