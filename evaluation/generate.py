"""Batched chat generation for a base model with any number of LoRA adapters (transformers + PEFT).

The base is loaded once; each request names the adapter it runs under (``"__base__"`` = none), and a
batch may mix adapters through PEFT's ``adapter_names``. Prompts are length-sorted and left-padded so a
batch wastes little compute; generation stops at the chat template's end-of-turn token.

``generate_vllm`` is an optional backend for machines with vLLM and a CUDA GPU. It has NOT been run in
this project's tests (no GPU here): treat it as a starting point, not a verified path.
"""

from __future__ import annotations

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
class Request:
    messages: list[dict]
    adapter: str = BASE_ADAPTER


def render_prompts(tokenizer, requests: Sequence[Request]) -> list[str]:
    return [
        tokenizer.apply_chat_template(r.messages, tokenize=False, add_generation_prompt=True)
        for r in requests
    ]


def end_of_turn_ids(model, tokenizer) -> list[int]:
    """Every token that ends an assistant turn: the tokenizer's eos, the model's, and known turn ends."""
    ids = {tokenizer.eos_token_id}
    configured = model.generation_config.eos_token_id
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
) -> list[list[str] | None]:
    """``sampling.n`` completions per request, in request order.

    ``batch_size`` counts sequences, so a batch holds ``batch_size // n`` requests (at least one).
    ``on_batch(indices, outputs)`` sees each finished batch; ``should_stop()`` ends early, leaving
    ``None`` for requests not generated.
    """
    import torch
    from peft import PeftModel

    texts = render_prompts(tokenizer, requests)
    encoded = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
    per_batch = max(1, batch_size // sampling.n)
    stop_ids = end_of_turn_ids(model, tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop_ids[0]
    # Explicit values for everything that shapes decoding, so a model's generation_config.json
    # (Qwen's: repetition_penalty 1.05, top_k 20, T 0.7) cannot change what the results file records.
    decoding = {"do_sample": sampling.temperature > 0, "repetition_penalty": 1.0}
    if sampling.temperature > 0:
        decoding.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=0)
    is_peft = isinstance(model, PeftModel)
    results: list[list[str] | None] = [None] * len(requests)

    for indices in length_sorted_batches([len(ids) for ids in encoded], per_batch):
        if should_stop is not None and should_stop():
            break
        rows = [encoded[i] for i in indices for _ in range(sampling.n)]
        width = max(len(row) for row in rows)
        input_ids = torch.tensor([[pad_id] * (width - len(row)) + row for row in rows], device=model.device)
        attention = torch.tensor(
            [[0] * (width - len(row)) + [1] * len(row) for row in rows], device=model.device
        )
        extra = {}
        if is_peft:
            extra["adapter_names"] = [requests[i].adapter for i in indices for _ in range(sampling.n)]
        elif any(requests[i].adapter != BASE_ADAPTER for i in indices):
            raise ValueError("A request names an adapter but the model has none attached.")
        with torch.inference_mode():
            output = model.generate(
                input_ids=input_ids,
                attention_mask=attention,
                max_new_tokens=max_new_tokens,
                eos_token_id=stop_ids,
                pad_token_id=pad_id,
                **decoding,
                **extra,
            )
        completions = tokenizer.batch_decode(output[:, width:], skip_special_tokens=True)
        batch_outputs = [completions[k * sampling.n : (k + 1) * sampling.n] for k in range(len(indices))]
        for i, outs in zip(indices, batch_outputs, strict=True):
            results[i] = outs
        if on_batch is not None:
            on_batch(indices, batch_outputs)
    return results


def generate_vllm(
    base_path: str,
    adapter_paths: dict[str, str],
    tokenizer,
    requests: Sequence[Request],
    *,
    sampling: Sampling = Sampling(),
    max_new_tokens: int = 1024,
) -> list[list[str]]:
    """UNTESTED here: the same contract through vLLM with one ``LoRARequest`` per adapter (needs CUDA)."""
    import torch
    from vllm import LLM, SamplingParams
    from vllm.lora.request import LoRARequest

    if not torch.cuda.is_available():
        raise RuntimeError("The vLLM backend needs a CUDA GPU.")
    llm = LLM(model=base_path, enable_lora=bool(adapter_paths), max_lora_rank=64, generation_config="vllm")
    params = SamplingParams(
        n=sampling.n, temperature=sampling.temperature, top_p=sampling.top_p, max_tokens=max_new_tokens
    )
    lora_ids = {
        name: LoRARequest(name, number, path) for number, (name, path) in enumerate(adapter_paths.items(), 1)
    }
    texts = render_prompts(tokenizer, requests)
    outputs: list[list[str]] = [[] for _ in requests]
    for adapter in {r.adapter for r in requests}:
        indices = [i for i, r in enumerate(requests) if r.adapter == adapter]
        lora = None if adapter == BASE_ADAPTER else lora_ids[adapter]
        for i, result in zip(
            indices, llm.generate([texts[i] for i in indices], params, lora_request=lora), strict=True
        ):
            outputs[i] = [choice.text for choice in result.outputs]
    return outputs
