#!/usr/bin/env bash
# llama-cpp-python for the Arena's llama.cpp engine (ARENA_ENGINE=llama.cpp) and bench/generation.py,
# built from its source package (PyPI has no CPU wheel; about 10 minutes on 2 cores). The source stays in
# .venv/src/llama_cpp_python: its vendor/llama.cpp/convert_lora_to_gguf.py turns PEFT adapters into GGUF LoRAs.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.3.36
SRC=.venv/src
PIP=(.venv/bin/python -m pip install --disable-pip-version-check -q -c constraints.txt)
mkdir -p "$SRC"
if [ ! -d "$SRC/llama_cpp_python" ]; then
  .venv/bin/python -m pip download --disable-pip-version-check -q --no-deps --no-binary :all: \
    "llama-cpp-python==$VERSION" -d "$SRC"
  rm -rf "$SRC/llama_cpp_python.partial" && mkdir "$SRC/llama_cpp_python.partial"
  tar xzf "$SRC/llama_cpp_python-$VERSION.tar.gz" -C "$SRC/llama_cpp_python.partial" --strip-components=1
  mv "$SRC/llama_cpp_python.partial" "$SRC/llama_cpp_python"
fi
echo "building llama-cpp-python $VERSION (about 10 minutes on 2 cores) ..." >&2
CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "${PIP[@]}" "$SRC/llama_cpp_python"
