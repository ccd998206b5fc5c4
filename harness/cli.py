"""Entry points.

    python -m harness [eval] [hydra overrides]   evaluate (e.g. model=r1-distill-qwen-7b task=aime24)
    python -m harness tiny-model [--out D]       build the tiny local model
    python -m harness <subcommand> ...           see SUBCOMMANDS
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

CONFIG_DIR = str(Path(__file__).resolve().parents[1] / "configs")

log = logging.getLogger("harness")


def _setup_logging() -> None:
    root = logging.getLogger()
    if not any(getattr(h, "_harness", False) for h in root.handlers):
        from rich.console import Console
        from rich.logging import RichHandler

        console = Console(stderr=True)
        if not console.is_terminal:
            console = Console(stderr=True, width=160)
        h = RichHandler(console=console, show_path=False, rich_tracebacks=False, log_time_format="%H:%M:%S")
        h._harness = True  # type: ignore[attr-defined]
        root.addHandler(h)
    root.setLevel(logging.INFO)
    for noisy in ("httpx", "urllib3", "filelock", "datasets", "fsspec"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _eval_main() -> None:
    import hydra
    from omegaconf import DictConfig, OmegaConf

    @hydra.main(config_path=CONFIG_DIR, config_name="eval", version_base="1.3")
    def _main(cfg: DictConfig) -> None:
        from harness.errors import HarnessError
        from harness.runner import env_defaults, run_eval
        from harness.summary import render

        _setup_logging()
        env_defaults()
        plain = OmegaConf.to_container(cfg, resolve=True)
        try:
            store, metrics = run_eval(plain)
        except HarnessError as e:
            log.error("%s", e)
            sys.exit(2)
        render(metrics, str(store.path))
        try:  # the run's results are on disk already: a report failure must not lose them
            from harness.report import after_eval

            log.info("leaderboard: %s", after_eval(plain.get("results_dir") or "results"))
        except Exception as e:
            log.error("could not rebuild the run report and leaderboard (%s: %s); "
                      "the run is complete, retry with `make report`", type(e).__name__, e)

    _main()


# name -> "module:function"; each function parses sys.argv[1:] itself (argparse).
SUBCOMMANDS: dict[str, str] = {
    "tiny-model": "harness.tiny_model:main",
    "swe-validate": "harness.swe.validate:main",
    "swe-env": "harness.swe.env_cli:main",
    "serve": "harness.serve:main",
    "report": "harness.report:main",
    "lm-eval": "harness.lmeval:main",
    "nightly": "harness.nightly:main",
}


def main() -> None:
    argv = sys.argv[1:]
    if argv and argv[0] in SUBCOMMANDS:
        import importlib

        module, func = SUBCOMMANDS[argv[0]].split(":")
        sys.argv = [f"harness {argv[0]}", *argv[1:]]
        getattr(importlib.import_module(module), func)()
        return
    if argv and argv[0] in ("-h", "--help") and len(argv) == 1:
        print(__doc__)
        print("subcommands:", ", ".join(sorted(SUBCOMMANDS)), "\nevaluation help: python -m harness eval --help")
        return
    if argv and argv[0] == "eval":
        sys.argv = [sys.argv[0], *argv[1:]]
    _eval_main()


if __name__ == "__main__":
    main()
