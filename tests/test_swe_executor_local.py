"""The local executor: containment of hostile patches and tests (grading: test_swe_grading.py).

Limits are small so that each attempt takes a few seconds. Every hostile attempt is followed by
checks that nothing appeared outside the attempt directory, that no process of the attempt
survived, and that the next (gold) attempt still resolves.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from harness.swe import Instance
from harness.swe.envs import EnvStore, SpecTable
from harness.swe.executors.local import UID_BASE, UID_SPAN, Limits, LocalExecutor, _pids_of_uid, containment
from harness.swe.repos import RepoStore, build_repo_from_dir, git

BASE = {
    "demo/__init__.py": "from .core import add\n",
    "demo/core.py": "def add(a, b):\n    return a - b\n",
    "tests/__init__.py": "",
    "tests/test_core.py": "from demo import add\n\n\ndef test_zero():\n    assert add(0, 0) == 0\n",
}
GOLD = """diff --git a/demo/core.py b/demo/core.py
--- a/demo/core.py
+++ b/demo/core.py
@@ -1,2 +1,2 @@
 def add(a, b):
-    return a - b
+    return a + b
"""
TEST_PATCH = "\n".join([
    "diff --git a/tests/test_core.py b/tests/test_core.py",
    "--- a/tests/test_core.py",
    "+++ b/tests/test_core.py",
    "@@ -3,3 +3,7 @@ from demo import add",
    " ",
    " def test_zero():",
    "     assert add(0, 0) == 0",
    "+",
    "+",
    "+def test_add():",
    "+    assert add(2, 3) == 5",
]) + "\n"


SPEC = """repo: "local/*"
versions:
  "*":
    python: current
    inherit_site_packages: true
    test_cmd: "python -m pytest -rA --tb=short -p no:cacheprovider"
"""


def _root() -> Path:
    """A work root that an unprivileged sandbox uid can traverse (pytest's tmp_path cannot)."""
    d = Path(tempfile.mkdtemp(prefix="harness-swe-test-"))
    os.chmod(d, 0o711)
    return d


@pytest.fixture(scope="module")
def env():
    root = _root()
    src = root / "src" / "demo"
    for rel, text in BASE.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    cache = root / "cache"
    sha = build_repo_from_dir(src, cache / "local__demo")
    work = root / "work"
    work.mkdir()
    os.chmod(work, 0o711)
    specs = root / "specs"
    specs.mkdir()
    (specs / "local.yaml").write_text(SPEC)
    envs = EnvStore(root / "envs", specs=SpecTable([specs]))
    yield {"root": root, "sha": sha, "store": RepoStore(cache), "work": work, "envs": envs}
    shutil.rmtree(root, ignore_errors=True)


def _instance(env, test_patch: str = TEST_PATCH) -> Instance:
    return Instance.from_row({
        "instance_id": "local__demo-1", "repo": "local/demo", "base_commit": env["sha"], "patch": GOLD,
        "test_patch": test_patch, "problem_statement": "add() subtracts",
        "FAIL_TO_PASS": json.dumps(["tests/test_core.py::test_add"]),
        "PASS_TO_PASS": ["tests/test_core.py::test_zero"],
    })


def _executor(env, **limits) -> LocalExecutor:
    lim = dict(timeout=10, cpu_seconds=10, address_space=1 << 30, memory=1 << 30, file_size=16 << 20,
               nproc=32, nofile=256)
    lim.update(limits)
    return LocalExecutor(env["store"], Limits(**lim), envs=env["envs"], auto_build=True, work_root=str(env["work"]))


def _sandbox_processes() -> list[int]:
    """Processes left running under a sandbox uid whose attempt has ended. A uid still claimed
    (its lock held) belongs to an attempt running elsewhere at the same time, e.g. another test
    session on the same machine, and is not a leak."""
    if not containment().uid_switch:
        return []
    return [p for uid in _uids_in_use() if not _claimed_elsewhere(uid) for p in _pids_of_uid(uid)]


def _claimed_elsewhere(uid: int) -> bool:
    import fcntl

    lock = Path(tempfile.gettempdir()) / "harness-sandbox-uids" / f"{uid}.lock"
    if not lock.exists():
        return False
    with open(lock) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False


def _uids_in_use() -> set[int]:
    uids = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                uid = os.stat(entry.path).st_uid
            except OSError:
                continue
            if UID_BASE <= uid < UID_BASE + UID_SPAN:
                uids.add(uid)
    return uids


def _assert_clean(env, result) -> None:
    assert list(env["work"].iterdir()) == [], "attempt directory left behind"
    assert not (env["root"] / "outside").exists()
    assert not (env["work"] / "outside").exists()
    assert _sandbox_processes() == []
    gold = _executor(env).evaluate(_instance(env), GOLD)
    assert gold.resolved, gold.summary()


def _hostile_patch(body: str) -> str:
    """A model patch that replaces demo/core.py with `body` (hostile code run at import)."""
    old = BASE["demo/core.py"].splitlines()
    new = body.splitlines()
    lines = [f"-{x}" for x in old] + [f"+{x}" for x in new]
    return (f"diff --git a/demo/core.py b/demo/core.py\n--- a/demo/core.py\n+++ b/demo/core.py\n"
            f"@@ -1,{len(old)} +1,{len(new)} @@\n" + "\n".join(lines) + "\n")


# --- the executor ------------------------------------------------------------------------------


def test_gold_resolves_empty_does_not_and_base_fails(env):
    ex = _executor(env)
    gold = ex.evaluate(_instance(env), GOLD)
    assert gold.status == "ok" and gold.resolved, gold.summary()
    assert gold.tests["FAIL_TO_PASS"]["success"] == ["tests/test_core.py::test_add"]
    empty = ex.evaluate(_instance(env), "")  # the baseline: the tests run on the unchanged repository
    assert empty.status == "no_patch" and not empty.resolved and empty.collected
    assert empty.tests["FAIL_TO_PASS"]["failure"] == ["tests/test_core.py::test_add"]
    noop = "diff --git a/NOTES b/NOTES\nnew file mode 100644\n--- /dev/null\n+++ b/NOTES\n@@ -0,0 +1 @@\n+x\n"
    base = ex.evaluate(_instance(env), noop)
    assert base.status == "ok" and not base.resolved
    assert base.tests["FAIL_TO_PASS"]["failure"] == ["tests/test_core.py::test_add"]
    assert list(env["work"].iterdir()) == []


def test_model_cannot_edit_the_tests(env):
    cheat = TEST_PATCH.replace("assert add(2, 3) == 5", "pass")
    r = _executor(env).evaluate(_instance(env), cheat)
    assert r.status == "ok" and not r.resolved  # test files are reset before the test patch


def test_patch_that_does_not_apply(env):
    bad = GOLD.replace("return a - b", "return a * b")
    r = _executor(env).evaluate(_instance(env), bad)
    assert r.status == "apply_failed" and r.detail


@pytest.mark.parametrize("patch, reason", [
    ("diff --git a/../outside b/../outside\nnew file mode 100644\n--- /dev/null\n+++ b/../outside\n@@ -0,0 +1 @@\n+x\n",
     "rejected_traversal"),
    ("diff --git a/x b/x\n--- /dev/null\n+++ /tmp/harness-abs-outside\n@@ -0,0 +1 @@\n+x\n", "rejected_absolute_path"),
    ("diff --git a/demo/link b/demo/link\nnew file mode 120000\n--- /dev/null\n+++ b/demo/link\n@@ -0,0 +1 @@\n+/etc\n",
     "rejected_symlink"),
    ("diff --git a/.git/hooks/post-checkout b/.git/hooks/post-checkout\nnew file mode 100755\n--- /dev/null\n"
     "+++ b/.git/hooks/post-checkout\n@@ -0,0 +1,2 @@\n+#!/bin/sh\n+touch /tmp/harness-hook-ran\n", "rejected_git_dir"),
])
def test_unsafe_patches_are_rejected(env, patch, reason):
    r = _executor(env).evaluate(_instance(env), patch)
    assert r.status == reason, r.summary()
    assert not Path("/tmp/harness-abs-outside").exists() and not Path("/tmp/harness-hook-ran").exists()
    _assert_clean(env, r)


def test_writes_outside_the_working_copy_are_contained(env):
    if not containment().uid_switch:
        pytest.skip("without root the tests run under the caller's uid and can write where it can")
    marker = f"/tmp/harness-escape-{uuid.uuid4().hex}"
    body = (
        "import os\n"
        "for p in (os.path.join(os.getcwd(), '..', 'outside'), os.path.join(os.getcwd(), '..', '..', 'outside'),\n"
        f"          {marker!r}, os.path.expanduser('~/.bashrc')):\n"
        "    try:\n"
        "        open(p, 'w').write('x')\n"
        "    except OSError:\n"
        "        pass\n"
        "def add(a, b):\n    return a + b\n"
    )
    r = _executor(env).evaluate(_instance(env), _hostile_patch(body))
    assert r.status == "ok"
    assert not Path(marker).exists(), "files the tests leave in /tmp are removed"
    _assert_clean(env, r)


def test_sleep_forever_times_out(env):
    body = "import time\ntime.sleep(10_000)\ndef add(a, b):\n    return a + b\n"
    r = _executor(env, timeout=3).evaluate(_instance(env), _hostile_patch(body))
    assert r.status == "timeout" and "wall_clock" in r.limits and not r.resolved
    _assert_clean(env, r)


def test_background_process_is_killed(env):
    body = ("import subprocess, sys\n"
            "subprocess.Popen([sys.executable, '-c', 'import os, time; os.setsid(); time.sleep(10_000)'])\n"
            "def add(a, b):\n    return a + b\n")
    r = _executor(env).evaluate(_instance(env), _hostile_patch(body))
    assert r.status == "ok" and r.resolved  # the tests pass; the daemon must not outlive them
    _assert_clean(env, r)


def test_unbounded_allocation_hits_the_address_space_limit(env):
    body = "blocks = []\nwhile True:\n    blocks.append(bytearray(64 << 20))\n"
    r = _executor(env).evaluate(_instance(env), _hostile_patch(body))
    assert r.status == "ok" and not r.resolved and "memory" in r.limits, r.summary()
    _assert_clean(env, r)


def test_huge_file_hits_the_file_size_limit(env):
    body = ("with open('big.bin', 'wb') as f:\n"
            "    for _ in range(64):\n"
            "        f.write(b'0' * (8 << 20))\n"
            "def add(a, b):\n    return a + b\n")
    r = _executor(env).evaluate(_instance(env), _hostile_patch(body))
    assert r.status == "ok" and not r.resolved and "file_size" in r.limits, r.summary()
    _assert_clean(env, r)


def test_network_is_cut(env):
    if not containment().netns:
        pytest.skip("network namespaces are not available here")
    test_patch = TEST_PATCH + (
        "diff --git a/tests/test_net.py b/tests/test_net.py\nnew file mode 100644\n--- /dev/null\n"
        "+++ b/tests/test_net.py\n@@ -0,0 +1,5 @@\n+import socket\n+\n+\n"
        "+def test_connect():\n+    socket.create_connection(('192.0.2.1', 80), timeout=3).close()\n"
    )
    inst = _instance(env, test_patch)
    r = _executor(env).evaluate(inst, GOLD)
    assert r.status == "ok" and "network" in r.limits, r.summary()
    assert r.resolved  # test_connect is neither FAIL_TO_PASS nor PASS_TO_PASS
    _assert_clean(env, r)


def test_fork_bomb_in_the_test_patch_is_contained(env):
    c = containment()
    if not c.process_limit:
        pytest.skip("no per-attempt process limit on this machine (needs root: uid switch or a pids cgroup)")
    test_patch = TEST_PATCH + (
        "diff --git a/tests/test_bomb.py b/tests/test_bomb.py\nnew file mode 100644\n--- /dev/null\n"
        "+++ b/tests/test_bomb.py\n@@ -0,0 +1,12 @@\n+import os\n+import time\n+\n+\n"
        "+def test_bomb():\n+    while True:\n+        try:\n+            os.fork()\n+        except OSError:\n"
        "+            time.sleep(0.05)\n+\n+\n"
    )
    r = _executor(env, timeout=5).evaluate(_instance(env, test_patch), GOLD)
    assert r.status in ("timeout", "ok") and not r.resolved, r.summary()
    _assert_clean(env, r)


def test_repo_store_export_is_a_fresh_copy(env, tmp_path):
    dest = tmp_path / "copy"
    env["store"].export("local/demo", env["sha"], dest)
    assert (dest / "demo" / "core.py").read_text() == BASE["demo/core.py"]
    assert git(["status", "--porcelain"], dest).stdout == b""
    # the source repository's objects are not shared
    assert not (dest / ".git" / "objects" / "info" / "alternates").exists()


def test_no_root_tests_without_the_unprivileged_uid(env, monkeypatch):
    from harness.swe.executors import local

    c = local.Containment(root=True, uid_switch=False, warnings=["an unprivileged uid cannot run x: denied"])
    assert "refusing" in local.refusal(c) and "denied" in local.refusal(c)
    assert local.refusal(local.Containment(root=True, uid_switch=True)) is None
    monkeypatch.setattr(LocalExecutor, "containment_for", lambda self, e: c)
    r = _executor(env).evaluate(_instance(env), GOLD)
    assert r.status == "error" and "would run as root" in r.detail and not r.resolved
    assert list(env["work"].iterdir()) == []


KILLED_HARNESS = """
import sys
from harness.swe import Instance
from harness.swe.envs import EnvStore, SpecTable
from harness.swe.executors.local import Limits, LocalExecutor, install_cleanup_handlers
from harness.swe.repos import RepoStore
import json
root, row, patch = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
install_cleanup_handlers()
ex = LocalExecutor(RepoStore(root + "/cache"), Limits(timeout=600, cpu_seconds=600),
                   envs=EnvStore(root + "/envs", specs=SpecTable([root + "/specs"])), auto_build=True,
                   work_root=root + "/work")
ex.evaluate(Instance.from_row(row), patch)
"""


def _with_token(token: str) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if token.encode() in Path(entry.path, "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def test_a_killed_harness_leaves_no_test_processes(env):
    import signal
    import subprocess
    import sys
    import time

    token = f"harness-orphan-{uuid.uuid4().hex}"
    body = ("import subprocess, sys, time\n"
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(10_000)', {token!r}])\n"
            "time.sleep(10_000)\n")
    row = _instance(env).to_row()
    harness = subprocess.Popen([sys.executable, "-c", KILLED_HARNESS, str(env["root"]), json.dumps(row),
                                _hostile_patch(body)], env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    try:
        deadline = time.time() + 240
        while not _with_token(token) and time.time() < deadline and harness.poll() is None:
            time.sleep(0.5)
        assert _with_token(token), "the test process never started"
        harness.send_signal(signal.SIGTERM)
        harness.wait(timeout=60)
        deadline = time.time() + 20
        while _with_token(token) and time.time() < deadline:
            time.sleep(0.5)
        assert _with_token(token) == [], "test processes outlived the harness"
    finally:
        if harness.poll() is None:
            harness.kill()
        for pid in _with_token(token):
            os.kill(pid, 9)
        for d in env["work"].iterdir():  # the killed attempt could not remove its directory
            shutil.rmtree(d, ignore_errors=True)


def test_removing_an_attempt_never_touches_its_parent(tmp_path):
    from harness.swe.executors.local import _rmtree

    parent = tmp_path / "parent"
    (parent / "attempt" / "locked").mkdir(parents=True)
    (parent / "attempt" / "locked" / "f").write_text("x")
    os.chmod(parent / "attempt" / "locked", 0o500)  # what a test may leave behind
    os.chmod(parent, 0o1777)
    _rmtree(parent / "attempt")
    _rmtree(parent / "attempt")  # already gone: nothing to do
    assert not (parent / "attempt").exists()
    assert (parent.stat().st_mode & 0o7777) == 0o1777


def test_pytest_plugins_load_in_an_instance_environment_not_in_one_inheriting_the_harness():
    from harness.swe.executors.local import pytest_autoload

    assert pytest_autoload(None, inherits_harness_packages=False)  # astropy's --doctest-rst needs its plugin
    assert not pytest_autoload(None, inherits_harness_packages=True)
    assert pytest_autoload(True, True) and not pytest_autoload(False, False)
