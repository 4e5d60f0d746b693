"""The Arena's panes on llama.cpp (``ARENA_ENGINE=llama.cpp`` after ``make llama-cpp``) for a GGUF base.

bench/generation.py measured it the fastest CPU path with the adapters applied and the reference's greedy
tokens: the Q4_K weights are read at memory speed, where transformers decodes dequantized bf16/fp32.
llama.cpp applies one adapter set per context, so each pane gets its own context (the weights are one
shared mmap) and its own thread with its share of the cores. Adapters are PEFT folders converted once to
GGUF LoRAs by llama.cpp's own ``convert_lora_to_gguf.py`` (kept with the source by ``make llama-cpp``).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import subprocess
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from codegen_lab.models import ModelLoadError

REPO_ROOT = Path(__file__).resolve().parent.parent
LLAMA_CPP_SOURCE = Path(
    os.environ.get(
        "LLAMA_CPP_SOURCE", REPO_ROOT / ".venv" / "src" / "llama_cpp_python" / "vendor" / "llama.cpp"
    )
)


def is_installed() -> bool:
    return (
        importlib.util.find_spec("llama_cpp") is not None
        and (LLAMA_CPP_SOURCE / "convert_lora_to_gguf.py").exists()
    )


@contextlib.contextmanager
def without_repacking() -> Iterator[None]:
    """Load weights without llama.cpp's extra CPU buffer types (weight repacking).

    On AMX CPUs those put the matmuls on ggml's AMX kernels, and 0.3.36 crashes there in the first
    decode (SIGSEGV in ggml_backend_amx_mul_mat); ``Llama`` has no argument for the model parameter
    ``use_extra_bufts``, so the defaults it reads are wrapped while it loads.
    """
    import llama_cpp.llama as high_level

    defaults = high_level.llama_cpp.llama_model_default_params

    def no_extra_buffers():
        params = defaults()
        params.use_extra_bufts = False
        return params

    high_level.llama_cpp.llama_model_default_params = no_extra_buffers
    try:
        yield
    finally:
        high_level.llama_cpp.llama_model_default_params = defaults


def adapter_gguf(adapter: Path, base_folder: Path) -> Path:
    """The PEFT adapter as a GGUF LoRA, converted once per weights file (written aside, then renamed)."""
    from codegen_lab.embedded import cache_root

    weights = adapter / "adapter_model.safetensors"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
    target = cache_root() / "llama-cpp" / f"{adapter.name}-{digest}.gguf"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    command = [sys.executable, str(LLAMA_CPP_SOURCE / "convert_lora_to_gguf.py"), "--base", str(base_folder)]
    done = subprocess.run(
        [*command, "--outtype", "f32", "--outfile", str(partial), str(adapter)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelLoadError(f"Adapter {adapter}: llama.cpp could not convert it to GGUF ({reason}).")
    partial.rename(target)
    return target


class LlamaCppPanes:
    """llama.cpp contexts for (pane, adapter spec), least recently used dropped beyond ``max_contexts``."""

    def __init__(self, base: str, base_folder: Path, *, n_ctx: int, panes: int = 2, max_contexts: int = 4):
        from codegen_lab.embedded import gguf_path

        if not is_installed():
            raise ModelLoadError("ARENA_ENGINE=llama.cpp needs llama-cpp-python: run `make llama-cpp` first.")
        if not base.startswith("embedded:"):
            raise ModelLoadError(f"ARENA_ENGINE=llama.cpp serves a GGUF base (embedded:...), not {base!r}.")
        self.gguf = gguf_path(base)
        self.base_folder = base_folder
        self.n_ctx = n_ctx  # the longest prompt plus the longest answer
        self.threads = max(1, (os.cpu_count() or 1) // panes)
        self.max_contexts = max(max_contexts, panes)
        self.contexts: OrderedDict[tuple[int, str], object] = OrderedDict()

    def context(self, pane: int, spec: str, adapter_folder: Path | None, keep: set[tuple[int, str]]):
        """The context of ``pane`` with the adapter in ``adapter_folder`` (None: the base), made on first use."""
        from llama_cpp import Llama

        key = (pane, spec)
        if key in self.contexts:
            self.contexts.move_to_end(key)
            return self.contexts[key]
        lora = None if adapter_folder is None else adapter_gguf(adapter_folder, self.base_folder)
        try:
            with without_repacking():
                llm = Llama(
                    model_path=str(self.gguf),
                    lora_path=str(lora) if lora else None,
                    n_ctx=self.n_ctx,
                    n_threads=self.threads,
                    verbose=False,
                )
        except ValueError as err:  # llama-cpp-python's way of saying a file did not load
            raise ModelLoadError(f"Adapter {adapter_folder}: llama.cpp could not load it ({err}).") from None
        self.contexts[key] = llm
        for old in [k for k in self.contexts if k not in keep]:
            if len(self.contexts) <= self.max_contexts:
                break
            del self.contexts[old]
        return llm

    def generate(self, contexts: list, prompts: list[list[int]], max_new_tokens: int, temperature: float,
                 eos_ids: set[int], stops: tuple[threading.Event, ...], report) -> None:  # fmt: skip
        """Each pane in its own thread; reports ``("tokens", row_tokens)`` with None for the other rows."""
        sampling = {"top_k": 1, "temp": 0.0} if temperature <= 0 else {"temp": temperature, "top_p": 0.95}

        def pane(row: int) -> None:
            llm = contexts[row]
            llm.reset()
            for n, token in enumerate(llm.generate(prompts[row], repeat_penalty=1.0, reset=True, **sampling)):
                step = [None] * len(contexts)
                step[row] = token
                report("tokens", step)
                if token in eos_ids or n + 1 >= max_new_tokens or any(e.is_set() for e in stops):
                    return

        with ThreadPoolExecutor(len(contexts), thread_name_prefix="llama-cpp-pane") as pool:
            for future in [pool.submit(pane, row) for row in range(len(contexts))]:
                future.result()
