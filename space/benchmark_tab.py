"""The Space's Benchmark tab: evaluate the base model or an adapter on a LiveCodeBench preset, live.

``build_benchmark_tab(engine, list_models=...)`` is called inside a ``gr.Tab`` by ``space/ui.py``. The run
goes through ``evaluation.pipeline.evaluate_models`` in a worker thread on the Arena engine's model and engine
(one copy in memory; on transformers its batches take turns with the Arena's under the engine's lock, on
llama.cpp it decodes in a context of its own beside the panes' contexts), reports every judged problem and
the tokens being generated, stops cleanly on Cancel, and writes its results file
under ``outputs/space-benchmarks/results/``, where the leaderboard finds it on Refresh. A cancelled run
keeps its finished problems; starting the same run again resumes from them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from codegen_lab import BASE_ADAPTER
from evaluation.benchmark import load_benchmark
from evaluation.pipeline import EvalProgress
from space.catalog import outputs_dir
from space.engine import Engine, is_base
from space.threaded_work import END, Report, stream_reports

DEFAULT_MAX_NEW_TOKENS = 1024  # evaluate_models' default, so Space runs compare with CLI runs
# label -> (evaluation.benchmark preset, problem limit)
BENCHMARKS = {
    "study: 41 AtCoder easy problems (LCB v5, from 2024-08-01)": ("study", None),
    "quick: first 5 problems of the study set": ("study", 5),
}


def default_out_dir() -> Path:
    """Inside ``outputs/`` (or ``$CODEGEN_LAB_OUTPUTS``), which the leaderboard scans for results."""
    return outputs_dir() / "space-benchmarks" / "results"


@dataclass
class Step:
    """One step of a benchmark run: what is judged so far and where generation stands."""

    progress: EvalProgress
    finished: bool = False
    cancelling: bool = False
    cancelled: bool = False
    results_file: Path | None = None
    pass_at_1: float | None = None


def run_benchmark(
    engine: Engine,
    model_name: str,
    adapter: str,
    benchmark,
    out_dir: Path,
    stop: threading.Event,
    *,
    max_new_tokens: int = 512,
    batch_size: int = 4,
) -> Iterator[Step]:
    """Evaluate one model (``adapter`` = a spec, or BASE_ADAPTER for the base) on the engine's own model.

    Each batch takes the engine's lock, so the Arena keeps answering between batches and the model is
    in memory once. Setting ``stop`` (or closing this generator) ends the run after the current batch,
    with the finished problems kept for a resume; a ``cancelling`` step comes as soon as the flag is seen.
    Errors (a bad adapter, say) are re-raised here.
    """
    from evaluation.pipeline import EvalConfig

    config = EvalConfig(max_new_tokens=max_new_tokens, batch_size=batch_size, engine=engine.engine)

    def work(report: Report) -> dict[str, Path]:
        return evaluate_on_engine(engine, model_name, adapter, benchmark, out_dir, config, stop, report)

    last = EvalProgress(0, len(benchmark.problems), 0)
    announced = False
    reports = stream_reports(work, stop, name=f"benchmark-{model_name}", poll=0.2)
    with closing(reports):  # closing this generator stops the run after the current batch
        for kind, payload in reports:
            if stop.is_set() and not announced:
                announced = True
                yield Step(last, cancelling=True)
            if kind == "progress":
                last = payload
                yield Step(last, cancelling=announced)
            elif kind == END:
                yield final_step(last, next(iter(payload.values()), None))
                return


def evaluate_on_engine(
    engine: Engine, model_name: str, adapter: str, benchmark, out_dir: Path, config, stop, report: Report
) -> dict[str, Path]:
    """evaluate_models on the engine's own model: its llama.cpp base, or its transformers model with the
    adapter pinned (not evicted by the Arena while the run lasts); progress goes to ``report``."""
    from evaluation.pipeline import LoadedModel, evaluate_models

    def evaluate(adapters: dict[str, str] | None, loaded) -> dict[str, Path]:
        return evaluate_models(
            engine.base,
            adapters,
            benchmark,
            out_dir,
            config,
            on_progress=lambda progress: report("progress", progress),
            should_stop=stop.is_set,
            loaded=loaded,
        )

    if engine.llama_cpp is not None:
        adapters = None if is_base(adapter) else {model_name: adapter}
        return evaluate(adapters, llama_cpp_loaded(engine, model_name, adapter))
    with engine.pinned_adapter(adapter) as attached:
        base_only = attached == BASE_ADAPTER
        loaded = LoadedModel(engine.model, engine.tokenizer, {} if base_only else {model_name: attached},
                             engine.locked_generate)  # fmt: skip
        return evaluate(None if base_only else {model_name: adapter}, loaded)


def final_step(last: EvalProgress, results_file: Path | None) -> Step:
    """The run's last step: its results file's Pass@1, or cancelled (no file: not every problem done)."""
    if results_file is None:
        return Step(last, finished=True, cancelled=True)
    from evaluation.results import read_results

    metrics = read_results(results_file)["metrics"]
    done = EvalProgress(last.total, last.total, metrics["n_solved"])
    return Step(done, finished=True, results_file=results_file, pass_at_1=metrics["pass@1"])


def llama_cpp_loaded(engine: Engine, model_name: str, adapter: str):
    """The engine's llama.cpp base (not a second copy), its tokenizer and stop ids, the adapter's GGUF LoRA."""
    from evaluation.llama_cpp_run import LlamaCppLoaded

    engine.wait_ready()
    loras = {} if is_base(adapter) else {model_name: engine.llama_cpp.lora_of(adapter)}
    return LlamaCppLoaded(engine.llama_cpp.model, engine.tokenizer, loras, engine.eos_ids)


def describe(step: Step, model_name: str) -> str:
    """The status line under the progress bar."""
    p = step.progress
    if step.cancelled:
        return (
            f"Cancelled {model_name} after {p.judged}/{p.total} problems ({p.solved} solved). Finished "
            "problems are kept: run it again to resume."
        )
    if step.cancelling:
        return (
            f"Cancelling {model_name} after the current batch ({p.judged}/{p.total} judged so far)… finished "
            "problems are kept."
        )
    if step.finished:
        return (
            f"Done: {model_name} solved {p.solved}/{p.total} problems, Pass@1 {100 * step.pass_at_1:.1f} %. "
            f"Results: {step.results_file} — press Refresh on the Leaderboard tab to see it there."
        )
    return f"{model_name}: {p.line()}…"


class BenchmarkRunner:
    """The tab's event handlers; one stop flag per browser session, so Cancel stops only your run."""

    def __init__(
        self,
        engine: Engine,
        list_models: Callable[[], dict[str, str]],
        *,
        out_dir: Path | None = None,
        benchmark_source: str | None = None,
        benchmarks: dict[str, tuple[str, int | None]] = BENCHMARKS,
        batch_size: int = 4,
    ):
        self.engine = engine
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
        progress((0, len(benchmark.problems)), desc="loading the adapter", unit="problems")
        yield f"Loading {model_name} and {len(benchmark.problems)} problems…"
        steps = run_benchmark(
            self.engine,
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
                p = step.progress
                progress((p.judged, p.total), desc=f"{p.solved} solved", unit="problems")
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
    engine: Engine,
    *,
    list_models: Callable[[], dict[str, str]] | None = None,
    out_dir: Path | None = None,
    benchmark_source: str | None = None,
) -> BenchmarkRunner:
    """Lay the Benchmark tab out in the current Blocks context.

    ``list_models()`` returns {display name: adapter spec}, BASE_ADAPTER for the base model. Only one
    benchmark runs at a time (Gradio's queue); it shares the engine's model with the Arena.
    """
    list_models = list_models or (lambda: {f"base ({engine.base})": BASE_ADAPTER})
    runner = BenchmarkRunner(engine, list_models, out_dir=out_dir, benchmark_source=benchmark_source)
    gr.Markdown(
        "Evaluate a model on LiveCodeBench problems: generate (greedy), extract the program, judge it in the "
        "sandbox. The result lands in the Leaderboard (press Refresh there). Cancel keeps finished problems; "
        f"running the same model and benchmark again resumes. It runs on {engine.engine}, as the Arena does.",
        elem_id="benchmark-engine",
    )
    model, refresh, benchmark, max_new_tokens = _run_inputs(list(list_models()))
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


def _run_inputs(names: list[str]) -> tuple[gr.Dropdown, gr.Button, gr.Dropdown, gr.Slider]:
    """What a run is asked for: the model (with a button that lists them again), the benchmark, the budget."""
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
    return model, refresh, benchmark, max_new_tokens
