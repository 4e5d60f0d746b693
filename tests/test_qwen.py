"""The study's own base model, embedded (make qwen, which make test installs): Qwen2.5-Coder-1.5B from the
verified GGUF parts, the Arena's engine with a shipped demo adapter, one benchmark problem, a few tokens."""

from __future__ import annotations

import pytest
import torch

from codegen_lab import BASE_ADAPTER, EMBEDDED_QWEN
from codegen_lab.embedded import is_installed
from codegen_lab.prompts import SYSTEM_PROMPT
from space.arena_problems import load_problems
from space.catalog import DEMO_ADAPTERS_DIR, model_choices, opening_pair
from space.engine import Engine, GenerationSettings

pytestmark = pytest.mark.embedded
DEEP = str(DEMO_ADAPTERS_DIR / "deep-qwen-demo")


@pytest.fixture(scope="module")
def qwen_engine():
    if not is_installed(EMBEDDED_QWEN):
        pytest.fail("the embedded Qwen model is not installed: make test installs it (make qwen)")
    return Engine(EMBEDDED_QWEN)


def test_the_arena_opens_on_the_qwen_demo_adapters():
    deep, diverse = opening_pair(model_choices(EMBEDDED_QWEN))
    assert (deep, diverse) == (DEEP, str(DEMO_ADAPTERS_DIR / "diverse-qwen-demo"))
    assert DEEP not in {c.spec for c in model_choices("embedded:smollm2")}  # another base: not offered


def test_a_demo_adapter_answers_a_benchmark_problem_beside_the_base(qwen_engine):
    statement = min((p.question_content for p in load_problems().values()), key=len)
    messages = qwen_engine.build_messages([], statement, SYSTEM_PROMPT)
    settings = GenerationSettings(max_new_tokens=4, temperature=0.0, system_prompt=SYSTEM_PROMPT)
    *_, final = qwen_engine.stream([(DEEP, messages), (BASE_ADAPTER, messages)], settings)
    assert (
        all(final.done) and all(1 <= n <= 4 for n in final.n_tokens) and all(t.strip() for t in final.texts)
    )

    # the adapter is really applied in the mixed batch: its next-token distribution is not the base's
    prompt = qwen_engine.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    ids = qwen_engine.tokenizer([prompt, prompt], return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        logits = qwen_engine.model(**ids, adapter_names=[qwen_engine.adapters[DEEP], BASE_ADAPTER]).logits[
            :, -1
        ]
    assert not torch.allclose(logits[0], logits[1])
