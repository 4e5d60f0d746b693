"""The Leaderboard tab's functions: plots, the paired comparison in words, the tab's layout."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pytest

from space.leaderboard import (
    MAX_HEATMAP_COLUMNS,
    build_leaderboard_tab,
    comparison_markdown,
    default_pair,
    heatmap_rows,
    plot_heatmap,
    plot_loss,
    plot_step_series,
    status_markdown,
)
from space.results_store import ResultsStore, filter_rows
from tests.helpers import LCB_REFERENCE, QIDS, sample, write_results


def _texts(fig) -> str:
    return " ".join(t.get_text() for ax in fig.axes for t in ax.texts)


def test_step_plot_has_one_line_per_run(study):
    fig = plot_step_series(study.rows())
    (ax,) = fig.axes
    lines = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    assert lines == {"deep-run (full)": [20.0, 40.0, 30.0], "diverse-run (full)": [30.0, 50.0, 60.0]}
    assert "No checkpoints" in _texts(plot_step_series(filter_rows(study.rows(), ["base"])))


def test_heatmap_is_problems_by_checkpoints_in_study_order(study):
    rows = filter_rows(study.rows(), ["deep", "diverse"])
    chosen = heatmap_rows(rows)
    assert [r.key for r in chosen] == [
        f"{run}@step-{s:06d}" for run in ("deep-run", "diverse-run") for s in (100, 200, 300)
    ]
    fig = plot_heatmap(rows)
    image = fig.axes[0].get_images()[0].get_array()
    assert image.shape == (10, 6)
    assert image.sum() == 2 + 4 + 3 + 3 + 5 + 6
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == sorted(QIDS)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()][:2] == ["deep-run @100", "deep-run @200"]
    assert "No per-problem" in _texts(plot_heatmap([]))


def test_heatmap_marks_unjudged_cells_and_caps_columns(tmp_path):
    write_results(tmp_path, "short-run@step-000100", {QIDS[0]: sample(True)}, run="short-run", step=100)
    store = ResultsStore([tmp_path], reference=LCB_REFERENCE)
    fig = plot_heatmap(store.rows())
    image = fig.axes[0].get_images()[0].get_array()
    assert image.shape[0] == 41  # the reference's problems; the short run has only one of them
    column = [r.key for r in heatmap_rows(store.rows())].index("short-run@step-000100")
    assert np.ma.count_masked(image[:, column]) == 40
    many = [row for _ in range(3) for row in store.rows()]
    assert len(heatmap_rows(many)) == MAX_HEATMAP_COLUMNS


def test_loss_plot(study):
    fig = plot_loss(study.loss_history("diverse-run"), "diverse-run")
    labels = sorted(line.get_label() for line in fig.axes[0].get_lines())
    assert labels == ["train", "validation"]
    assert "No loss history" in _texts(plot_loss({}, "x"))


def test_comparison_in_words(study):
    deep, diverse = default_pair(study.rows())
    assert (deep, diverse) == ("deep-run@step-000200", "diverse-run@step-000300")
    text = comparison_markdown(study.compare(deep, diverse))
    assert "**A** = `deep-run@step-000200` · **B** = `diverse-run@step-000300` · 10 shared problems" in text
    assert "No significant difference at n=10: deep-run@step-000200 solves 4/10" in text
    assert "0 problems only deep-run@step-000200 solves, 2 only diverse-run@step-000300" in text
    assert "exact McNemar p = 0.500" in text and "⚠️" not in text
    mixed = comparison_markdown(study.compare("base-model", "Claude-3-Haiku"))
    assert "paired bootstrap p = " in mixed and "different test scopes" in mixed


def test_status_names_unreadable_sources(tmp_path):
    config = tmp_path / "models.yaml"
    config.write_text("repos: [me/absent]\n")
    store = ResultsStore([], models_config=config, reference=LCB_REFERENCE)
    text = status_markdown(store, 3)
    assert text.startswith("3 of 16") and "me/absent" in text


@pytest.mark.parametrize("with_data", [True, False])
def test_tab_builds_with_and_without_data(study, tmp_path, with_data):
    store = study if with_data else ResultsStore([tmp_path / "empty"], outputs_dir=tmp_path / "none")
    with gr.Blocks() as demo:
        tab = build_leaderboard_tab(store)
    assert isinstance(tab.table, gr.Dataframe)
    config = demo.get_config_file()
    labels = {c["props"].get("label") for c in config["components"]}
    assert {"Arm", "Test scope", "Search", "A", "B", "Per-problem results"} <= labels
