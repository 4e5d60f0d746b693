"""The Arena's panes on llama.cpp (the engine ``auto`` picks on a CPU; make test builds llama-cpp-python): the
embedded SmolLM2 GGUF, a PEFT adapter converted to a GGUF LoRA at warm-up, one context per pane with its
adapter switched in place, both panes streamed; and without llama.cpp, transformers said in one sentence."""

from __future__ import annotations

import threading

import gradio as gr
import pytest

from codegen_lab import BASE_ADAPTER, EMBEDDED_MODEL
from codegen_lab import llamacpp as llamacpp_module
from codegen_lab.llamacpp import is_installed
from codegen_lab.models import ModelLoadError
from codegen_lab.prompts import SYSTEM_PROMPT
from evaluation.benchmark import load_benchmark
from evaluation.results import read_results
from space.benchmark_tab import run_benchmark
from space.engine import Engine, GenerationSettings
from space.ui import build_demo
from tests.helpers import build_tiny_adapter

pytestmark = pytest.mark.embedded
PROMPT = "Write a Python program that prints the sum of two integers read from standard input."


@pytest.fixture(scope="module")
def adapter(embedded_dir, tmp_path_factory) -> str:
    return str(build_tiny_adapter(embedded_dir, tmp_path_factory.mktemp("llama") / "strong-lora", seed=3))


@pytest.fixture(scope="module")
def llama_engine(adapter):
    if not is_installed():
        pytest.fail("llama-cpp-python is not installed: make test builds it (make llama-cpp)")
    engine = Engine(EMBEDDED_MODEL, arena_engine="auto")
    assert engine.engine == "llama.cpp" and engine.model is None  # no transformers model beside the GGUF
    assert "transformers model is not loaded" in engine.describe()
    warm = engine.warm_up([adapter, BASE_ADAPTER])
    ready, line = engine.status()
    assert ready or "Warming up" in line
    warm.join()
    assert engine.status() == (True, "**Ready.**") and adapter in engine.llama_cpp.loras  # converted already
    return engine


def settings(tokens: int) -> GenerationSettings:
    return GenerationSettings(max_new_tokens=tokens, temperature=0.0, system_prompt=SYSTEM_PROMPT)


def test_both_panes_stream_and_the_adapter_is_applied(llama_engine, adapter):
    messages = llama_engine.build_messages([], PROMPT, SYSTEM_PROMPT)
    contexts = list(llama_engine.llama_cpp.contexts)
    updates = list(llama_engine.stream([(adapter, messages), (BASE_ADAPTER, messages)], settings(12)))
    final = updates[-1]
    assert all(final.done) and all(1 <= n <= 12 for n in final.n_tokens)
    assert all(final.texts) and final.texts[0] != final.texts[1]  # the LoRA changes the answer
    assert len(updates) > 2 and all(at is not None for at in final.first_token_at)  # streamed, not at once
    assert [c.lora for c in llama_engine.llama_cpp.contexts] == [llama_engine.llama_cpp.loras[adapter], None]

    # greedy is repeatable; the adapters swap panes on the same two contexts, and the answers with them
    again = list(llama_engine.stream([(adapter, messages), (BASE_ADAPTER, messages)], settings(12)))[-1]
    swapped = list(llama_engine.stream([(BASE_ADAPTER, messages), (adapter, messages)], settings(12)))[-1]
    assert again.texts == final.texts and swapped.texts == final.texts[::-1]
    assert llama_engine.llama_cpp.contexts == contexts and len(contexts) == 2


def test_a_stop_ends_both_panes_early(llama_engine, adapter):
    messages = llama_engine.build_messages([], PROMPT, SYSTEM_PROMPT)
    stop = threading.Event()
    for update in llama_engine.stream([(BASE_ADAPTER, messages), (adapter, messages)], settings(200), stop):
        if any(update.n_tokens):
            stop.set()
    assert update.done == [True, True] and max(update.n_tokens) < 200


def test_an_adapter_of_another_base_is_one_sentence(llama_engine, tiny_adapters):
    bad = str(tiny_adapters["deep"])  # made for the tiny random Qwen2 (hidden 64), not SmolLM2
    with pytest.raises(ModelLoadError, match=bad):
        llama_engine.load_adapter(bad)
    assert bad not in llama_engine.llama_cpp.loras
    messages = llama_engine.build_messages([], PROMPT, SYSTEM_PROMPT)
    assert all(
        list(llama_engine.stream([(BASE_ADAPTER, messages)] * 2, settings(4)))[-1].texts
    )  # still serves


def benchmark_engine(engine: Engine, adapter: str, out_dir) -> str:
    """The engine a Benchmark tab run on one problem records in its results file."""
    steps = list(run_benchmark(engine, "m", adapter, load_benchmark(preset="study", limit=1), out_dir,
                               threading.Event(), max_new_tokens=8, batch_size=2))  # fmt: skip
    return read_results(steps[-1].results_file)["config"]["runtime"]["engine"]


def test_the_benchmark_tab_runs_on_the_engines_llama_cpp_base(llama_engine, adapter, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the Benchmark tab loaded a second copy of the model")

    monkeypatch.setattr("codegen_lab.models.load_model", refuse)
    monkeypatch.setattr("evaluation.llama_cpp_run.load_llama_cpp", refuse)
    monkeypatch.setattr("evaluation.pipeline.load_llama_cpp", refuse)
    assert benchmark_engine(llama_engine, adapter, tmp_path) == "llama.cpp"


def test_llama_cpp_serves_gguf_bases_only(tiny_model_dir):
    with pytest.raises(ModelLoadError, match="GGUF base"):
        Engine(str(tiny_model_dir), arena_engine="llama.cpp")
    with pytest.raises(ValueError, match="'vllm'"):
        Engine(str(tiny_model_dir), arena_engine="vllm")
    engine = Engine(str(tiny_model_dir), arena_engine="auto")  # auto: no GGUF, so transformers
    assert engine.engine == "transformers" and "has no GGUF file" in engine.describe()


def test_without_llama_cpp_auto_is_transformers_said_once(monkeypatch, tmp_path):
    """llama-cpp-python not importable: is_installed() is False, auto serves transformers and says so in
    one sentence; asking for llama.cpp is one error."""
    monkeypatch.setattr(llamacpp_module, "PACKAGE", "llama_cpp_not_installed_here")
    engine = Engine(EMBEDDED_MODEL, arena_engine="auto")
    assert engine.engine == "transformers" and engine.llama_cpp is None and engine.model is not None
    line = engine.describe()
    assert "llama-cpp-python is not installed" in line and "make llama-cpp" in line and "\n" not in line
    texts = [b.value for b in build_demo(engine).blocks.values() if isinstance(b, gr.Markdown)]
    assert sum((text or "").count(line) for text in texts) == 1  # said once in the page, at the top
    messages = engine.build_messages([], PROMPT, SYSTEM_PROMPT)
    assert list(engine.stream([(BASE_ADAPTER, messages)] * 2, settings(4)))[-1].n_tokens[0] > 0
    assert benchmark_engine(engine, BASE_ADAPTER, tmp_path) == "transformers"  # the tab: the same engine
    with pytest.raises(ModelLoadError, match="make llama-cpp"):
        Engine(EMBEDDED_MODEL, arena_engine="llama.cpp")
