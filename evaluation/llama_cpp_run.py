"""Evaluation requests on the llama.cpp engine (``--engine llama.cpp``, or ``auto`` on a CPU).

The same contract as ``evaluation.generate.generate``: requests in, ``sampling.n`` texts per request,
``on_batch`` for each finished request (judged while the others decode), ``should_stop``, per-step
progress. Requests of one adapter share a context whose ``batch_size`` sequences decode together, each
ending at its own end-of-turn; prompts are the tokenizer's chat template, as for transformers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from codegen_lab import BASE_ADAPTER
from evaluation.generate import GenerationProgress, Request, Sampling, end_of_turn_ids, render_prompts


@dataclass
class LlamaCppLoaded:
    """The GGUF base in llama.cpp, the tokenizer that renders prompts, each adapter as a GGUF LoRA."""

    model: object  # codegen_lab.llamacpp.LlamaCppModel
    tokenizer: object
    loras: dict[str, Path]  # request adapter name -> GGUF LoRA
    stop_ids: set[int]

    def runtime(self, n_seq: int) -> dict:
        return {"engine": "llama.cpp", "device": "cpu", "n_seq": n_seq, "repack": self.model.repack}


def load_llama_cpp(base: str, adapters: dict[str, str]) -> LlamaCppLoaded:
    """The base's GGUF with ``adapters`` ({name: spec}) converted to GGUF LoRAs (cached); no torch model."""
    from transformers import AutoTokenizer, GenerationConfig

    from codegen_lab.gguf_lora import adapter_gguf
    from codegen_lab.llamacpp import LlamaCppModel, base_gguf
    from codegen_lab.models import resolve_adapter_path, resolve_model_path

    folder = resolve_model_path(base)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    loras = {name: adapter_gguf(resolve_adapter_path(spec), folder) for name, spec in adapters.items()}
    config = (
        GenerationConfig.from_pretrained(folder) if (folder / "generation_config.json").is_file() else None
    )
    model = LlamaCppModel(base_gguf(base))
    return LlamaCppLoaded(model, tokenizer, loras, set(end_of_turn_ids(config, tokenizer)))


def generate_llama_cpp(
    loaded: LlamaCppLoaded,
    requests: Sequence[Request],
    *,
    sampling: Sampling = Sampling(),
    max_new_tokens: int = 1024,
    batch_size: int = 8,
    on_batch: Callable[[list[int], list[list[str]]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_progress: Callable[[GenerationProgress], None] | None = None,
) -> list[list[str] | None]:
    """``sampling.n`` completions per request, in request order (None for those not generated)."""
    from codegen_lab.llamacpp import Sampling as LlamaSampling

    tokenizer = loaded.tokenizer
    encoded = [
        tokenizer(text, add_special_tokens=False)["input_ids"] for text in render_prompts(tokenizer, requests)
    ]
    results: list[list[str] | None] = [None] * len(requests)
    texts: dict[int, list[str | None]] = {i: [None] * sampling.n for i in range(len(requests))}
    rows = [(i, k) for i in range(len(requests)) for k in range(sampling.n)]
    clock = Clock(len(rows), max_new_tokens, on_progress)
    llama_sampling = LlamaSampling(sampling.temperature, sampling.top_p)
    for adapter in dict.fromkeys(r.adapter for r in requests):
        group = [row for row in rows if requests[row[0]].adapter == adapter]
        if should_stop is not None and should_stop():
            break
        context = loaded.model.context(
            n_seq=min(batch_size, len(group)),
            n_ctx_seq=max(len(encoded[i]) for i, _ in group) + max_new_tokens,
            lora=None if adapter == BASE_ADAPTER else loaded.loras[adapter],
        )

        def done(index: int, ids: list[int], group=group) -> None:
            i, k = group[index]
            texts[i][k] = tokenizer.decode(ids, skip_special_tokens=True)
            clock.finished(len(ids))
            if all(t is not None for t in texts[i]):
                results[i] = list(texts[i])
                if on_batch is not None:
                    on_batch([i], [results[i]])

        try:
            context.generate(
                [encoded[i] for i, _ in group],
                stop_ids=loaded.stop_ids,
                max_new_tokens=max_new_tokens,
                sampling=llama_sampling,
                streams=[i * sampling.n + k for i, k in group],
                on_token=lambda index, token: clock.token(),
                on_done=done,
                should_stop=should_stop,
            )
        finally:
            context.close()  # its cache now, not when the model goes
    return results


class Clock:
    """Progress of continuous batching: answers finished, tokens so far, an ETA from the mean answer so far."""

    def __init__(self, rows: int, max_new_tokens: int, on_progress):
        self.rows, self.max_new_tokens, self.on_progress = rows, max_new_tokens, on_progress
        self.started, self.tokens, self.done, self.done_tokens = time.monotonic(), 0, 0, 0

    def token(self) -> None:
        self.tokens += 1
        if self.on_progress is not None and self.tokens % 8 == 0:
            self.report()

    def finished(self, n_tokens: int) -> None:
        self.done += 1
        self.done_tokens += n_tokens
        self.report()

    def report(self) -> None:
        if self.on_progress is None:
            return
        seconds = time.monotonic() - self.started
        mean = self.done_tokens / self.done if self.done else self.max_new_tokens
        left = max(0.0, (self.rows * mean - self.tokens))
        eta = left * seconds / self.tokens if self.tokens else None
        self.on_progress(
            GenerationProgress(
                1, 1, self.rows, self.done, 0, self.max_new_tokens, self.tokens, seconds, eta=eta
            )
        )
