#!/usr/bin/env bash
# llama-cpp-python for the Arena's llama.cpp engine (ARENA_ENGINE=llama.cpp) and bench/generation.py.
# PyPI has only its source package: pip builds it (about 10 minutes on 2 cores) and keeps the wheel in its
# cache, so the next clone installs in seconds. The source also stays in .venv/src/llama_cpp_python: its
# vendor/llama.cpp/convert_lora_to_gguf.py turns PEFT adapters into GGUF LoRAs.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=$(sed -n 's/^llama-cpp-python==//p' requirements.txt)  # the one pin, also what a Space builds
SRC=.venv/src
PIP=(.venv/bin/python -m pip --disable-pip-version-check)
mkdir -p "$SRC"
if [ ! -d "$SRC/llama_cpp_python" ]; then
  "${PIP[@]}" download -q --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$SRC"
  rm -rf "$SRC/llama_cpp_python.partial" && mkdir "$SRC/llama_cpp_python.partial"
  tar xzf "$SRC/llama_cpp_python-$VERSION.tar.gz" -C "$SRC/llama_cpp_python.partial" --strip-components=1
  mv "$SRC/llama_cpp_python.partial" "$SRC/llama_cpp_python"
fi
echo "installing llama-cpp-python $VERSION (a build of about 10 minutes on 2 cores, unless pip has it cached) ..." >&2
CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "${PIP[@]}" install -q -c constraints.txt "llama-cpp-python==$VERSION"
