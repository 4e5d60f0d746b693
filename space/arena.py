"""The Arena tab: two panes, each with its own model, one prompt streamed to both at once, and a Judge
button that runs both answers' programs on a benchmark problem's tests in the evaluation sandbox.

Histories live in per-session ``gr.State``; the model is shared through the engine's lock.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import gradio as gr

from codegen_lab.hub import HubError
from codegen_lab.models import ModelLoadError
from codegen_lab.prompts import LCB_SYSTEM, SYSTEM_PROMPT
from evaluation.judge import SandboxUnavailable, sandbox_record
from space import arena_problems
from space.catalog import model_choices, opening_pair
from space.engine import MAX_NEW_TOKENS, Engine, GenerationSettings, cap_prompt

SYSTEM_CHOICES = [
    ("Study's mandated prompt", "study"),
    ("LiveCodeBench's prompt", "lcb"),
    ("None", "none"),
    ("Custom", "custom"),
]
STREAM_EVERY_S = 0.05  # at most ~20 page updates a second per session


def system_prompt_for(choice: str, custom: str) -> str | None:
    if choice == "study":
        return SYSTEM_PROMPT
    if choice == "lcb":
        return LCB_SYSTEM
    if choice == "custom":
        return cap_prompt(custom)[0].strip() or None
    return None


def last_answer(history: list[dict]) -> str:
    return next((m["content"] for m in reversed(history) if m["role"] == "assistant"), "")


class Arena:
    """The arena's event handlers; one instance serves every session (per-session data is in gr.State)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.stops: dict[str, threading.Event] = {}  # session hash -> stop event of its generation

    def send(
        self,
        prompt: str,
        left_spec: str,
        right_spec: str,
        left_history: list[dict],
        right_history: list[dict],
        max_new_tokens: float,
        temperature: float,
        system_choice: str,
        custom_system: str,
        request: gr.Request | None = None,
    ):
        """Stream both panes' answers; yields (left chat, right chat, left state, right state, prompt, notice)."""
        if not prompt.strip():
            gr.Warning("Type a prompt (or pick a benchmark problem) first.")
            yield left_history, right_history, left_history, right_history, prompt, ""
            return
        prompt, cap_message = cap_prompt(prompt)
        notice = f"**Prompt capped:** {cap_message}" if cap_message else ""
        if cap_message:
            gr.Warning(cap_message)
        system = system_prompt_for(system_choice, custom_system)
        settings = GenerationSettings(int(max_new_tokens), float(temperature), system)
        panes = [
            (left_spec, self.engine.build_messages(left_history, prompt, system)),
            (right_spec, self.engine.build_messages(right_history, prompt, system)),
        ]
        stop = threading.Event()
        session = request.session_hash if request is not None else None
        if session:
            self.stops[session] = stop
        user = {"role": "user", "content": prompt}
        views = [
            [*left_history, user, {"role": "assistant", "content": ""}],
            [*right_history, user, {"role": "assistant", "content": ""}],
        ]
        yield [*views[0]], [*views[1]], left_history, right_history, "", notice or self._waiting_line()
        try:
            for _ in self._stream_into(views, panes, settings, stop):
                yield [*views[0]], [*views[1]], left_history, right_history, "", notice or "Generating…"
        except (ModelLoadError, HubError) as err:
            gr.Warning(str(err))
            yield left_history, right_history, left_history, right_history, prompt, f"**Error:** {err}"
            return
        finally:
            if session and self.stops.get(session) is stop:
                del self.stops[session]
        done = "Stopped." if stop.is_set() else ""
        yield views[0], views[1], views[0], views[1], "", notice or done

    def _waiting_line(self) -> str:
        """What the notice says until the first token: the warm-up's status, a queue, or "Generating…"."""
        ready, status = self.engine.status()
        if not ready:
            return status or "Generating…"
        if self.engine.lock.locked():
            return "Waiting for the model (another session is generating)…"
        return "Generating…"

    def _stream_into(
        self, views: list[list[dict]], panes, settings: GenerationSettings, stop
    ) -> Iterator[None]:
        """Each update's texts into the views' last (assistant) turn, yielding at most every STREAM_EVERY_S;
        the final texts are set even when the last tokens came within STREAM_EVERY_S."""
        last_yield, update = 0.0, None
        for update in self.engine.stream(panes, settings, stop):
            if time.monotonic() - last_yield < STREAM_EVERY_S and not all(update.done):
                continue
            last_yield = time.monotonic()
            for view, text in zip(views, update.texts, strict=True):
                view[-1] = {"role": "assistant", "content": text}
            yield
        if update is not None:
            for view, text in zip(views, update.texts, strict=True):
                view[-1] = {"role": "assistant", "content": text}

    def engine_status(self):
        """The status line, and the timer that polls it: it stops once the warm-up is done."""
        ready, line = self.engine.status()
        return line, gr.Timer(active=not ready)

    def stop(self, request: gr.Request | None = None) -> None:
        if request is not None and request.session_hash in self.stops:
            self.stops[request.session_hash].set()

    def preload(self, spec: str) -> str:
        """Attach a newly picked adapter now, so a bad repo/revision/base is reported at once."""
        try:
            self.engine.load_adapter(spec)
        except (ModelLoadError, HubError) as err:
            gr.Warning(str(err))
            return f"**Error:** {err}"
        return ""

    def refresh_models(self, left_spec: str, right_spec: str):
        """The model lists read again (a run's new ``step-*`` branches appear); both picks stay."""
        choices = [(c.label, c.spec) for c in model_choices(self.engine.base)]
        return gr.Dropdown(choices=choices, value=left_spec), gr.Dropdown(choices=choices, value=right_spec)

    @staticmethod
    def fill_problem(question_id: str | None, system_choice: str) -> str:
        if not question_id:
            return gr.skip()
        return arena_problems.problem_prompt(question_id, "lcb" if system_choice == "lcb" else "study")

    @staticmethod
    def judge(question_id: str | None, left_history: list[dict], right_history: list[dict]):
        """Verdict tables for both panes' last answers on the picked problem (sandboxed judge)."""
        if not question_id:
            gr.Warning("Pick a benchmark problem to judge against.")
            return gr.skip(), gr.skip()
        answers = [last_answer(left_history), last_answer(right_history)]
        if not any(answers):
            gr.Warning("Both panes are empty: send the problem to the models first.")
            return gr.skip(), gr.skip()
        try:
            verdicts = arena_problems.judge_answers(question_id, answers)
            isolation = sandbox_record()["isolation"]
        except SandboxUnavailable as err:  # no sandbox here, and the weaker one was not asked for
            gr.Warning(str(err))
            return (f"<div class='verdicts'><b>Not judged:</b> {html.escape(str(err))}</div>",) * 2
        return tuple(
            arena_problems.verdict_html(f"{side} · {question_id}", v if answer else None, isolation)
            for side, v, answer in zip(("Left", "Right"), verdicts, answers, strict=True)
        )

    @staticmethod
    def clear():
        return [], [], [], [], "", "", ""


def _pane(label: str, choices: list[tuple[str, str]], value: str, elem: str):
    with gr.Column():
        model = gr.Dropdown(
            choices,
            value=value,
            label=f"{label} model",
            allow_custom_value=True,
            elem_id=f"{elem}-model",
            info="Pick one, or type a folder or repo_id@revision",
        )
        chat = gr.Chatbot(label=label, height=420, elem_id=f"{elem}-chat", buttons=["copy"])
    return model, chat


@dataclass
class ArenaView:
    """The Arena's components, as its events connect them (pairs are left, right)."""

    status: gr.Markdown
    warming: gr.Timer  # polls the engine's status until the warm-up is done
    models: list[gr.Dropdown]
    chats: list[gr.Chatbot]
    histories: list[gr.State]
    notice: gr.Markdown
    prompt: gr.Textbox
    send: gr.Button
    stop: gr.Button
    clear: gr.Button
    refresh_models: gr.Button
    max_new_tokens: gr.Slider
    temperature: gr.Slider
    system_choice: gr.Radio
    custom_system: gr.Textbox
    problem: gr.Dropdown
    judge: gr.Button
    verdicts: list[gr.HTML]


def build_arena_tab(engine: Engine, timer: gr.Timer | None = None) -> None:
    """The Arena's components and events, inside the caller's ``gr.Tab``; ``timer`` also refreshes the model lists."""
    arena = Arena(engine)
    view = _layout(engine)
    _connect_generation(arena, view)
    _connect_models(arena, view, timer)
    _connect_judge(arena, view)


def _layout(engine: Engine) -> ArenaView:
    """Status, both panes (the study's question: deep left, diverse right), prompt, settings, judge row."""
    catalog = model_choices(engine.base)
    choices = [(c.label, c.spec) for c in catalog]
    deep, diverse = opening_pair(catalog)
    engine.warm_up([deep, diverse])  # both ready before anyone asks (llama.cpp: converted to GGUF LoRAs)
    ready, line = engine.status()
    status = gr.Markdown(line, elem_id="arena-status")
    warming = gr.Timer(1.0, active=not ready)
    with gr.Row(equal_height=False):
        left_model, left_chat = _pane("Left", choices, deep, "left")
        right_model, right_chat = _pane("Right", choices, diverse, "right")
    histories = [gr.State([]), gr.State([])]
    notice = gr.Markdown("", elem_id="arena-notice")
    prompt = gr.Textbox(  # one line that grows: Enter sends (prompt.submit), Shift+Enter is a newline
        label="Prompt (sent to both panes; Enter sends, Shift+Enter for a new line)",
        lines=1,
        max_lines=12,
        elem_id="arena-prompt",
        placeholder="Ask for a program, or pick a benchmark problem below.",
    )
    with gr.Row():
        send = gr.Button("Send to both", variant="primary", elem_id="arena-send")
        stop = gr.Button("Stop", variant="stop", elem_id="arena-stop")
        clear = gr.Button("Clear", elem_id="arena-clear")
        refresh_models = gr.Button("⟳ models", scale=0, elem_id="arena-refresh-models")
    settings = _generation_settings()
    problem, judge, verdicts = _judge_row()
    return ArenaView(
        status, warming, [left_model, right_model], [left_chat, right_chat], histories, notice, prompt,
        send, stop, clear, refresh_models, *settings, problem, judge, verdicts,
    )  # fmt: skip


def _generation_settings() -> tuple[gr.Slider, gr.Slider, gr.Radio, gr.Textbox]:
    with gr.Accordion("Generation settings", open=False):
        with gr.Row():
            max_new_tokens = gr.Slider(
                16, MAX_NEW_TOKENS, value=256, step=16, label="Max new tokens", elem_id="arena-max-new-tokens"
            )
            temperature = gr.Slider(0.0, 1.5, value=0.0, step=0.05, label="Temperature (0 = greedy)")
        system_choice = gr.Radio(SYSTEM_CHOICES, value="study", label="System prompt")
        custom_system = gr.Textbox(label="Custom system prompt", lines=2)
    return max_new_tokens, temperature, system_choice, custom_system


def _judge_row() -> tuple[gr.Dropdown, gr.Button, list[gr.HTML]]:
    with gr.Row(equal_height=True):
        problem = gr.Dropdown(
            arena_problems.problem_choices(),
            value=None,
            label="Benchmark problem (the study's 41)",
            scale=4,
            elem_id="arena-problem",
        )
        judge = gr.Button("Judge both answers", elem_id="arena-judge", scale=1)
    with gr.Row():
        verdicts = [gr.HTML(elem_id="left-verdicts"), gr.HTML(elem_id="right-verdicts")]
    return problem, judge, verdicts


def _connect_generation(arena: Arena, view: ArenaView) -> None:
    """Send (button or Enter) streams into both chats; Stop ends this session's generation; Clear empties."""
    settings = [view.max_new_tokens, view.temperature, view.system_choice, view.custom_system]
    generation = dict(
        fn=arena.send,
        inputs=[view.prompt, *view.models, *view.histories, *settings],
        outputs=[*view.chats, *view.histories, view.prompt, view.notice],
        concurrency_id="model",
        show_progress="hidden",
    )
    view.send.click(**generation, api_name="send")
    view.prompt.submit(**generation, api_name=False)
    view.stop.click(arena.stop, None, None, concurrency_limit=None, api_name=False)
    view.clear.click(
        arena.clear,
        None,
        [*view.chats, *view.histories, view.notice, *view.verdicts],
        concurrency_limit=None,
        api_name=False,
    )


def _connect_models(arena: Arena, view: ArenaView, timer: gr.Timer | None) -> None:
    """A picked model is attached at once; the lists refresh on the button and the timer; the status polls."""
    for model in view.models:
        model.input(arena.preload, model, view.notice, concurrency_id="model", api_name=False)
    for trigger in [view.refresh_models.click] + ([timer.tick] if timer is not None else []):
        trigger(
            arena.refresh_models,
            view.models,
            view.models,
            concurrency_limit=None,
            api_name=False,
            show_progress="hidden",
        )
    view.warming.tick(arena.engine_status, None, [view.status, view.warming], concurrency_limit=None,
                      api_name=False, show_progress="hidden")  # fmt: skip


def _connect_judge(arena: Arena, view: ArenaView) -> None:
    """A picked problem fills the prompt; Judge runs both last answers on its tests."""
    view.problem.select(
        arena.fill_problem,
        [view.problem, view.system_choice],
        view.prompt,
        concurrency_limit=None,
        api_name=False,
    )
    view.judge.click(
        arena.judge,
        [view.problem, *view.histories],
        view.verdicts,
        concurrency_id="judge",
        concurrency_limit=2,
        api_name="judge",
    )
