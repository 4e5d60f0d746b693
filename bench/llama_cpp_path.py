"""The ``llama.cpp`` path of bench/generation.py: llama-cpp-python on the same Q4_K_M GGUF, adapters as GGUF.

``make llama-cpp`` builds llama-cpp-python from its source package (about 10 minutes on 2 cores) and keeps
the source's ``convert_lora_to_gguf.py``, which turns each PEFT adapter into a GGUF LoRA (cached). llama.cpp
applies one adapter set per context, so the two panes are two contexts on the shared weights, stepped in
turn one token each: what an Arena on llama.cpp would do on one CPU. The prompt ids are the HF
tokenizer's, so both engines read the same tokens.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LLAMA_CPP_SOURCE = Path(
    os.environ.get(
        "LLAMA_CPP_SOURCE", REPO_ROOT / ".venv" / "src" / "llama_cpp_python" / "vendor" / "llama.cpp"
    )
)


def is_available() -> bool:
    import importlib.util

    return (
        importlib.util.find_spec("llama_cpp") is not None
        and (LLAMA_CPP_SOURCE / "convert_lora_to_gguf.py").exists()
    )


def adapter_gguf(adapter: Path, base_folder: Path) -> Path:
    """The adapter as a GGUF LoRA, converted once per adapter weights file (written aside, then renamed)."""
    from codegen_lab.embedded import cache_root

    weights = adapter / "adapter_model.safetensors"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
    target = cache_root() / "llama-cpp" / f"{adapter.name}-{digest}.gguf"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    script = LLAMA_CPP_SOURCE / "convert_lora_to_gguf.py"
    command = [
        sys.executable,
        str(script),
        "--base",
        str(base_folder),
        "--outtype",
        "f32",
        "--outfile",
        str(partial),
    ]
    subprocess.run([*command, str(adapter)], check=True, stdout=subprocess.DEVNULL)
    partial.rename(target)
    return target


def load(base: str, adapters: dict[str, str], threads: int):
    """One llama.cpp context per adapter on the embedded GGUF; returns ((contexts, tokenizer), load seconds)."""
    from llama_cpp import Llama
    from transformers import AutoTokenizer

    from codegen_lab.embedded import gguf_path
    from codegen_lab.models import resolve_adapter_path, resolve_model_path

    folder = resolve_model_path(base)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    loras = {pane: adapter_gguf(resolve_adapter_path(spec), folder) for pane, spec in adapters.items()}
    start = time.perf_counter()
    contexts = [
        Llama(
            model_path=str(gguf_path(base)), lora_path=str(lora), n_ctx=2048, n_threads=threads, verbose=False
        )
        for lora in loras.values()
    ]
    return (contexts, tokenizer), time.perf_counter() - start


def run(loaded, statements: list[str], new_tokens: int, system_prompt: str) -> list[dict]:
    """Per statement, both panes stepped in turn; the same record as bench/generation.run_path."""
    from evaluation.prompts import chat

    contexts, tokenizer = loaded
    runs = []
    for statement in statements:
        text = tokenizer.apply_chat_template(
            chat(system_prompt, statement), add_generation_prompt=True, tokenize=False
        )
        prompt = tokenizer(text, add_special_tokens=False)["input_ids"]
        start = time.perf_counter()
        for llm in contexts:
            llm.reset()  # no prompt cache from the previous problem: the same work as the other paths
        streams = [
            llm.generate(prompt, top_k=1, temp=0.0, repeat_penalty=1.0, reset=True) for llm in contexts
        ]
        stamps: list[list[float]] = [[] for _ in contexts]
        ids: list[list[int]] = [[] for _ in contexts]
        live = set(range(len(contexts)))
        while live:
            for row in sorted(live):
                token = next(streams[row])
                if token == contexts[row].token_eos() or len(ids[row]) + 1 >= new_tokens:
                    live.discard(row)
                if token != contexts[row].token_eos():
                    ids[row].append(token)
                    stamps[row].append(time.perf_counter())
        texts = [tokenizer.decode(row, skip_special_tokens=True) for row in ids]
        ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
        first = max(s[0] for s in stamps) - start
        speeds = [(len(s) - 1) / (s[-1] - s[0]) for s in stamps if len(s) > 1 and s[-1] > s[0]]
        runs.append({"first_token_s": first, "tokens_per_s": speeds, "ids": ids})
    return runs
