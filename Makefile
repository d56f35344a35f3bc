# Two commands do all the set-up on a fresh machine:
#   make run   - create .venv, install, and run the main job on the embedded model
#   make test  - create .venv, install, lint and run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ESCONV_TEST ?= ../shared/data/esconv/test.jsonl
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-10)

.PHONY: run test lint bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP)
	$(BIN)/socialsim simulate -n 3 --max-turns 8 --min-turns 6 --out runs/main
	$(BIN)/socialsim filter runs/main/dialogues.jsonl runs/main/filtered.jsonl
	$(BIN)/socialsim report runs/main/filtered.jsonl --compare runs/main/dialogues.jsonl \
		$(if $(wildcard $(ESCONV_TEST)),--compare $(ESCONV_TEST)) \
		--out runs/main/report --title "socialsim: simulated corpus$(if $(wildcard $(ESCONV_TEST)), vs ESConv test)"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

test: lint
	$(BIN)/python -m pytest -q
