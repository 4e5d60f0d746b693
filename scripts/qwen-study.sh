#!/usr/bin/env bash
# The study's pipeline on its own base model, offline, on CPU (`make qwen-study`; an hour or two on 2 cores):
# train a deep-style and a diverse-style LoRA adapter on Qwen2.5-Coder-1.5B from the shipped samples with the
# study's recipes (training/recipes/qwen-demo-*.yaml), ship their best checkpoints in bf16 to demo/adapters/,
# and judge the base and both adapters on the 41 problems (study prompt, greedy, 1024 new tokens), plus the
# base with LiveCodeBench's prompt. Writes results/qwen/ and the adapters' cards and metrics.json.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export CODEGEN_LAB_HUB=${CODEGEN_LAB_HUB:-outputs/qwen-demo/hub}   # the runs never reach for the real Hub
if [ -z "${SKIP_TRAINING:-}" ]; then
  for arm in deep diverse; do
    "$PY" -m training.sft --config "training/recipes/qwen-demo-$arm.yaml"
  done
fi
"$PY" scripts/demo_adapters.py --runs outputs/qwen-demo/deep-qwen-demo outputs/qwen-demo/diverse-qwen-demo \
  --results results/qwen --max_new_tokens 1024 --batch_size 16 --include_base
"$PY" -m evaluation run --base_model embedded:qwen2.5-coder-1.5b --preset study --prompt_style lcb \
  --max_new_tokens 1024 --batch_size 16 --output_dir results/qwen/lcb-prompt
