"""Config errors name what is wrong and what exists."""

from __future__ import annotations

import pytest
from conftest import run_harness


def test_unknown_model_lists_the_choices(tmp_path):
    proc = run_harness("model=no-such-model", f"results_dir={tmp_path}", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "no-such-model" in out
    for existing in ("r1-distill-qwen-1.5b", "r1-distill-llama-70b", "llama-3.1-8b-instruct", "tiny-llama"):
        assert existing in out


def test_unknown_task_lists_the_choices(tmp_path):
    proc = run_harness("task=math5000", f"results_dir={tmp_path}", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "math500" in out and "aime24" in out and "aime25" in out


@pytest.mark.parametrize(
    "override,key",
    [
        ("sampling.k=0", "sampling.k"),
        ("sampling.temperature=-0.1", "sampling.temperature"),
        ("sampling.top_p=1.5", "sampling.top_p"),
        ("sampling.top_p=0", "sampling.top_p"),
        ("sampling.max_tokens=5000", "sampling.max_tokens"),  # exceeds the tiny model's window
        ("task.data_files=/nonexistent/file.jsonl", "task.data_files"),
    ],
)
def test_invalid_values_name_the_key(tmp_path, override, key):
    proc = run_harness(override, f"results_dir={tmp_path}", check=False)
    assert proc.returncode == 2
    assert f"config error at `{key}`" in proc.stderr
    assert not (tmp_path / "runs").exists()  # nothing was started


def test_api_model_on_a_local_engine_is_a_config_error(tmp_path):
    proc = run_harness("model=o1", "backend=vllm", f"results_dir={tmp_path}", check=False)
    assert proc.returncode == 2
    assert "config error at `backend.name`" in proc.stderr and "backend=openai" in proc.stderr


def test_unit_validation_messages():
    from harness.config import sampling_params
    from harness.errors import ConfigError

    base = {"k": 4, "temperature": 0.6, "top_p": 0.95, "max_tokens": 10, "seed": 0}
    assert sampling_params({"sampling": base}).k == 4
    with pytest.raises(ConfigError, match="sampling.k"):
        sampling_params({"sampling": {**base, "k": 2.5}})
    with pytest.raises(ConfigError, match="sampling.temperature"):
        sampling_params({"sampling": {**base, "temperature": "hot"}})
    with pytest.raises(ConfigError, match="greedy"):
        sampling_params({"sampling": {**base, "temperature": 0, "k": 4}})


def test_slurm_launcher_config_composes_with_the_models_gpu_count():
    from hydra import compose, initialize_config_dir

    from harness.cli import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="eval", overrides=["hydra/launcher=slurm", "model=r1-distill-qwen-32b"],
                      return_hydra_config=True)
    assert cfg.hydra.launcher._target_.endswith("SlurmLauncher")
    assert cfg.hydra.launcher.gpus_per_node == 2  # the 32B distill runs with tensor parallel size 2
    assert cfg.hydra.launcher.max_num_timeout == 3
