# Two commands on a fresh machine with Python 3.11: `make run` (the dashboard) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed
# Tests never reach AWS, not even the instance-metadata endpoint.
TEST_ENV := AWS_EC2_METADATA_DISABLED=true

.PHONY: run test check unit lint bench

$(RUNTIME): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(DEV): $(RUNTIME) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(RUNTIME)
	$(PY) -m streamlit run dashboard/app.py

# The whole suite: the house checks, then every test (unit, AWS, app and browser).
test: check
	$(TEST_ENV) $(PY) -m pytest

# Lint, formatting and types; fast, and what every commit must pass.
check: $(DEV)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy core dashboard

# The fast loop while working on core: unit and AWS tests only.
unit: $(DEV)
	$(TEST_ENV) $(PY) -m pytest tests/unit tests/aws -q

lint: check

bench: $(RUNTIME)
	$(PY) -m core bench
