"""The arena's and downloads' functions on the tiny model, and the launched app under 8 sessions at once."""

from __future__ import annotations

import os
import threading
import urllib.request
import zipfile

import pytest

from codegen_lab import BASE_ADAPTER
from space import engine as engine_module
from space.arena import Arena, last_answer
from space.arena_problems import load_problems
from space.catalog import model_choices, opening_pair
from space.downloads import download_command, peft_snippet, zip_adapter
from space.engine import Engine

LEAP_YEAR_OK = (
    "```python\ny = int(input())\nprint(366 if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0) else 365)\n```"
)
LEAP_YEAR_WRONG = "Here you go:\n```python\ny = int(input())\nprint(366 if y % 4 == 0 else 365)\n```"


@pytest.fixture(scope="module")
def arena(tiny_model_dir):
    return Arena(Engine(str(tiny_model_dir)))


def message_text(content) -> str:
    """A chat message's text; Gradio 6 hands content back as [{"type": "text", "text": ...}]."""
    if isinstance(content, str):
        return content
    return "".join(part["text"] for part in content if part.get("type") == "text")


def send(arena: Arena, prompt: str, left: str, right: str, left_history=(), right_history=(), max_new=10):
    return list(
        arena.send(prompt, left, right, list(left_history), list(right_history), max_new, 0.0, "study", "")
    )


def test_send_streams_both_panes_and_keeps_separate_histories(arena, tiny_adapters, monkeypatch):
    monkeypatch.setattr("space.arena.STREAM_EVERY_S", 0.0)  # the tiny model outruns the page throttle
    deep, diverse = str(tiny_adapters["deep"]), str(tiny_adapters["diverse"])
    steps = send(arena, "Read N integers", deep, diverse)
    left_chat, right_chat, left_state, right_state, prompt, notice = steps[-1]
    assert prompt == "" and notice == ""
    assert [m["role"] for m in left_state] == ["user", "assistant"] == [m["role"] for m in right_state]
    assert left_state[0]["content"] == "Read N integers" and left_chat == left_state
    assert left_state[1]["content"] != right_state[1]["content"]  # two adapters, two answers
    partial = [(s[0][-1]["content"], s[1][-1]["content"]) for s in steps[1:-1]]
    assert any(a and b and (a, b) != partial[-1] for a, b in partial), "both panes must stream"

    steps = send(arena, "Yes", deep, diverse, left_state, right_state)
    left_state2, right_state2 = steps[-1][2], steps[-1][3]
    assert left_state2[:2] == left_state and right_state2[:2] == right_state and len(left_state2) == 4


def test_prompt_cap_and_empty_prompt_show_a_message(arena, monkeypatch):
    monkeypatch.setattr(engine_module, "MAX_PROMPT_CHARS", 20)
    final = send(arena, "x" * 50, BASE_ADAPTER, BASE_ADAPTER)[-1]
    assert "Prompt capped" in final[5] and "50 characters" in final[5]
    assert final[2][0]["content"] == "x" * 20
    empty = send(arena, "   ", BASE_ADAPTER, BASE_ADAPTER)
    assert len(empty) == 1 and empty[0][2] == []


def test_load_errors_show_in_the_notice_and_the_arena_keeps_working(arena, local_hub, tiny_adapters):
    history = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    final = send(arena, "Yes", "nobody/missing@step-000001", BASE_ADAPTER, history, history)[-1]
    assert final[5].startswith("**Error:**") and "nobody/missing" in final[5]
    assert final[2] == history and final[4] == "Yes"  # history unchanged, prompt given back
    assert arena.preload("nobody/missing@main").startswith("**Error:**")
    assert arena.preload(str(tiny_adapters["deep"])) == ""
    assert send(arena, "Yes", str(tiny_adapters["deep"]), BASE_ADAPTER)[-1][5] == ""


def test_stop_button_ends_only_its_own_sessions_generation(arena):
    import gradio as gr

    mine, other = gr.Request(session_hash="mine"), gr.Request(session_hash="other")
    args = ("Yes", BASE_ADAPTER, BASE_ADAPTER, [], [], 400, 0.0, "none", "")
    running = arena.send(*args, request=mine)
    next(running)
    next(running)
    assert "mine" in arena.stops
    arena.stop(other)  # another session's Stop changes nothing here
    assert not arena.stops["mine"].is_set()
    arena.stop(mine)
    *_, final = running
    assert final[5] == "Stopped." and "mine" not in arena.stops
    assert len(arena.engine.tokenizer(final[2][1]["content"])["input_ids"]) < 100


def test_judge_runs_both_answers_in_the_sandbox_side_by_side(arena):
    left = [{"role": "user", "content": "q"}, {"role": "assistant", "content": LEAP_YEAR_OK}]
    right = [{"role": "user", "content": "q"}, {"role": "assistant", "content": LEAP_YEAR_WRONG}]
    n_tests = len(load_problems()["abc365_a"].tests("full"))
    left_html, right_html = arena.judge("abc365_a", left, right)
    assert f"PASSED {n_tests}/{n_tests}" in left_html and left_html.count("<td>AC</td>") == n_tests
    assert "FAILED (WA)" in right_html and "<td>WA</td>" in right_html and "extraction: fenced" in right_html
    isolation = "bwrap-root" if os.geteuid() == 0 else "bwrap-userns"
    assert (
        f"sandbox: {isolation}" in left_html and f"sandbox: {isolation}" in right_html
    )  # the panel says which
    no_code = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "I cannot help."}]
    left_html, right_html = arena.judge("abc365_a", no_code, [])
    assert "FAILED" in left_html or "no program" in left_html
    assert "no answer to judge yet" in right_html


def test_problem_picker_and_helpers(arena):
    statement = load_problems()["abc365_a"].question_content
    assert arena.fill_problem("abc365_a", "study") == statement
    lcb = arena.fill_problem("abc365_a", "lcb")
    assert statement in lcb and "```python" in lcb
    assert len(load_problems()) == 41
    assert last_answer([{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}]) == "a"
    assert arena.clear()[:4] == ([], [], [], [])


def test_catalog_and_downloads(tiny_model_dir, tiny_adapters, tmp_path, monkeypatch, local_hub):
    run = tmp_path / "outputs" / "deep-run"
    for step in (20, 10):
        (run / f"checkpoint-step-{step}-epoch-1").mkdir(parents=True)
        for f in tiny_adapters["deep"].iterdir():
            (run / f"checkpoint-step-{step}-epoch-1" / f.name).write_bytes(f.read_bytes())
    monkeypatch.setenv("CODEGEN_LAB_OUTPUTS", str(tmp_path / "outputs"))
    # nothing fictitious, and nothing that cannot be attached (the demo adapters are SmolLM2's)
    assert [c.source for c in model_choices(str(tiny_model_dir))] == ["base", "local", "local"]
    assert {c.source for c in model_choices("embedded:smollm2")} == {"base", "demo"}
    config = tmp_path / "models.yaml"
    config.write_text(
        "models:\n  - {label: my diverse run, repo: me/diverse-run, revision: step-000300, arm: diverse}\n"
        "  - {repo: me/not-pushed-yet, arm: deep}\n"
    )
    monkeypatch.setenv("CODEGEN_LAB_MODELS", str(config))
    choices = model_choices(str(tiny_model_dir))
    assert choices[0].spec == BASE_ADAPTER
    local = [c for c in choices if c.source == "local"]
    assert [c.label for c in local] == [
        "local: deep-run/checkpoint-step-10-epoch-1",
        "local: deep-run/checkpoint-step-20-epoch-1",
    ]
    assert local[0].arm == "deep"
    hub = [c for c in choices if c.source == "hub"]
    assert [(c.label, c.spec, c.arm) for c in hub] == [
        ("hub: my diverse run", "me/diverse-run@step-000300", "diverse"),
        ("hub: me/not-pushed-yet@main", "me/not-pushed-yet@main", "deep"),
    ]
    # the Arena opens on the question: a deep model left, a diverse one right (configured Hub models first)
    assert opening_pair(choices) == ("me/not-pushed-yet@main", "me/diverse-run@step-000300")
    assert opening_pair(choices[:-1]) == (local[0].spec, "me/diverse-run@step-000300")
    assert opening_pair(choices[:1]) == (BASE_ADAPTER, BASE_ADAPTER)

    assert "not on the Hub" in download_command(local[0])
    assert download_command(hub[0]) == (
        f"hf download {hub[0].repo} --revision {hub[0].revision} --local-dir {hub[0].repo.split('/')[1]}"
    )
    snippet = peft_snippet(hub[0], "tiny")
    assert (
        f'AutoPeftModelForCausalLM.from_pretrained("{hub[0].repo}", revision="{hub[0].revision}")' in snippet
    )
    assert 'AutoTokenizer.from_pretrained("tiny")' in snippet
    compile(snippet, "snippet", "exec")
    # an embedded base is named by its own Hub id: Qwen's adapters never get a SmolLM2 snippet
    qwen = "embedded:qwen2.5-coder-1.5b"
    demo = {c.label: c for c in model_choices(qwen) if c.source == "demo"}
    assert set(demo) == {"demo: deep-qwen-demo", "demo: diverse-qwen-demo"}
    snippet = peft_snippet(demo["demo: deep-qwen-demo"], qwen)
    assert f'AutoPeftModelForCausalLM.from_pretrained("{demo["demo: deep-qwen-demo"].path}")' in snippet
    assert 'AutoTokenizer.from_pretrained("Qwen/Qwen2.5-Coder-1.5B-Instruct")' in snippet
    assert "Qwen/Qwen2.5-Coder-1.5B-Instruct" in peft_snippet(hub[0], qwen)  # base unknown: the engine's
    assert "HuggingFaceTB/SmolLM2-135M-Instruct" in peft_snippet(hub[0], "embedded:smollm2")

    archive = zip_adapter(local[0])
    with zipfile.ZipFile(archive) as zf:
        assert {"adapter_config.json", "adapter_model.safetensors"} <= set(zf.namelist())
    # a Hub entry is zipped from its downloaded revision; a missing one is a HubError
    target = local_hub / hub[0].repo / hub[0].revision
    target.mkdir(parents=True)
    (target / "adapter_config.json").write_text("{}")
    with zipfile.ZipFile(zip_adapter(hub[0])) as zf:
        assert zf.namelist() == ["adapter_config.json"]
    from codegen_lab.hub import HubError

    with pytest.raises(HubError):
        zip_adapter(hub[1])


def test_eight_sessions_at_once_through_the_real_queue(app_server, tiny_model_dir):
    """8 clients send two prompts each through the launched app; no history is mixed up, no secret shows."""
    from gradio_client import Client

    secret = "hf_SECRETsecretSECRET123"
    url = app_server({"BASE_MODEL": str(tiny_model_dir), "HF_TOKEN": secret, "OMP_NUM_THREADS": "1"})
    page = urllib.request.urlopen(url).read().decode()
    config = urllib.request.urlopen(url + "config").read().decode()
    assert "tiny-qwen2" in config and secret not in page and secret not in config

    results, errors = {}, []

    def session(i: int) -> None:
        try:
            client = Client(url, verbose=False)
            for turn in range(2):
                out = client.predict(
                    f"session {i} turn {turn}", BASE_ADAPTER, BASE_ADAPTER, 16, 0.0, "study", "",
                    api_name="/send",
                )  # fmt: skip
            results[i] = out
        except Exception as err:  # collected and reported below
            errors.append(f"session {i}: {err!r}")

    threads = [threading.Thread(target=session, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    for i, (left_chat, right_chat, *_rest) in results.items():
        for chat in (left_chat, right_chat):
            users = [message_text(m["content"]) for m in chat if m["role"] == "user"]
            assert len(chat) == 4 and all(f"session {i} turn" in u for u in users), chat
            assert users[0].endswith("turn 0") and users[1].endswith("turn 1")


def test_a_bad_base_model_stops_the_app_with_one_sentence(tmp_path):
    import subprocess
    import sys

    from codegen_lab.paths import REPO_ROOT

    env = {**os.environ, "BASE_MODEL": "nobody/no-such-model", "CODEGEN_LAB_HUB": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "app.py"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert (
        done.stderr.strip().splitlines()[-1].startswith("error: ") and "nobody/no-such-model" in done.stderr
    )
