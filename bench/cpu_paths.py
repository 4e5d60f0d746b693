"""Two CPU generation paths measured by bench/generation.py (neither is the product's: neither met the goal).

1. Stacked mixed-adapter LoRA (``enable_mixed_lora``). PEFT's ``generate(..., adapter_names=[...])`` gathers each adapter's rows, runs its LoRA on them in float32
and scatters the result back: a dozen small operations per layer and adapter. Here every LoRA layer keeps its attached adapters stacked (A: adapters x r x in,
B: adapters x out x r, scaling folded into B, zero-padded to the largest rank, plus a zero slot for
``"__base__"``), and a batch computes ``x @ A[row]^T @ B[row]^T`` for all rows at once in the model's dtype.

    model = attach_adapters(model, {...}); enable_mixed_lora(model)      # same generate() calls as before

The stacks are rebuilt whenever the attached adapters change. Vanilla LoRA on ``nn.Linear`` layers only
(what this project trains); anything else keeps PEFT's own path.

2. int8 decoding (``enable_int8_decode``). Decoding one token per row is memory-bound (each step reads every weight once), so there the layer reads
int8 weights (per-output-channel scales, ``torch._weight_int8pack_mm``), half the bytes of bf16. The
prompt (more than ``MAX_DECODE_ROWS`` tokens) is compute-bound and keeps the dense bf16 matmul, so the
first token is exactly the bf16 model's. LoRA adapters are untouched: PEFT wraps these layers like any
``nn.Linear`` and adds its low-rank terms in their own dtype. Costs half the model's bf16 size in RAM.

Only for bf16 models on CPU (the int8 kernel is slow with fp32 activations): ``enable_int8_decode(model)``.
"""

from __future__ import annotations

import types

import torch
from torch import nn

BASE = "__base__"


def enable_mixed_lora(model) -> int:
    """Route every plain LoRA ``Linear`` layer of a PeftModel through the stacked path; returns how many."""
    from peft.tuners.lora import Linear as LoraLinear

    count = 0
    for module in model.modules():
        if isinstance(module, LoraLinear) and not module.lora_variant:
            module.forward = types.MethodType(_forward, module)
            count += 1
    return count


def _stacks(layer, dtype: torch.dtype):
    """(A, B, {adapter name: slot}) for the layer's adapters now, cached until they change."""
    names = tuple(layer.lora_A.keys())
    cached = layer.__dict__.get("_mixed_lora")
    if cached is not None and cached[0] == (names, dtype):
        return cached[1:]
    rank = max(layer.r[name] for name in names)
    in_features, out_features = layer.in_features, layer.out_features
    a = torch.zeros(len(names) + 1, rank, in_features, dtype=dtype)
    b = torch.zeros(len(names) + 1, out_features, rank, dtype=dtype)
    for slot, name in enumerate(names):
        r = layer.r[name]
        a[slot, :r] = layer.lora_A[name].weight.detach().to(dtype)
        b[slot, :, :r] = (layer.lora_B[name].weight.detach() * layer.scaling[name]).to(dtype)
    slots = {name: slot for slot, name in enumerate(names)} | {BASE: len(names)}
    layer.__dict__["_mixed_lora"] = ((names, dtype), a, b, slots)
    return a, b, slots


def _forward(self, x: torch.Tensor, *args, adapter_names: list[str] | None = None, **kwargs) -> torch.Tensor:
    if adapter_names is None or self.disable_adapters or self.merged:
        return type(self).forward(self, x, *args, adapter_names=adapter_names, **kwargs)
    result = self.base_layer(x, *args, **kwargs)
    a, b, slots = _stacks(self, result.dtype)
    index = torch.tensor([slots.get(name, slots[BASE]) for name in adapter_names])
    rows = x.to(result.dtype).reshape(len(adapter_names), -1, x.shape[-1])
    delta = torch.bmm(torch.bmm(rows, a[index].transpose(1, 2)), b[index].transpose(1, 2))
    return result + delta.reshape(result.shape)


MAX_DECODE_ROWS = 8  # at most this many tokens in a call: decoding steps of a small batch


class Int8DecodeLinear(nn.Linear):
    """An ``nn.Linear`` that multiplies by an int8 copy of its weight when few tokens come in."""

    def prepare(self) -> None:
        weight = self.weight.detach().float()
        scales = weight.abs().amax(dim=1).clamp(min=1e-8) / 127.0
        self.register_buffer(
            "weight_int8", (weight / scales[:, None]).round().clamp(-127, 127).to(torch.int8)
        )
        self.register_buffer("scales", scales.to(self.weight.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, x.shape[-1])
        if rows.shape[0] > MAX_DECODE_ROWS or rows.dtype != self.scales.dtype:
            return super().forward(x)
        out = torch._weight_int8pack_mm(rows, self.weight_int8, self.scales)
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*x.shape[:-1], out.shape[-1])


def enable_int8_decode(model: nn.Module) -> int:
    """Turn every plain ``nn.Linear`` of a bf16 CPU model into an ``Int8DecodeLinear`` in place; returns how many.

    LoRA's own small layers (``lora_A``/``lora_B``) are left as they are.
    """
    if next(model.parameters()).dtype != torch.bfloat16:
        raise ValueError(
            "int8 decoding needs a bfloat16 model (the kernel is slow with float32 activations)."
        )
    count = 0
    for name, module in list(model.named_modules()):
        if type(module) is nn.Linear and "lora_" not in name:
            module.__class__ = Int8DecodeLinear
            module.prepare()
            count += 1
    return count
