# Two commands do all the set-up on a fresh machine:
#   make run   - create .venv, install, and run the main job (pipeline.yaml) on the embedded model
#   make test  - create .venv, install, lint and run the test suite
#
# llama-cpp-python is compiled with portable CPU flags (no -march=native, no AMX; see
# src/socialsim/llm/llamacpp_build.py) into .wheels/<version-and-flags-hash>/, so the library runs on any CPU of
# this architecture and a wheel built with other flags is never reused.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WHEELS := .wheels
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml src/socialsim/llm/llamacpp_build.py | sha1sum | cut -c1-10)

.PHONY: run test lint

$(STAMP): pyproject.toml src/socialsim/llm/llamacpp_build.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch==2.13.0 first: a CPU build on this machine's disk (an unpinned torch pulls a multi-GB CUDA build)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m socialsim.llm.llamacpp_build --wheel-dir $(WHEELS)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

# The main job is the pipeline file pipeline.yaml (persona bank -> simulate -> filter -> report); re-running resumes.
run: $(STAMP)
	$(BIN)/socialsim run pipeline.yaml

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

test: lint
	$(BIN)/python -m pytest -q
