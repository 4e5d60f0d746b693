"""The Space's engine on the tiny model: mixed-adapter batches equal single runs, the adapter cache stays
bounded, load errors are clear and leave the engine working, stop and prompt caps."""

from __future__ import annotations

import threading

import pytest
import torch

from codegen_lab import BASE_ADAPTER
from codegen_lab.models import ModelLoadError
from space import engine as engine_module
from space.engine import Engine, GenerationSettings, cap_prompt
from tests.helpers import build_tiny_adapter, build_tiny_model

GREEDY = GenerationSettings(max_new_tokens=12, temperature=0.0, system_prompt="Be brief.")


def messages(engine: Engine, prompt: str) -> list[dict]:
    return engine.build_messages([], prompt, GREEDY.system_prompt)


def run(engine: Engine, panes, settings=GREEDY, stop=None):
    updates = list(engine.stream(panes, settings, stop))
    return updates, updates[-1]


def test_mixed_batch_equals_each_adapter_alone(engine, tiny_adapters):
    deep, diverse = str(tiny_adapters["deep"]), str(tiny_adapters["diverse"])
    short, long = (
        messages(engine, "Read N"),
        messages(engine, "Read N integers from standard input, print sum"),
    )
    alone = {
        (spec, i): run(engine, [(spec, m)])[1].texts[0]
        for spec in (deep, diverse, BASE_ADAPTER)
        for i, m in enumerate((short, long))
    }
    assert len({alone[(s, 0)] for s in (deep, diverse, BASE_ADAPTER)}) == 3, "adapters must change outputs"

    updates, final = run(engine, [(deep, short), (BASE_ADAPTER, long)])
    assert final.texts == [alone[(deep, 0)], alone[(BASE_ADAPTER, 1)]]
    _, final = run(engine, [(diverse, long), (deep, short)])
    assert final.texts == [alone[(diverse, 1)], alone[(deep, 0)]]

    # both rows stream together: the first token of each arrives in the same step, and each row's text
    # grows over several updates (one step may decode to nothing yet: half a character, a lone space)
    assert final.first_token_at[0] == final.first_token_at[1]
    for row in (0, 1):
        seen = [u.texts[row] for u in updates if not all(u.done)]
        assert len(set(seen)) >= 3, f"row {row} did not grow while streaming: {seen}"
        assert all(later.startswith(earlier) for earlier, later in zip(seen, seen[1:], strict=False))


def test_adapter_cache_is_bounded_and_evicts_least_recent(tiny_model_dir, tiny_adapters, tmp_path):
    engine = Engine(str(tiny_model_dir), max_adapters=2, dtype=torch.float32)
    third = str(build_tiny_adapter(tiny_model_dir, tmp_path / "third", seed=3))
    deep, diverse = str(tiny_adapters["deep"]), str(tiny_adapters["diverse"])
    before = run(engine, [(deep, messages(engine, "Yes"))])[1].texts[0]
    engine.load_adapter(diverse)
    engine.load_adapter(deep)  # deep is now the most recent, diverse the least
    engine.load_adapter(third)
    assert list(engine.adapters) == [deep, third]
    assert set(engine.model.peft_config) == set(engine.adapters.values())
    # an evicted adapter loads again and gives the same answer
    assert (
        run(engine, [(diverse, messages(engine, "Yes")), (deep, messages(engine, "Yes"))])[1].texts[1]
        == before
    )
    assert len(engine.adapters) == 2
    with pytest.raises(ValueError, match="at least 2"):
        Engine(str(tiny_model_dir), max_adapters=1, model=engine.model, tokenizer=engine.tokenizer)


def test_load_errors_are_clear_and_the_engine_keeps_working(engine, tiny_adapters, local_hub, tmp_path):
    (local_hub / "someone" / "adapter" / "main").mkdir(parents=True)
    other_base = build_tiny_model(tmp_path / "other-base", hidden=32)
    foreign = str(build_tiny_adapter(other_base, tmp_path / "foreign", seed=4))
    cases = {
        "nobody/missing@main": "nobody/missing",
        "someone/adapter@step-000999": "revision 'step-000999'",
        foreign: "another base",
        "not a name": "neither a folder nor a Hub id",
    }
    for spec, expected in cases.items():
        with pytest.raises(ModelLoadError, match=expected):
            run(engine, [(spec, messages(engine, "Yes")), (BASE_ADAPTER, messages(engine, "Yes"))])
    deep = str(tiny_adapters["deep"])
    assert run(engine, [(deep, messages(engine, "Yes"))])[1].n_tokens[0] > 0
    assert not engine.lock.locked()
    assert set(engine.model.peft_config) == set(engine.adapters.values())  # nothing half-loaded left


def test_stop_event_ends_generation_early(engine):
    stop = threading.Event()
    settings = GenerationSettings(max_new_tokens=400, temperature=0.0, system_prompt=None)
    final = None
    for final in engine.stream([(BASE_ADAPTER, messages(engine, "Yes"))] * 2, settings, stop):
        if final.n_tokens[0] >= 3:
            stop.set()
    assert all(final.done) and 3 <= final.n_tokens[0] < 50


def test_sampling_runs_and_respects_max_new_tokens(engine):
    torch.manual_seed(0)  # the same draws every run: no chance of an end-of-turn token drawn first
    settings = GenerationSettings(max_new_tokens=7, temperature=0.8, system_prompt=None)
    final = run(engine, [(BASE_ADAPTER, messages(engine, "Yes"))] * 2, settings)[1]
    assert all(final.done) and all(1 <= n <= 7 for n in final.n_tokens), final.n_tokens
    assert final.texts[0] != final.texts[1], "two rows of one prompt differ only if tokens were sampled"


def test_prompt_cap_and_history_trimming(engine, monkeypatch):
    assert cap_prompt("short") == ("short", None)
    monkeypatch.setattr(engine_module, "MAX_PROMPT_CHARS", 10)
    text, message = cap_prompt("x" * 25)
    assert text == "x" * 10 and "25 characters" in message and "first 10" in message

    history = []
    for i in range(6):
        history += [
            {"role": "user", "content": f"question {i} " * 20},
            {"role": "assistant", "content": "ok"},
        ]
    full = engine.build_messages(history, "last", "sys")
    assert len(full) == 1 + 12 + 1
    monkeypatch.setattr(engine_module, "MAX_CONTEXT_TOKENS", 250)
    trimmed = engine.build_messages(history, "last", "sys")
    assert trimmed[0] == {"role": "system", "content": "sys"} and trimmed[-1]["content"] == "last"
    assert 1 + 1 < len(trimmed) < len(full) and trimmed[1]["content"].startswith("question ")
    assert trimmed[-2:] == [history[-1], {"role": "user", "content": "last"}]
