"""Environment specs (configs/swe/envs/), their resolution, interpreters and the build lock."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.swe import Instance
from harness.swe import envs as E
from harness.swe.executors.local import directives_for, offline_setup_command

# SWE-bench's test split (the 12 repositories of Verified and Lite) and its dev split
TEST_SPLIT = ["astropy/astropy", "django/django", "matplotlib/matplotlib", "mwaskom/seaborn", "pallets/flask",
              "psf/requests", "pydata/xarray", "pylint-dev/pylint", "pytest-dev/pytest",
              "scikit-learn/scikit-learn", "sphinx-doc/sphinx", "sympy/sympy"]
DEV_SPLIT = ["pydicom/pydicom", "sqlfluff/sqlfluff", "pylint-dev/astroid", "marshmallow-code/marshmallow",
             "pvlib/pvlib-python", "pyvista/pyvista"]


def inst(repo="django/django", version="3.0", iid="django__django-11099", test_patch="", setup="e" * 40):
    return Instance(instance_id=iid, repo=repo, base_commit="b" * 40, patch="", test_patch=test_patch,
                    problem_statement="", fail_to_pass=(), pass_to_pass=(), version=version,
                    environment_setup_commit=setup)


@pytest.fixture(scope="module")
def table():
    return E.SpecTable()


@pytest.mark.parametrize("repo", TEST_SPLIT + DEV_SPLIT)
def test_every_repository_of_the_test_and_dev_splits_has_a_spec(table, repo):
    path, data = table.lookup(repo)
    assert path.name == repo.replace("/", "__") + ".yaml"
    assert data["versions"], path
    for version in data["versions"]:
        spec = table.spec(repo, version)
        assert spec.python and spec.test_cmd and spec.parser, (repo, version)


def test_resolution_by_repo_and_version(table):
    t = table
    s = t.spec("django/django", "3.0", "e" * 40)
    assert s.python == "3.6" and s.directives == "django" and s.parser == "parse_log_django"
    assert s.test_cmd.startswith("./tests/runtests.py")
    assert t.spec("sympy/sympy", "1.1").parser == "parse_log_sympy"
    with pytest.raises(ConfigError, match=r"django__django.yaml.*no entry for django/django version '0.1'"):
        t.spec("django/django", "0.1")
    with pytest.raises(ConfigError, match="no environment spec for acme/widgets: add acme__widgets.yaml"):
        t.spec("acme/widgets", "1.0")


def test_a_user_adds_a_repository_with_one_file(tmp_path):
    (tmp_path / "acme__widgets.yaml").write_text(
        'repo: acme/widgets\nversions:\n  "1.0":\n    python: "3.9"\n    packages: [attrs==23.1.0]\n'
        '    env: {WIDGETS_DATA: "{cache}/w"}\n')
    t = E.SpecTable([E.SPEC_DIR, tmp_path])
    s = t.spec("acme/widgets", "1.0")
    assert s.packages == ("attrs==23.1.0",) and s.parser == "parse_log_pytest"
    env = E.Env(Path("/envs/x"), s, "/usr/bin/python3")
    assert env.variables() == {"WIDGETS_DATA": "/envs/x/cache/w"}
    (tmp_path / "bad.yaml").write_text('repo: acme/bad\nversions:\n  "1":\n    python: "3.9"\n    pakages: []\n')
    with pytest.raises(ConfigError, match="unknown field 'pakages'"):
        E.SpecTable([tmp_path])


def test_environment_key_follows_content(table):
    t = table
    a = t.spec("pytest-dev/pytest", "5.4", "c" * 40)
    assert a.key == t.spec("pytest-dev/pytest", "5.4", "c" * 40).key
    assert a.key.startswith("pytest-dev__pytest/5.4-")
    assert a.key != t.spec("pytest-dev/pytest", "6.0", "c" * 40).key
    # the setup commit matters only when the build reads the repository
    assert a.key != t.spec("pytest-dev/pytest", "5.4", "d" * 40).key


ENV_YML = """name: testbed
dependencies:
  - _libgcc_mutex=0.1=main
  - python=3.6.13=h12debd9_1
  - mpmath=1.3.0=py39h06a4308_0
  - openssl=1.1.1w=h7f8727e_0
  - setuptools=58.0.4=py36h06a4308_0
  - pip:
      - asgiref==3.4.1
      - sqlparse==0.4.4
"""


def test_swebench_environment_files_pin_the_environment(tmp_path):
    python, reqs = E.parse_environment_yml(ENV_YML)
    assert python == "3.6" and reqs == ["mpmath==1.3.0", "setuptools==58.0.4", "asgiref==3.4.1", "sqlparse==0.4.4"]
    d = tmp_path / "django__django" / "11099"
    d.mkdir(parents=True)
    (d / "environment.yml").write_text(ENV_YML)
    store = E.EnvStore(tmp_path / "envs", resources=[tmp_path])
    s = store.spec_for(inst())
    assert s.python == "3.6" and s.requirements == ()
    # two layers, as conda installs them: the conda packages, then the pip section (which may move a pin)
    assert "mpmath==1.3.0" in s.packages and s.pip_packages[:2] == ("asgiref==3.4.1", "sqlparse==0.4.4")
    assert "pip_packages" in s.content()
    assert str(d / "environment.yml") in s.source
    assert store.spec_for(inst(iid="django__django-11133")).requirements  # no file: the YAML's own


def test_index_check_names_unknown_distributions_and_absent_pins(monkeypatch):
    import io
    import json as _json
    import urllib.error
    import urllib.request

    pages = {"numpy": ["1.23.0", "1.24.0"], "blosc": ["1.11.1"]}

    class Resp(io.BytesIO):
        def __init__(self, body):
            super().__init__(body)
            self.headers = {"Content-Type": "application/vnd.pypi.simple.v1+json"}

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    def fake_urlopen(req, timeout=None):
        name = req.full_url.rstrip("/").rsplit("/", 1)[-1]
        if name not in pages:
            raise urllib.error.HTTPError(req.full_url, 404, "not found", None, None)
        return Resp(_json.dumps({"name": name, "versions": pages[name]}).encode())

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    got = E.missing_from_index(["numpy==1.23.0", "blosc==1.21.5", "aws-sdk-cpp==1.11", "NumPy>=1"], "https://idx")
    assert got == ["aws-sdk-cpp", "blosc"]

    def down(req, timeout=None):
        raise urllib.error.URLError("no route")

    monkeypatch.setattr(urllib.request, "urlopen", down)
    assert E.missing_from_index(["numpy==1.23.0"], "https://idx") is None  # cannot ask: fall back


def test_frozen_environment_keeps_the_specs_pip_and_pytest_pins(tmp_path):
    assert E._kept_with_frozen("pip<25.3") and E._kept_with_frozen("pytest-xdist==2.5")
    assert not E._kept_with_frozen("pipdeptree") and not E._kept_with_frozen("setuptools<60")


def test_keep_frozen_pins_applies_only_with_a_frozen_file(tmp_path):
    (tmp_path / "acme__widgets.yaml").write_text(
        'repo: acme/widgets\nversions:\n  "1.0":\n    python: "3.9"\n    keep_frozen_pins: true\n')
    d = tmp_path / "res" / "acme__widgets" / "7"
    d.mkdir(parents=True)
    (d / "environment.yml").write_text("dependencies:\n  - python=3.9.1\n  - pip:\n    - attrs==23.1.0\n")
    store = E.EnvStore(tmp_path / "envs", specs=E.SpecTable([tmp_path]), resources=[tmp_path / "res"])
    frozen = store.spec_for(inst(repo="acme/widgets", version="1.0", iid="acme__widgets-7"))
    plain = store.spec_for(inst(repo="acme/widgets", version="1.0", iid="acme__widgets-8"))
    assert frozen.keep_frozen_pins and frozen.content()["keep_frozen_pins"] is True
    assert not plain.keep_frozen_pins and "keep_frozen_pins" not in plain.content()


def test_missing_interpreter_is_named():
    with pytest.raises(E.InterpreterMissing, match=r"no Python 2\.1 interpreter.*pyenv install 2\.1.*"
                                                   r"task\.executor\.envs\.interpreters"):
        E.find_interpreter("2.1")
    with pytest.raises(E.InterpreterMissing, match="interpreters.3.99"):
        E.find_interpreter("3.99", {"3.99": "/nonexistent/python"})
    assert E.find_interpreter("current")


def test_concurrent_builds_of_one_environment_wait(tmp_path, monkeypatch):
    store = E.EnvStore(tmp_path / "envs")
    spec = E.SpecTable().spec("swe-mini/chunked", "1.0")
    built = []

    def fake_build(self, spec, path, repos, t0):
        built.append(time.time())
        time.sleep(0.5)
        path.mkdir(parents=True)
        (path / E.MARKER).write_text(json.dumps({"base_python": "/usr/bin/python3", "site_packages": "/x"}))
        return E.Env(path, spec, "/usr/bin/python3")

    monkeypatch.setattr(E.EnvStore, "_build", fake_build)
    out = []
    threads = [threading.Thread(target=lambda: out.append(store.build(spec))) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(built) == 1 and len(out) == 3 and {str(e.path) for e in out} == {str(store.path(spec))}
    assert store.get(spec) is not None


def test_directives_as_swebench_derives_them():
    patch = ("diff --git a/tests/auth_tests/test_validators.py b/tests/auth_tests/test_validators.py\n"
             "diff --git a/tests/auth_tests/fixtures/x.json b/tests/auth_tests/fixtures/x.json\n"
             "diff --git a/sympy/core/tests/test_add.py b/sympy/core/tests/test_add.py\n")
    i = inst(test_patch=patch)
    assert directives_for(i, "django") == ["auth_tests.test_validators", "sympy.core.tests.test_add"]
    assert directives_for(i, "files") == ["tests/auth_tests/test_validators.py", "sympy/core/tests/test_add.py"]


def test_setup_commands_run_offline_in_attempts():
    assert offline_setup_command("python -m pip install -e .[test]") == \
        "python -m pip install --no-deps --no-build-isolation --no-index -e .[test]"
    assert offline_setup_command("python setup.py build_ext -i") == "python setup.py build_ext -i"


def test_pins_missing_from_the_index_are_dropped(tmp_path, monkeypatch):
    calls = []

    def fake_run(cmd, cwd, env, logf, what, timeout=3600):
        pkgs = cmd[3:]
        calls.append(pkgs)
        missing = [p for p in pkgs if p.startswith(("aws-c-common", "antlr_python_runtime"))]
        if missing:
            logf.write(f"ERROR: No matching distribution found for {missing[0].split('==')[0]}\n")
            raise E.EnvError("installing packages failed")

    monkeypatch.setattr(E, "_run", fake_run)
    monkeypatch.setattr(E, "missing_from_index", lambda reqs, url: None)  # the index cannot be asked
    with open(tmp_path / "build.log", "w") as logf:
        E._install_dropping_missing(["py", "-m", "pip"], ["numpy==1.23.0", "aws-c-common==0.9.28",
                                                          "antlr_python_runtime==4.11.1"], tmp_path, {}, logf)
    assert calls[-1] == ["install", "numpy==1.23.0"] and len(calls) == 3


def test_pins_the_index_lacks_are_dropped_in_one_pass(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(E, "_run", lambda cmd, *a, **k: calls.append(cmd[3:]))
    monkeypatch.setattr(E, "missing_from_index", lambda reqs, url: ["antlr-python-runtime", "aws-c-common"])
    with open(tmp_path / "build.log", "w") as logf:
        E._install_dropping_missing(["py", "-m", "pip"], ["numpy==1.23.0", "aws-c-common==0.9.28",
                                                          "antlr_python_runtime==4.11.1"], tmp_path, {}, logf)
    assert calls == [["install", "numpy==1.23.0"]]
    assert "dropped: antlr-python-runtime, aws-c-common" in (tmp_path / "build.log").read_text()


def test_other_install_failures_are_not_hidden(tmp_path, monkeypatch):
    def fake_run(cmd, cwd, env, logf, what, timeout=3600):
        logf.write("error: subprocess-exited-with-error\n")
        raise E.EnvError("installing packages failed")

    monkeypatch.setattr(E, "_run", fake_run)
    monkeypatch.setattr(E, "missing_from_index", lambda reqs, url: [])
    with open(tmp_path / "build.log", "w") as logf, pytest.raises(E.EnvError):
        E._install_dropping_missing(["py", "-m", "pip"], ["numpy==1.23.0"], tmp_path, {}, logf)


def test_a_conda_layer_package_that_does_not_build_is_dropped(tmp_path, monkeypatch):
    calls = []

    def fake_run(cmd, cwd, env, logf, what, timeout=3600):
        calls.append(cmd[3:])
        if any(p.startswith("backports.zoneinfo") for p in cmd[3:]):
            logf.write("Failed to build backports.zoneinfo\nerror: failed-wheel-build-for-install\n")
            raise E.EnvError("installing packages failed")

    monkeypatch.setattr(E, "_run", fake_run)
    monkeypatch.setattr(E, "missing_from_index", lambda reqs, url: [])
    pkgs = ["numpy==1.23.0", "backports.zoneinfo==0.2.1"]
    with open(tmp_path / "build.log", "w") as logf:
        E._install_dropping_missing(["py", "-m", "pip"], pkgs, tmp_path, {}, logf, drop_unbuildable=True)
    assert calls[-1] == ["install", "numpy==1.23.0"]
    with open(tmp_path / "build2.log", "w") as logf, pytest.raises(E.EnvError):  # elsewhere: a real failure
        E._install_dropping_missing(["py", "-m", "pip"], pkgs, tmp_path, {}, logf)


def test_conda_names_become_their_pypi_distributions():
    text = """dependencies:
  - python=3.10.14
  - iris=3.9.0=pyha770c72_0
  - msgpack-python
  - matplotlib-base>=3.6
  - cdms2
  - numpy=1.23.0
"""
    _, conda, pip = E.environment_layers(text)
    assert conda == ["scitools-iris==3.9.0", "msgpack", "matplotlib>=3.6", "numpy==1.23.0"] and pip == []
