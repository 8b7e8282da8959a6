# Two commands on a fresh machine with Python 3.11: `make run` (the dashboard) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed

.PHONY: run test lint bench

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

test: $(DEV)
	$(PY) -m ruff check .
	AWS_EC2_METADATA_DISABLED=true $(PY) -m pytest

lint: $(DEV)
	$(PY) -m ruff check .

bench: $(RUNTIME)
	$(PY) -m core bench
