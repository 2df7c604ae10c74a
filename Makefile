# The project's vocabulary. `make test` and `make local` set everything up on a fresh machine first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test unit lint typecheck local validate build bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Two workers (the machine's cores); the ten slowest tests are printed, to keep an eye on them.
test: setup lint typecheck
	$(BIN)/python -m pytest -n auto --durations=10

unit: setup
	$(BIN)/python -m pytest tests/unit

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

validate: setup
	$(BIN)/databridge-pipeline validate

# The whole pipeline on moto over 24 simulated hours; e.g. make local ARGS="--scenario tests/e2e/bad_day.yml"
# From a fresh clone it installs only the `local` extra (no SAM CLI, linters or type checker).
LOCAL_STAMP := $(VENV)/.installed-local

$(LOCAL_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[local]'
	touch $(LOCAL_STAMP)

local: $(LOCAL_STAMP)
	$(BIN)/databridge-pipeline local --configs table_configs $(ARGS)

# sam build finds the Lambda runtime's python3.12 through pyenv; the core layer's Makefile uses our venv.
SAM_ENV := PYENV_VERSION=3.11.7:3.12.1:3.13.0 PATH="$(abspath $(BIN)):$$PATH" PYTHON="$(abspath $(BIN)/python)"

build: setup
	$(SAM_ENV) $(BIN)/sam build --build-in-source

# Figures, not tests: config load, dispatch at scale, cold starts, event handling, the local run, the cost
# model; each with its ratio to a floor or baseline measured in the same run. Prints only the table.
bench: setup
	@$(BIN)/python benchmarks/run.py --json bench-results.json

clean:
	rm -rf $(VENV) .bench-venv .aws-sam .pytest_cache .mypy_cache .ruff_cache
