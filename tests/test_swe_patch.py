"""Patch extraction from completions and validation before anything touches a repository."""

from __future__ import annotations

import os

import pytest

from harness.scoring.patch import PatchRejected, extract_patch, normalise, patch_paths, validate_patch

DIFF = """diff --git a/pkg/mod.py b/pkg/mod.py
--- a/pkg/mod.py
+++ b/pkg/mod.py
@@ -1,2 +1,2 @@
 def f(x):
-    return x - 1
+    return x + 1
"""


def test_patch_tags_win_and_think_is_ignored():
    text = f"<think>maybe\n<patch>\n--- a/wrong.py\n+++ b/wrong.py\n@@ -1 +1 @@\n-a\n+b\n</patch></think>\nHere:\n<patch>\n{DIFF}</patch>"
    ex = extract_patch(text)
    assert ex.source == "patch_tag"
    assert ex.patch == DIFF
    assert set(patch_paths(ex.patch)) == {"pkg/mod.py"}


def test_unclosed_think_has_no_patch():
    assert extract_patch(f"<think>I could write\n{DIFF}").patch is None


def test_fenced_diff_and_crlf():
    text = "Fix:\r\n```diff\r\n" + DIFF.replace("\n", "\r\n") + "```\r\nDone."
    ex = extract_patch(text)
    assert ex.source == "fence"
    assert ex.patch == DIFF
    assert "\r" not in ex.patch


def test_fence_inside_patch_tags():
    ex = extract_patch(f"<patch>\n```diff\n{DIFF}```\n</patch>")
    assert ex.patch == DIFF


def test_several_fences_for_distinct_files_are_joined_repeats_keep_last():
    other = DIFF.replace("pkg/mod.py", "pkg/other.py")
    ex = extract_patch(f"```diff\n{DIFF}```\nand\n```diff\n{other}```")
    assert set(patch_paths(ex.patch)) == {"pkg/mod.py", "pkg/other.py"}
    draft = DIFF.replace("x + 1", "x + 2")
    ex = extract_patch(f"```diff\n{draft}```\nbetter:\n```diff\n{DIFF}```")
    assert ex.patch == DIFF


def test_bare_diff_with_trailing_prose():
    ex = extract_patch(f"The fix is below.\n{DIFF}\nThis changes the sign.")
    assert ex.source == "bare"
    assert ex.patch == DIFF


def test_no_diff():
    assert extract_patch("I do not know.").patch is None
    assert extract_patch("<patch>\n\n</patch>").patch is None
    assert normalise("\n\n") == ""


def _hdr(path: str, extra: str = "") -> str:
    return f"diff --git a/{path} b/{path}\n{extra}--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-a\n+b\n"


@pytest.mark.parametrize("patch, reason", [
    (_hdr("../outside"), "rejected_traversal"),
    (_hdr("pkg/../../outside"), "rejected_traversal"),
    ("--- /etc/passwd\n+++ /etc/passwd\n@@ -1 +1 @@\n-a\n+b\n", "rejected_absolute_path"),
    ("diff --git a/x b//tmp/evil\n--- a/x\n+++ b//tmp/evil\n@@ -1 +1 @@\n-a\n+b\n", "rejected_absolute_path"),
    (_hdr(".git/hooks/pre-commit"), "rejected_git_dir"),
    (_hdr("sub/.GIT/config"), "rejected_git_dir"),
    ("diff --git a/link b/link\nnew file mode 120000\n--- /dev/null\n+++ b/link\n@@ -0,0 +1 @@\n+/etc\n",
     "rejected_symlink"),
    ("diff --git a/m b/m\nold mode 100644\nnew mode 120000\n", "rejected_symlink"),
    ("diff --git a/sub b/sub\nnew file mode 160000\n--- /dev/null\n+++ b/sub\n@@ -0,0 +1 @@\n+Subproject commit 0\n",
     "rejected_mode"),
    ("diff --git a/img.png b/img.png\nnew file mode 100644\nGIT binary patch\nliteral 4\nLcmZ?l\n", "rejected_binary"),
    ("diff --git a/img.png b/img.png\nBinary files a/img.png and b/img.png differ\n", "rejected_binary"),
    ("just words\n", "rejected_malformed"),
    ('diff --git "a/../x" "b/../x"\n--- "a/../x"\n+++ "b/../x"\n@@ -1 +1 @@\n-a\n+b\n', "rejected_traversal"),
])
def test_rejections(patch, reason):
    with pytest.raises(PatchRejected) as e:
        validate_patch(patch)
    assert e.value.reason == reason


def test_size_cap():
    big = _hdr("a.py") + "+" + "x" * 2000 + "\n"
    with pytest.raises(PatchRejected) as e:
        validate_patch(big, max_bytes=1000)
    assert e.value.reason == "rejected_size"


def test_path_resolving_outside_through_a_symlink(tmp_path):
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    os.symlink(outside, repo / "pkg" / "link")
    with pytest.raises(PatchRejected) as e:
        validate_patch(_hdr("pkg/link/file.py"), repo)
    assert e.value.reason == "rejected_outside_repo"
    assert validate_patch(_hdr("pkg/ok.py"), repo) == ["pkg/ok.py"]


def test_valid_patch_paths():
    new = "diff --git a/n.py b/n.py\nnew file mode 100644\n--- /dev/null\n+++ b/n.py\n@@ -0,0 +1 @@\n+x = 1\n"
    assert validate_patch(DIFF + new) == ["pkg/mod.py", "n.py"]
