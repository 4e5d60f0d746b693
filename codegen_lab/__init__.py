"""Code shared by every stage: model resolution and loading, LoRA adapters, Hub I/O, constants."""

DEFAULT_BASE_MODEL = "Qwen/Qwen2.5-Coder-1.5B-Instruct"
EMBEDDED_MODEL = "embedded:smollm2"  # the fast test model
EMBEDDED_QWEN = "embedded:qwen2.5-coder-1.5b"  # the study's base, Q4_K_M (make qwen)
EMBEDDED_ALIASES = (EMBEDDED_MODEL, EMBEDDED_QWEN)
BASE_ADAPTER = "__base__"
