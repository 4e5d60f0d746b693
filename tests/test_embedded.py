"""The embedded SmolLM2 model: converted once from the packaged GGUF, then loaded from the cache."""

from __future__ import annotations

import pytest

from codegen_lab import EMBEDDED_MODEL, SYSTEM_PROMPT
from codegen_lab import embedded as embedded_module
from codegen_lab.models import load_base

pytestmark = pytest.mark.embedded


def test_embedded_model_answers_a_chat_prompt_offline(embedded_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert (embedded_dir / "model.safetensors").is_file()
    assert "im_start" in (embedded_dir / "chat_template.jinja").read_text()

    def no_conversion():
        raise AssertionError("the second load must use the cached HF folder, not the GGUF")

    monkeypatch.setattr(embedded_module, "gguf_path", no_conversion)
    model, tokenizer = load_base(EMBEDDED_MODEL, device="cpu")
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "Write a Python function that adds two numbers."},
    ]
    batch = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    out = model.generate(**batch, max_new_tokens=40, do_sample=False)
    answer = tokenizer.decode(out[0, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "def " in answer or "return" in answer
