"""The Space's Benchmark tab: evaluate the base model or an adapter on a LiveCodeBench preset, live.

``build_benchmark_tab(engine, list_models=...)`` is called inside a ``gr.Tab`` by ``space/ui.py``. The run
goes through ``evaluation.api.evaluate_models`` in a worker thread (its own copy of the base, so the arena
keeps answering), reports every judged problem, stops cleanly on Cancel, and writes its results file
under ``outputs/space-benchmarks/results/``, where the leaderboard finds it on Refresh. A cancelled run
keeps its finished problems; starting the same run again resumes from them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from codegen_lab import BASE_ADAPTER
from evaluation.benchmark import load_benchmark
from space.background import END, Report, stream_reports
from space.results_store import OUTPUTS_ENV, REPO_ROOT

DEFAULT_MAX_NEW_TOKENS = 1024  # evaluate_models' default, so Space runs compare with CLI runs
# label -> (evaluation.benchmark preset, problem limit)
BENCHMARKS = {
    "study: 41 AtCoder easy problems (LCB v5, from 2024-08-01)": ("study", None),
    "quick: first 5 problems of the study set": ("study", 5),
}


def default_out_dir() -> Path:
    """Inside ``outputs/`` (or ``$CODEGEN_LAB_OUTPUTS``), which the leaderboard scans for results."""
    return Path(os.environ.get(OUTPUTS_ENV, REPO_ROOT / "outputs")) / "space-benchmarks" / "results"


@dataclass
class Progress:
    """One step of a benchmark run: ``done`` of ``total`` problems judged, ``n_passed`` solved."""

    done: int
    total: int
    n_passed: int
    finished: bool = False
    cancelling: bool = False
    cancelled: bool = False
    results_file: Path | None = None
    pass_at_1: float | None = None


def run_benchmark(
    base: str,
    model_name: str,
    adapter: str,
    benchmark,
    out_dir: Path,
    stop: threading.Event,
    *,
    max_new_tokens: int = 512,
    batch_size: int = 4,
) -> Iterator[Progress]:
    """Evaluate one model (``adapter`` = a spec, or BASE_ADAPTER for the base) and yield its progress.

    The evaluation runs in a worker thread; setting ``stop`` (or closing this generator) ends it after
    the current batch, with the finished problems kept for a resume, and a ``cancelling`` step is
    yielded as soon as the flag is seen. Errors are re-raised here.
    """
    from evaluation.api import evaluate_models

    adapters = None if adapter in ("", BASE_ADAPTER) else {model_name: adapter}

    def work(report: Report) -> dict[str, Path]:
        return evaluate_models(
            base,
            adapters,
            benchmark,
            out_dir,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            on_progress=lambda done, total, passed: report("progress", (done, total, passed)),
            should_stop=stop.is_set,
        )

    last = Progress(0, len(benchmark.problems), 0)
    announced = False
    reports = stream_reports(work, stop, name=f"benchmark-{model_name}", poll=0.2)
    with closing(reports):  # closing this generator stops the run after the current batch
        for kind, payload in reports:
            if stop.is_set() and not announced:
                announced = True
                yield Progress(last.done, last.total, last.n_passed, cancelling=True)
            if kind == "progress":
                last = Progress(*payload, cancelling=announced)
                yield last
            elif kind == END:
                path = next(iter(payload.values()), None)
                if path is None:
                    yield Progress(last.done, last.total, last.n_passed, finished=True, cancelled=True)
                    return
                from evaluation.results import read_results

                pass_at_1 = read_results(path)["metrics"]["pass@1"]
                yield Progress(
                    last.total,
                    last.total,
                    last.n_passed,
                    finished=True,
                    results_file=path,
                    pass_at_1=pass_at_1,
                )


def describe(progress: Progress, model_name: str) -> str:
    """The status line under the progress bar."""
    if progress.cancelled:
        return (
            f"Cancelled {model_name} after {progress.done}/{progress.total} problems "
            f"({progress.n_passed} solved). Finished problems are kept: run it again to resume."
        )
    if progress.cancelling:
        return (
            f"Cancelling {model_name} after the current batch ({progress.done}/{progress.total} judged so "
            "far)… finished problems are kept."
        )
    if progress.finished:
        return (
            f"Done: {model_name} solved {progress.n_passed}/{progress.total} problems, "
            f"Pass@1 {100 * progress.pass_at_1:.1f} %. Results: {progress.results_file} — "
            "press Refresh on the Leaderboard tab to see it there."
        )
    return (
        f"{model_name}: {progress.done}/{progress.total} problems judged, {progress.n_passed} solved so far…"
    )


class BenchmarkRunner:
    """The tab's event handlers; one stop flag per browser session, so Cancel stops only your run."""

    def __init__(
        self,
        base: str,
        list_models: Callable[[], dict[str, str]],
        *,
        out_dir: Path | None = None,
        benchmark_source: str | None = None,
        benchmarks: dict[str, tuple[str, int | None]] = BENCHMARKS,
        batch_size: int = 4,
    ):
        self.base = base
        self.list_models = list_models
        self.out_dir = out_dir or default_out_dir()
        self.benchmark_source = benchmark_source
        self.benchmarks = benchmarks
        self.batch_size = batch_size
        self.stops: dict[str, threading.Event] = {}

    def start(
        self,
        model_name: str,
        benchmark_label: str,
        max_new_tokens: int,
        request: gr.Request,
        progress=gr.Progress(),
    ):
        """Yield status lines while the run goes; ``progress`` drives the page's progress bar."""
        if not model_name:
            raise gr.Error("Pick a model to evaluate.")
        if benchmark_label not in self.benchmarks:
            raise gr.Error(f"Unknown benchmark {benchmark_label!r}; pick one of the list.")
        # A typed-in spec (checkpoint folder or repo@revision) is its own name.
        adapter = self.list_models().get(model_name, model_name)
        preset, limit = self.benchmarks[benchmark_label]
        try:
            benchmark = load_benchmark(self.benchmark_source, preset, limit=limit)
        except ValueError as err:
            raise gr.Error(str(err)) from err
        stop = self.stops[request.session_hash] = threading.Event()
        progress((0, len(benchmark.problems)), desc="loading the model", unit="problems")
        yield f"Loading {model_name} and {len(benchmark.problems)} problems…"
        steps = run_benchmark(
            self.base,
            model_name,
            adapter,
            benchmark,
            self.out_dir,
            stop,
            max_new_tokens=int(max_new_tokens),
            batch_size=self.batch_size,
        )
        try:
            for step in steps:
                progress((step.done, step.total), desc=f"{step.n_passed} solved", unit="problems")
                yield describe(step, model_name)
        except Exception as err:
            raise gr.Error(f"The benchmark of {model_name} failed: {err}") from err
        finally:
            steps.close()
            self.stops.pop(request.session_hash, None)

    def cancel(self, request: gr.Request) -> None:
        """Set this session's stop flag; the run's own stream then says "Cancelling…" and "Cancelled…".

        The status line has one writer, the run, so a Cancel reply that arrives late can never overwrite
        the final line; with nothing running the answer is a toast.
        """
        stop = self.stops.get(request.session_hash)
        if stop is None:
            gr.Info("Nothing is running.")
            return
        stop.set()


def build_benchmark_tab(
    engine=None,
    *,
    base: str | None = None,
    list_models: Callable[[], dict[str, str]] | None = None,
    out_dir: Path | None = None,
    benchmark_source: str | None = None,
) -> BenchmarkRunner:
    """Lay the Benchmark tab out in the current Blocks context.

    ``list_models()`` returns {display name: adapter spec}, BASE_ADAPTER for the base model; the base is
    ``engine.base`` unless ``base`` is given. Only one benchmark runs at a time (Gradio's queue).
    """
    base = base or engine.base
    list_models = list_models or (lambda: {f"base ({base})": BASE_ADAPTER})
    runner = BenchmarkRunner(base, list_models, out_dir=out_dir, benchmark_source=benchmark_source)
    names = list(list_models())
    gr.Markdown(
        "Evaluate a model on LiveCodeBench problems: generate (greedy), extract the program, judge it in the "
        "sandbox. The result lands in the Leaderboard (press Refresh there). Cancel keeps finished problems; "
        "running the same model and benchmark again resumes."
    )
    with gr.Row():
        model = gr.Dropdown(
            names,
            value=names[0] if names else None,
            label="Model",
            allow_custom_value=True,
            scale=3,
            elem_id="benchmark-model",
        )
        refresh = gr.Button("⟳ models", scale=0)
        benchmark = gr.Dropdown(
            list(BENCHMARKS),
            value=list(BENCHMARKS)[1],
            label="Benchmark",
            scale=3,
            elem_id="benchmark-preset",
        )
    max_new_tokens = gr.Slider(
        32,
        2048,
        value=DEFAULT_MAX_NEW_TOKENS,
        step=32,
        label="Max new tokens (recorded in the results)",
        elem_id="benchmark-max-new-tokens",
    )
    with gr.Row():
        run_button = gr.Button("Run benchmark", variant="primary", elem_id="benchmark-run")
        cancel_button = gr.Button("Cancel", variant="stop", elem_id="benchmark-cancel")
    status = gr.Textbox(label="Status", interactive=False, elem_id="benchmark-status")

    refresh.click(lambda: gr.Dropdown(choices=list(list_models())), None, model)
    run_button.click(
        runner.start,
        [model, benchmark, max_new_tokens],
        status,
        concurrency_limit=1,
        concurrency_id="benchmark",
    )
    cancel_button.click(runner.cancel, None, None, concurrency_limit=None)
    return runner
