"""The Benchmark tab: a real tiny evaluation through the tab's handler, progress, cancel and resume."""

from __future__ import annotations

import json
import threading

import gradio as gr
import pytest

from codegen_lab import BASE_ADAPTER
from evaluation.benchmark import load_benchmark
from evaluation.results import partial_path, read_results, results_path
from space.benchmark_tab import BenchmarkRunner, build_benchmark_tab, run_benchmark
from space.results_store import ResultsStore


@pytest.fixture
def no_second_model(monkeypatch):
    """The tab runs on the engine's model: loading another copy of the base fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("the Benchmark tab loaded a second copy of the model")

    monkeypatch.setattr("codegen_lab.models.load_model", refuse)


def test_a_tab_run_reports_progress_and_lands_in_the_leaderboard(
    engine, tiny_adapters, tmp_path, no_second_model
):
    out_dir = tmp_path / "outputs" / "space-benchmarks" / "results"
    models = {"base (tiny)": BASE_ADAPTER, "deep-tiny": str(tiny_adapters["deep"])}
    runner = BenchmarkRunner(
        engine,
        lambda: models,
        out_dir=out_dir,
        benchmarks={"two": ("study", 2)},
    )
    bars = []
    statuses = list(
        runner.start(
            "deep-tiny",
            "two",
            24,
            gr.Request(session_hash="s1"),
            progress=lambda value, desc=None, unit=None: bars.append((value, desc)),
        )
    )
    assert bars[0] == ((0, 2), "loading the adapter")
    # evaluate_models reports the start, every decoding step and each judged problem; then the end
    judged = [value for value, _ in bars[1:]]
    assert [v for k, v in enumerate(judged) if k == 0 or judged[k - 1] != v] == [(0, 2), (1, 2), (2, 2)]
    tokens = [line for line in statuses if "tokens" in line]
    assert tokens and "batch 1/" in tokens[0] and "ETA" in tokens[-1]  # progress within a batch
    assert str(tiny_adapters["deep"]) in engine.adapters and not engine.pinned[str(tiny_adapters["deep"])]
    assert statuses[0].startswith("Loading deep-tiny and 2 problems")
    assert statuses[-1].startswith("Done: deep-tiny solved 0/2 problems, Pass@1 0.0 %")
    results = read_results(results_path(out_dir, "deep-tiny"))
    assert results["model"]["adapter"] == str(tiny_adapters["deep"])
    assert results["benchmark"]["test_scope"] == "public-only"  # the shared file has no hidden tests
    assert [p["question_id"] for p in results["problems"]] == ["abc365_a", "abc365_b"]
    assert runner.stops == {}

    store = ResultsStore([], outputs_dir=tmp_path / "outputs")
    (row,) = store.rows()
    assert (row.key, row.source, row.n_problems, row.test_scope) == ("deep-tiny", "local", 2, "public-only")


class CancelDuringFirstBatch(threading.Event):
    """Cancel pressed while the first batch generates: generation asks ``should_stop`` before each batch,
    so the first answer is False and every later one True (what a user's Cancel does, but on cue)."""

    def __init__(self):
        super().__init__()
        self.asked = 0

    def is_set(self) -> bool:
        if threading.current_thread() is threading.main_thread():  # the tab's own loop, not generation
            return super().is_set()
        self.asked += 1
        return super().is_set() or self.asked > 1


def test_cancel_keeps_a_partial_that_the_next_run_resumes(engine, tiny_model_dir, tmp_path, no_second_model):
    benchmark = load_benchmark(preset="study", limit=2)
    out_dir = tmp_path / "results"
    partial = partial_path(results_path(out_dir, tiny_model_dir.name))  # the base is named after its folder

    def run(stop: threading.Event) -> list:
        return list(
            run_benchmark(
                engine,
                "tiny-base",
                BASE_ADAPTER,
                benchmark,
                out_dir,
                stop,
                batch_size=1,
                max_new_tokens=16,
            )
        )

    steps = run(CancelDuringFirstBatch())
    assert steps[-1].cancelled and steps[-1].progress.judged == 1
    assert not results_path(out_dir, tiny_model_dir.name).exists()
    records = [json.loads(line) for line in partial.read_text().splitlines()[1:]]
    assert len(records) == 1 and records[0]["question_id"] in ("abc365_a", "abc365_b")

    resumed = run(threading.Event())
    assert (resumed[0].progress.judged, resumed[0].progress.total) == (1, 2)  # not generated again
    assert resumed[-1].finished and not resumed[-1].cancelled
    assert len(read_results(resumed[-1].results_file)["problems"]) == 2
    assert not partial.exists()


def test_cancel_without_a_run_and_unknown_inputs(engine, tmp_path, capsys):
    runner = BenchmarkRunner(engine, lambda: {}, out_dir=tmp_path)
    runner.cancel(gr.Request(session_hash="nobody"))
    assert "Nothing is running." in capsys.readouterr().out  # gr.Info prints outside a request
    for model, label in (("", "quick"), ("x", "no such benchmark")):
        try:
            next(runner.start(model, label, 16, gr.Request(session_hash="s"), progress=lambda *a, **k: None))
        except gr.Error as err:
            assert "Pick a model" in str(err) or "no such benchmark" in str(err)
        else:
            raise AssertionError(f"{model!r}/{label!r} was accepted")


def test_tab_builds(engine, tmp_path):
    with gr.Blocks() as demo:
        runner = build_benchmark_tab(engine, out_dir=tmp_path)
    assert runner.engine is engine
    labels = {c["props"].get("label") for c in demo.get_config_file()["components"]}
    assert {"Model", "Benchmark", "Status"} <= labels


def test_cancel_button_stops_only_its_session(engine, tmp_path, capsys):
    runner = BenchmarkRunner(
        engine,
        lambda: {"base": BASE_ADAPTER},
        out_dir=tmp_path,
        benchmarks={"two": ("study", 2)},
        batch_size=1,
    )
    run = runner.start("base", "two", 16, gr.Request(session_hash="mine"), progress=lambda *a, **k: None)
    assert next(run).startswith("Loading")
    runner.cancel(gr.Request(session_hash="someone-else"))
    assert "Nothing is running." in capsys.readouterr().out
    assert not runner.stops["mine"].is_set()
    assert next(run).endswith("0/2 problems judged, 0 solved…")  # evaluate_models' first report
    runner.cancel(gr.Request(session_hash="mine"))
    rest = list(run)
    # Written by the run itself: every line until the end says it is cancelling.
    assert rest[0].startswith("Cancelling base after the current batch (0/2 judged so far)")
    assert all(line.startswith("Cancelling") for line in rest[:-1])
    assert rest[-1].startswith("Cancelled") and "run it again to resume" in rest[-1]
    assert runner.stops == {}
