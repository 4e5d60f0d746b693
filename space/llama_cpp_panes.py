"""The Arena's two panes on the llama.cpp engine (``codegen_lab/llamacpp.py``): the GGUF base loaded once,
one context per pane, each pane's adapter a GGUF LoRA applied to its own context (llama.cpp applies one
adapter set per context; switching it is free, the weights stay one mmap).

Nothing waits for the first request: ``load`` (the Engine's warm-up thread, at start-up) loads the base
and builds both contexts, and the opening adapters are converted right after (``lora_of``); a pick made
later is converted when it is picked. Thread placement is ``pane_threads``.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from codegen_lab.gguf_lora import adapter_gguf
from codegen_lab.llamacpp import LlamaCppModel, Sampling, default_threads, prefill_first
from codegen_lab.models import resolve_adapter_path
from space.threaded_work import Report

TOP_P = 0.95  # with a temperature above 0, as the transformers panes sample


def pane_threads(panes: int) -> int:
    """Threads per pane context: the cores split between the panes, which decode at the same time.

    Measured on 2 cores with SmolLM2 (README, "Thread placement"): one thread per pane, both panes
    concurrent, streams both at once with the most tokens/s in all; two threads each, concurrent,
    oversubscribes the cores (llama.cpp's threads spin-wait for each other), and alternating steps at two
    threads each adds a hand-over per token for no gain.
    """
    return max(1, default_threads() // panes)


class LlamaCppPanes:
    """The base in llama.cpp, one context per pane, and the GGUF LoRA of every adapter spec used so far."""

    def __init__(self, gguf: Path, base_folder: Path, *, n_ctx: int, panes: int = 2):
        self.gguf, self.base_folder, self.n_ctx, self.panes = gguf, base_folder, n_ctx, panes
        self.threads = pane_threads(panes)
        self.model: LlamaCppModel | None = None
        self.contexts: list = []  # codegen_lab.llamacpp.Context, one per pane
        self.loras: dict[str, Path] = {}  # adapter spec -> its GGUF LoRA, loaded onto the base
        self.lock = threading.Lock()  # one conversion at a time, each spec converted once

    def load(self) -> None:
        """The base (memory-mapped) and one context per pane of ``n_ctx`` tokens."""
        model = LlamaCppModel(self.gguf, repack=prefill_first())  # a chat waits on its prompt
        self.contexts = [model.context(n_ctx_seq=self.n_ctx, threads=self.threads) for _ in range(self.panes)]
        self.model = model

    def lora_of(self, spec: str) -> Path:
        """The GGUF LoRA of an adapter spec, converted once (cached on disk too) and loaded onto the base.

        Raises ModelLoadError (or HubError) naming the adapter when it cannot be fetched, converted or loaded.
        """
        with self.lock:
            if spec not in self.loras:
                path = adapter_gguf(resolve_adapter_path(spec), self.base_folder)
                self.model.lora(path)  # an adapter of another base fails here, not in a pane
                self.loras[spec] = path
            return self.loras[spec]

    def generate(
        self,
        loras: Sequence[Path | None],
        prompts: Sequence[list[int]],
        *,
        stop_ids: set[int],
        max_new_tokens: int,
        temperature: float,
        should_stop: Callable[[], bool],
        report: Report,
    ) -> None:
        """Each pane in its own thread on its own context; reports ``("tokens", row_tokens)``, None for the
        other rows. ``loras[row]`` is pane row's GGUF LoRA, None for the base."""
        seed = random.randrange(2**31)
        sampling = Sampling() if temperature <= 0 else Sampling(temperature, TOP_P, seed)

        def pane(row: int) -> None:
            def on_token(_: int, token: int) -> None:
                step: list[int | None] = [None] * len(prompts)
                step[row] = token
                report("tokens", step)

            context = self.contexts[row]
            context.use_lora(loras[row])
            context.generate([prompts[row]], stop_ids=stop_ids, max_new_tokens=max_new_tokens,
                             sampling=sampling, streams=[row], on_token=on_token, should_stop=should_stop)  # fmt: skip

        with ThreadPoolExecutor(len(prompts), thread_name_prefix="llama-cpp-pane") as pool:
            for future in [pool.submit(pane, row) for row in range(len(prompts))]:
                future.result()
