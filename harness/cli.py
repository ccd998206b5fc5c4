"""Entry points.

    python -m harness [eval] [hydra overrides]   evaluate (e.g. model=r1-distill-qwen-7b task=aime24)
    python -m harness tiny-model [--out D]       build the tiny local model
    python -m harness <subcommand> ...           see SUBCOMMANDS
"""

from __future__ import annotations

import logging
import sys

from harness.paths import CONFIG_DIR as _CONFIG_PATH

CONFIG_DIR = str(_CONFIG_PATH)  # the built-in configs (see harness.paths for the search path)

log = logging.getLogger("harness")


def setup_logging() -> None:
    """Readable console logging (rich), once per process; quiet third-party loggers."""
    root = logging.getLogger()
    if not any(getattr(h, "_harness", False) for h in root.handlers):
        from rich.console import Console
        from rich.logging import RichHandler

        console = Console(stderr=True)
        if not console.is_terminal:
            console = Console(stderr=True, width=160)
        h = RichHandler(console=console, show_path=False, rich_tracebacks=False, log_time_format="%H:%M:%S")
        h._harness = True
        root.addHandler(h)
    root.setLevel(logging.INFO)
    for noisy in ("httpx", "urllib3", "filelock", "datasets", "fsspec"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


_setup_logging = setup_logging  # the former private name


def exit_code(e: BaseException) -> int:
    """2 for a config or data error, 3 when nothing was scored, 130 when interrupted."""
    return int(getattr(e, "exit_code", 2))


def _eval_main() -> None:
    import hydra
    from omegaconf import DictConfig, OmegaConf

    @hydra.main(config_path=CONFIG_DIR, config_name="eval", version_base="1.3")
    def _main(cfg: DictConfig) -> None:
        from harness.errors import HarnessError
        from harness.runner import env_defaults
        from harness.summary import render

        setup_logging()
        env_defaults()
        from harness.study import run_all, spread

        try:
            plain = OmegaConf.to_container(cfg, resolve=True)
            assert isinstance(plain, dict)
            # one run, or one per seed of a study (sampling.seeds / repeats)
            results = run_all({str(k): v for k, v in plain.items()})
        except HarnessError as e:
            log.error("%s", e)
            sys.exit(exit_code(e))
        except KeyboardInterrupt:
            log.error("interrupted before the run started; nothing was written")
            sys.exit(130)
        except Exception as e:  # interpolation errors and the like: one line, not Hydra's traceback
            from omegaconf.errors import OmegaConfBaseException

            if not isinstance(e, OmegaConfBaseException):
                raise
            log.error("config error: %s", str(e).splitlines()[0])
            sys.exit(2)
        for store, metrics in results:
            render(metrics, str(store.path))
        if spread(results):
            log.info("study over seeds: %s", spread(results))
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
    "plan": "harness.plan:main",
    "export": "harness.export:main",
    "rescore": "harness.rescore:main",
    "ray-cluster": "harness.ray_cluster:main",
}


def main() -> None:
    argv = sys.argv[1:]
    if argv and argv[0] in SUBCOMMANDS:
        import importlib

        from harness.errors import HarnessError

        module, func = SUBCOMMANDS[argv[0]].split(":")
        sys.argv = [f"harness {argv[0]}", *argv[1:]]
        try:
            getattr(importlib.import_module(module), func)()
        except HarnessError as e:  # what a subcommand did not answer itself: one line, never a traceback
            if logging.getLogger().handlers:
                logging.getLogger("harness").error("%s", e)
            else:
                print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
        return
    if argv and argv[0] in ("-h", "--help") and len(argv) == 1:
        print(__doc__)
        print("subcommands:", ", ".join(sorted(SUBCOMMANDS)), "\nevaluation help: python -m harness eval --help")
        return
    if argv and argv[0] == "eval":
        argv = argv[1:]
    from harness.errors import HarnessError
    from harness.paths import user_config_dirs

    try:  # Hydra adds them to its search path (hydra_plugins/harness_searchpath): check them first
        user_config_dirs()
    except HarnessError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    sys.argv = [sys.argv[0], *argv]
    _eval_main()


if __name__ == "__main__":
    main()
