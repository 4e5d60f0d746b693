"""Faster CPU decoding: every linear layer keeps its bf16 weight for the prompt and an int8 copy for decoding.

Decoding one token per row is memory-bound (each step reads every weight once), so there the layer reads
int8 weights (per-output-channel scales, ``torch._weight_int8pack_mm``), half the bytes of bf16. The
prompt (more than ``MAX_DECODE_ROWS`` tokens) is compute-bound and keeps the dense bf16 matmul, so the
first token is exactly the bf16 model's. LoRA adapters are untouched: PEFT wraps these layers like any
``nn.Linear`` and adds its low-rank terms in their own dtype. Costs half the model's bf16 size in RAM.

Only for bf16 models on CPU (the int8 kernel is slow with fp32 activations): ``enable_int8_decode(model)``.
"""

from __future__ import annotations

import torch
from torch import nn

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
