#!/usr/bin/env bash
# Regenerate the two demo LoRA adapters on the embedded SmolLM2-135M (`make demo-adapters`):
# train deep-style and diverse-style runs from the shipped samples with training/recipes/smoke.yaml
# (LoRA r=8, 6 steps, evaluation + checkpoint every 3), copy each run's best checkpoint (adapter,
# tokenizer/template, card, curves; no trainer state) to demo/adapters/<arm>-smoke/, judge both on the
# 41-problem benchmark and write results/demo/*.json plus metrics.json and an updated card beside each
# adapter. CPU only; a few minutes on a free machine.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
WORK=${WORK:-outputs/demo-runs}
MAX_NEW_TOKENS=${MAX_NEW_TOKENS:-128}
export CODEGEN_LAB_HUB=${CODEGEN_LAB_HUB:-$WORK/hub}   # the runs never reach for the real Hub

for arm in ${ARMS:-deep diverse}; do
  rm -rf "$WORK/$arm-smoke"
  "$PY" -m training.sft --config training/recipes/smoke.yaml \
    --dataset "sample:$arm" --output_dir "$WORK/$arm-smoke" \
    --lora_r 8 --lora_alpha 16 --max_steps 6 --eval_steps 3 --save_steps 3
done
[ -n "${SKIP_EVAL:-}" ] && exit 0
"$PY" scripts/demo_adapters.py --runs "$WORK/deep-smoke" "$WORK/diverse-smoke" \
  --output_dir demo/adapters --results results/demo --max_new_tokens "$MAX_NEW_TOKENS"
