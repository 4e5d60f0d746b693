"""Code shared by every stage: model resolution and loading, LoRA adapters, Hub I/O, constants."""

SYSTEM_PROMPT = (
    "You are an expert Python programmer. Please read the problem carefully before writing any Python code."
)
DEFAULT_BASE_MODEL = "Qwen/Qwen2.5-Coder-1.5B-Instruct"
EMBEDDED_MODEL = "embedded:smollm2"
BASE_ADAPTER = "__base__"
