"""Batched chat generation for a base model with any number of LoRA adapters (transformers + PEFT).

The base is loaded once; each request names the adapter it runs under (``"__base__"`` = none), and a
batch may mix adapters through PEFT's ``adapter_names``. Prompts are length-sorted and left-padded so a
batch wastes little compute; generation stops at the chat template's end-of-turn token. Each decoding
step can be reported (``on_progress``), so a long batch shows how far it has got.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from codegen_lab import BASE_ADAPTER

END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>")


@dataclass
class Sampling:
    """Decoding settings; temperature 0 means greedy. LCB's own default is n=10, T=0.2, top_p=0.95."""

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"Sampling n must be at least 1, got {self.n}.")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError(f"Sampling needs temperature >= 0 and 0 < top_p <= 1, got {self}.")
        if self.temperature == 0 and self.n > 1:
            raise ValueError(
                "Greedy decoding (temperature 0) gives n identical samples; set --temperature > 0."
            )


@dataclass
class GenerationProgress:
    """Where generation stands: batch ``batch`` of ``n_batches``, its tokens so far and finished rows."""

    batch: int
    n_batches: int
    rows: int
    finished_rows: int
    steps: int  # decoding steps of this batch (tokens per row so far)
    max_new_tokens: int
    tokens: int  # tokens generated in all batches so far (rows still running count one per step)
    seconds: float  # since generation started
    eta: float | None = None  # continuous batching (llama.cpp) estimates its own; rows = every answer

    def eta_seconds(self) -> float | None:
        """An upper bound: every unfinished batch running to max_new_tokens at the speed so far."""
        if self.eta is not None:
            return self.eta
        done_steps = (self.batch - 1) * self.max_new_tokens + self.steps
        if done_steps == 0:
            return None
        left = self.n_batches * self.max_new_tokens - done_steps
        return left * self.seconds / done_steps


class _ProgressStreamer:
    """A ``generate`` streamer reporting each decoding step: tokens so far and rows that reached an end of turn."""

    def __init__(self, on_progress, n_batches: int, max_new_tokens: int, stop_ids: list[int]):
        self.on_progress, self.n_batches, self.max_new_tokens = on_progress, n_batches, max_new_tokens
        self.stop_ids, self.started, self.tokens = set(stop_ids), time.monotonic(), 0

    def start_batch(self, number: int) -> _ProgressStreamer:
        self.batch, self.steps, self.done, self.seen_prompt = number, 0, None, False
        return self

    def put(self, value) -> None:
        if not self.seen_prompt:  # the first call carries the prompt ids
            self.seen_prompt = True
            return
        step = value.reshape(-1).tolist()
        self.done = self.done or [False] * len(step)
        self.tokens += sum(1 for finished in self.done if not finished)
        self.done = [
            finished or token in self.stop_ids for finished, token in zip(self.done, step, strict=True)
        ]
        self.steps += 1
        if self.on_progress is not None:
            elapsed = time.monotonic() - self.started
            self.on_progress(
                GenerationProgress(
                    self.batch,
                    self.n_batches,
                    len(step),
                    sum(self.done),
                    self.steps,
                    self.max_new_tokens,
                    self.tokens,
                    elapsed,
                )
            )

    def end(self) -> None:
        pass


@dataclass
class Request:
    messages: list[dict]
    adapter: str = BASE_ADAPTER


def render_prompts(tokenizer, requests: Sequence[Request]) -> list[str]:
    return [
        tokenizer.apply_chat_template(r.messages, tokenize=False, add_generation_prompt=True)
        for r in requests
    ]


def end_of_turn_ids(generation_config, tokenizer) -> list[int]:
    """Every token that ends an assistant turn: the tokenizer's eos, the model's, and known turn ends."""
    ids = {tokenizer.eos_token_id}
    configured = generation_config.eos_token_id if generation_config is not None else None
    ids.update(configured if isinstance(configured, list) else [configured])
    vocab = tokenizer.get_vocab()
    ids.update(vocab[token] for token in END_OF_TURN_TOKENS if token in vocab)
    return sorted(i for i in ids if i is not None)


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first (an out-of-memory shows up early)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def generate(
    model,
    tokenizer,
    requests: Sequence[Request],
    *,
    sampling: Sampling = Sampling(),
    max_new_tokens: int = 1024,
    batch_size: int = 8,
    on_batch: Callable[[list[int], list[list[str]]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_progress: Callable[[GenerationProgress], None] | None = None,
    generate_fn: Callable | None = None,
) -> list[list[str] | None]:
    """``sampling.n`` completions per request, in request order.

    ``batch_size`` counts sequences, so a batch holds ``batch_size // n`` requests (at least one).
    ``on_batch(indices, outputs)`` sees each finished batch; ``should_stop()`` ends early, leaving
    ``None`` for requests not generated; ``on_progress`` sees every decoding step. ``generate_fn``
    replaces ``model.generate`` (e.g. a wrapper that holds a lock).
    """
    import torch

    encoded = [
        tokenizer(text, add_special_tokens=False)["input_ids"] for text in render_prompts(tokenizer, requests)
    ]
    stop_ids = end_of_turn_ids(model.generation_config, tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop_ids[0]
    results: list[list[str] | None] = [None] * len(requests)
    batches = length_sorted_batches([len(ids) for ids in encoded], max(1, batch_size // sampling.n))
    streamer = _ProgressStreamer(on_progress, len(batches), max_new_tokens, stop_ids)
    for number, indices in enumerate(batches, 1):
        if should_stop is not None and should_stop():
            break
        rows = [encoded[i] for i in indices for _ in range(sampling.n)]
        adapters = [requests[i].adapter for i in indices for _ in range(sampling.n)]
        with torch.inference_mode():
            output = (generate_fn or model.generate)(
                **left_padded(rows, pad_id, model.device),
                **adapter_kwargs(model, adapters),
                **decoding_kwargs(sampling),
                max_new_tokens=max_new_tokens,
                eos_token_id=stop_ids,
                pad_token_id=pad_id,
                streamer=streamer.start_batch(number),
            )
        completions = tokenizer.batch_decode(output[:, max(map(len, rows)) :], skip_special_tokens=True)
        batch_outputs = [completions[k * sampling.n : (k + 1) * sampling.n] for k in range(len(indices))]
        for i, outs in zip(indices, batch_outputs, strict=True):
            results[i] = outs
        if on_batch is not None:
            on_batch(indices, batch_outputs)
    return results


def left_padded(rows: list[list[int]], pad_id: int, device) -> dict:
    """input_ids and attention_mask of rows padded on the left to the longest."""
    import torch

    width = max(len(row) for row in rows)
    input_ids = torch.tensor([[pad_id] * (width - len(row)) + row for row in rows], device=device)
    attention = torch.tensor([[0] * (width - len(row)) + [1] * len(row) for row in rows], device=device)
    return {"input_ids": input_ids, "attention_mask": attention}


def adapter_kwargs(model, adapters: list[str]) -> dict:
    """PEFT's per-row ``adapter_names`` (mixed batches); a model without adapters takes only the base."""
    from peft import PeftModel

    if isinstance(model, PeftModel):
        return {"adapter_names": adapters}
    if any(adapter != BASE_ADAPTER for adapter in adapters):
        raise ValueError("A request names an adapter but the model has none attached.")
    return {}


def decoding_kwargs(sampling: Sampling) -> dict:
    """Explicit values for everything that shapes decoding, so a model's generation_config.json
    (Qwen's: repetition_penalty 1.05, top_k 20, T 0.7) cannot change what the results file records."""
    decoding = {"do_sample": sampling.temperature > 0, "repetition_penalty": 1.0}
    if sampling.temperature > 0:
        decoding.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=0)
    return decoding
