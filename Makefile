# The two commands a newcomer types: `make run` (serve the embedded model) and `make test` (lint + all tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
MODELS_DIR ?= models

.PHONY: run test lint typecheck pytest system-deps bench bench-jobs bench-reliability bench-peers bench-profile bench-gpu model clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Serving install: no torch, no transformers.
$(VENV)/.serve: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# Development install: serving + training (torch==2.13.0, the CPU wheel on this disk) + test tools.
$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[train,dev]'
	touch $@ $(VENV)/.serve

run: $(VENV)/.serve
	$(BIN)/xlt serve --host $(HOST) --port $(PORT) --models-dir $(MODELS_DIR)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev
	$(BIN)/mypy service

pytest: $(VENV)/.dev
	$(BIN)/python -m pytest -q

test: lint typecheck pytest

# The system tools some tests drive for real (.ci/system-packages.txt: docker-compose, chromium, PostgreSQL,
# Prometheus, Apertium), from apt on Debian/Ubuntu; needs root (runs apt-get through sudo otherwise). Without them
# those tests skip, and the run ends listing them; .ci/run installs them this way and requires them.
SYSTEM_PACKAGES = $(shell awk '{print $$1}' .ci/system-packages.txt)
SUDO = $(if $(filter 0,$(shell id -u)),,sudo)

system-deps:
	@missing="$$(for p in $(SYSTEM_PACKAGES); do \
		dpkg-query -W -f '$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done)"; \
	if [ -z "$$missing" ]; then echo "system-deps: all installed: $(SYSTEM_PACKAGES)"; else \
		echo "system-deps: installing" $$missing; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; fi

# Serving benchmark (~30 min): the shipped model into German, then into five languages taken in turn (its held-back
# pieces make one engine call per target language), then into German with and without those pieces in turn (what
# they cost), then random engines of opus-mt's and opus-mt-tc-big's shapes (greedy, 30 tokens per sentence); 3 rounds
# each, modes taking turns; then the scheduling benchmark (bench-jobs).
bench: $(VENV)/.dev
	$(BIN)/python benchmarks/load.py --models-dir $(MODELS_DIR)
	$(BIN)/python benchmarks/load.py --models-dir $(MODELS_DIR) --target de,fr,es,it,pt --label mixed-targets
	$(BIN)/python benchmarks/load.py --models-dir $(MODELS_DIR) --modes dynamic,no-held-back --label held-back
	$(BIN)/python benchmarks/load.py --models-dir $(MODELS_DIR) --synthetic opus-mt --label opus-mt \
		--options '{"beam_size": 1, "max_length": 30}'
	$(BIN)/python benchmarks/load.py --models-dir $(MODELS_DIR) --synthetic opus-mt-big --label opus-mt-big \
		--options '{"beam_size": 1, "max_length": 30}'
	$(MAKE) bench-jobs

# Scheduling benchmark (~10 min, benchmarks/jobs.py): single-sentence requests at 1 and 8 clients on an idle server
# and while a 5,000-unit catalog (msgids of /usr/share/locale) is translated as a background job, and the job alone;
# 3 rounds. Goals: p50 within 1.5x of idle, the job's throughput under load at least 0.8 of alone.
bench-jobs: $(VENV)/.dev
	$(BIN)/python benchmarks/jobs.py --models-dir $(MODELS_DIR)

# Peer benchmark (issue 30, ~30 min, benchmarks/peers.py): xlt at its defaults against LibreTranslate 1.9.6 serving
# the same engine (as shipped, and with engine threads 2 x 1) and a per-request Transformers server, 200 interface
# strings en->de, 1/8/64 clients, beams 2 and 4, 3 rounds, one server up at a time; benchmarks/results/peers.md.
# Builds LibreTranslate's venv (benchmarks/.peers/, from PyPI) on first use.
bench-peers: $(VENV)/.dev
	$(BIN)/python benchmarks/peers.py --models-dir $(MODELS_DIR) $(ARGS)

# Where xlt serve's CPU goes at 1 and 64 clients (py-spy, ~1 min): benchmarks/results/profile.md and flame graphs.
bench-profile: $(VENV)/.dev
	$(BIN)/python benchmarks/profile_serve.py --models-dir $(MODELS_DIR) $(ARGS)

# Reliability runs (bounded, loopback only): 10-min soak at 80% capacity, 4x overload (25-token and 150-word
# sentences), SIGTERM under load.
bench-reliability: $(VENV)/.dev
	$(BIN)/python benchmarks/soak.py soak --models-dir $(MODELS_DIR)
	$(BIN)/python benchmarks/soak.py overload --models-dir $(MODELS_DIR)
	$(BIN)/python benchmarks/soak.py overload --models-dir $(MODELS_DIR) --words 150
	$(BIN)/python benchmarks/soak.py sigterm --models-dir $(MODELS_DIR)

# GPU check (benchmarks/gpu.py): install what is missing, xlt-base and an opus-mt-big-shaped random engine on
# cuda as int8_float16, int8 parity against float32, `xlt serve` under load at 1/8/64/256 clients, and
# benchmarks/results/gpu-*.md; about 5 minutes, bounded by --budget. No venv needed (a GPU machine's python3 does);
# offline machines: `python benchmarks/gpu.py prepare-wheels .whl` here, then ARGS=--wheels=.whl there.
# `make bench-gpu ARGS=--dry-run`: the same steps on the CPU, tiny and short, results in a temp folder.
BENCH_PYTHON ?= $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON))
bench-gpu:
	$(BENCH_PYTHON) benchmarks/gpu.py $(ARGS)

# The whole chain that produced models/xlt-base (see its MODEL_CARD.md); hours on two cores, resumable. Its
# general-domain phases (--everyday) need `make system-deps` and the Debian packages the README lists.
model: $(VENV)/.dev
	$(BIN)/python -m training.pipeline --out models/xlt-base --everyday

clean-venv:
	rm -rf $(VENV)
