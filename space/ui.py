"""The Space's page: one engine (base model loaded once) shared by the Arena and Benchmark tabs, plus the
Leaderboard, Study and Downloads tabs. ``app.py`` only builds and launches it.
"""

from __future__ import annotations

import os

import gradio as gr

from codegen_lab import EMBEDDED_MODEL
from space.arena import build_arena_tab
from space.benchmark_tab import build_benchmark_tab
from space.catalog import model_choices
from space.downloads import build_downloads_tab
from space.engine import Engine
from space.leaderboard import build_leaderboard_tab
from space.study import build_study_tab

CSS = """
.verdicts table { width: 100%; font-size: 0.9em; }
.verdicts tr.ac td:nth-child(2) { color: #15803d; font-weight: 600; }
.verdicts tr.bad td:nth-child(2) { color: #b91c1c; font-weight: 600; }
.verdicts tr.skip td { color: #9ca3af; }
.verdicts .pass { color: #15803d; font-weight: 600; }
.verdicts .fail { color: #b91c1c; font-weight: 600; }
"""


APP_BASE_MODEL = EMBEDDED_MODEL  # what `make app` serves when BASE_MODEL is not set
REFRESH_ENV = "CODEGEN_LAB_REFRESH_S"  # seconds between refreshes of the leaderboard and the model lists


def refresh_seconds() -> float | None:
    """``CODEGEN_LAB_REFRESH_S``: watch runs land (new ``step-*`` branches, results) without a restart; unset: off."""
    value = os.environ.get(REFRESH_ENV, "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise ValueError(f"{REFRESH_ENV} should be a number of seconds above 0; got {value!r}.")
    return seconds


def base_model_from_env() -> str:
    """``BASE_MODEL``, else the embedded default; where its package is not installed (a Space, which
    installs requirements.txt only) the same model from the Hub."""
    from codegen_lab.embedded import is_installed, lookup

    if os.environ.get("BASE_MODEL"):
        return os.environ["BASE_MODEL"]
    return APP_BASE_MODEL if is_installed(APP_BASE_MODEL) else lookup(APP_BASE_MODEL).hub_id


def engine_from_env() -> Engine:
    """``BASE_MODEL`` loaded once on ``ARENA_ENGINE`` (auto, llama.cpp or transformers; default auto:
    llama.cpp on a CPU where it is installed and the base has a GGUF, as ``evaluation run --engine``)."""
    engine = Engine(base_model_from_env(), arena_engine=os.environ.get("ARENA_ENGINE", "auto"))
    print(engine.describe(), flush=True)
    return engine


def build_demo(engine: Engine | None = None) -> gr.Blocks:
    """The whole Space; loads ``BASE_MODEL`` (default: the embedded SmolLM2) unless an engine is given."""
    engine = engine or engine_from_env()
    seconds = refresh_seconds()
    with gr.Blocks(title="codegen-lora-lab") as demo:
        timer = gr.Timer(seconds) if seconds else None
        gr.Markdown(
            f"# codegen-lora-lab\nLoRA code models side by side, judged on LiveCodeBench. Base model: "
            f"`{engine.base}`. {engine.describe()}",
            elem_id="header",
        )
        with gr.Tabs():
            with gr.Tab("Arena", id="arena"):
                build_arena_tab(engine, timer)
            with gr.Tab("Benchmark", id="benchmark"):
                build_benchmark_tab(
                    engine, list_models=lambda: {c.label: c.spec for c in model_choices(engine.base)}
                )
            with gr.Tab("Leaderboard", id="leaderboard"):
                build_leaderboard_tab(timer=timer)
            with gr.Tab("Study", id="study"):
                build_study_tab()
            with gr.Tab("Downloads", id="downloads"):
                build_downloads_tab(engine.base)
    return demo
