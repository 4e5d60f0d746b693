"""The Arena's panes on llama.cpp (ARENA_ENGINE=llama.cpp; make test builds llama-cpp-python): the embedded
SmolLM2 GGUF, a PEFT adapter converted to a GGUF LoRA, both panes streamed, the adapter really applied."""

from __future__ import annotations

import threading

import pytest

from codegen_lab import BASE_ADAPTER, EMBEDDED_MODEL, SYSTEM_PROMPT
from codegen_lab.models import ModelLoadError
from space.engine import Engine, GenerationSettings
from space.llama_cpp_panes import is_installed
from tests.conftest import build_tiny_adapter

pytestmark = pytest.mark.embedded
PROMPT = "Write a Python program that prints the sum of two integers read from standard input."


@pytest.fixture(scope="module")
def adapter(embedded_dir, tmp_path_factory) -> str:
    return str(build_tiny_adapter(embedded_dir, tmp_path_factory.mktemp("llama") / "strong-lora", seed=3))


@pytest.fixture(scope="module")
def engine():
    if not is_installed():
        pytest.fail("llama-cpp-python is not installed: make test builds it (make llama-cpp)")
    return Engine(EMBEDDED_MODEL, arena_engine="llama.cpp")


def settings(tokens: int) -> GenerationSettings:
    return GenerationSettings(max_new_tokens=tokens, temperature=0.0, system_prompt=SYSTEM_PROMPT)


def test_both_panes_stream_and_the_adapter_is_applied(engine, adapter):
    messages = engine.build_messages([], PROMPT, SYSTEM_PROMPT)
    updates = list(engine.stream([(adapter, messages), (BASE_ADAPTER, messages)], settings(12)))
    final = updates[-1]
    assert all(final.done) and all(1 <= n <= 12 for n in final.n_tokens)
    assert all(final.texts) and final.texts[0] != final.texts[1]  # the LoRA changes the answer
    assert len(updates) > 2 and all(at is not None for at in final.first_token_at)  # streamed, not at once
    assert set(engine.llama_cpp.contexts) == {(0, adapter), (1, BASE_ADAPTER)}

    # greedy is repeatable, and the same pane again reuses its context
    again = list(engine.stream([(adapter, messages), (BASE_ADAPTER, messages)], settings(12)))[-1]
    assert again.texts == final.texts and len(engine.llama_cpp.contexts) == 2


def test_a_stop_ends_both_panes_early(engine, adapter):
    messages = engine.build_messages([], PROMPT, SYSTEM_PROMPT)
    stop = threading.Event()
    for update in engine.stream([(BASE_ADAPTER, messages), (adapter, messages)], settings(200), stop):
        if any(update.n_tokens):
            stop.set()
    assert update.done == [True, True] and max(update.n_tokens) < 200


def test_an_adapter_of_another_base_is_one_sentence(engine, tiny_adapters):
    bad = tiny_adapters["deep"]  # made for the tiny random Qwen2 (hidden 64), not SmolLM2
    with pytest.raises(ModelLoadError, match=str(bad)):
        engine.llama_cpp.context(0, str(bad), bad, set())
    assert (0, str(bad)) not in engine.llama_cpp.contexts


def test_llama_cpp_serves_gguf_bases_only(tiny_model_dir):
    with pytest.raises(ModelLoadError, match="GGUF base"):
        Engine(str(tiny_model_dir), arena_engine="llama.cpp")
    with pytest.raises(ValueError, match="'vllm'"):
        Engine(str(tiny_model_dir), arena_engine="vllm")
