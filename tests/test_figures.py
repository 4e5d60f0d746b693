"""analysis.figures: what each figure draws from its data, and PNGs that are the same bytes every time."""

from __future__ import annotations

import numpy as np

from analysis.compare import problem_matrix
from analysis.figures import LossMarks, StepLine, heatmap_figure, loss_figure, save_png, step_figure

CURVES = {"train": [(10, 1.0), (20, 0.8), (30, 0.7)], "validation": [(10, 0.9), (20, 0.85), (30, 0.95)]}


def test_loss_curves_one_run_by_split_several_by_run_and_split_with_marks():
    (ax,) = loss_figure({"deep": CURVES}).axes
    assert [line.get_label() for line in ax.get_lines()] == ["train", "validation"]
    marks = {"deep": LossMarks(minimum=(20, 0.85), onset_step=20, stop_step=30)}
    (ax,) = loss_figure({"deep": CURVES, "diverse": CURVES}, {"deep": "#111111"}, marks).axes
    labels = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert labels == ["deep train", "deep validation", "diverse train", "diverse validation"]
    assert {line.get_color() for line in ax.get_lines() if line.get_label().startswith("deep")} == {"#111111"}
    assert [t.get_text() for t in ax.texts] == ["LossGuard stop"]
    minima = [tuple(line.get_xydata()[0]) for line in ax.get_lines() if line.get_marker() == "v"]
    assert minima == [(20, 0.85)]


def test_step_lines_bands_and_stars():
    lines = [
        StepLine("deep", [(100, 0.2), (200, 0.4)], band=[(0.1, 0.3), (0.3, 0.5)], stars=[(200, 0.4)]),
        StepLine("deep (validation)", [(100, 0.25)], style="--", hollow=True),
    ]
    (ax,) = step_figure(lines).axes
    drawn = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    assert drawn["deep"] == [20.0, 40.0] and drawn["deep (validation)"] == [25.0]
    assert [list(line.get_ydata()) for line in ax.get_lines() if line.get_marker() == "*"] == [[40.0]]
    assert len(ax.collections) == 1 and ax.get_ylim() == (0, 55.0)  # the band, and room above its top


def test_heatmap_masks_unjudged_cells_counts_solved_and_rules_between_groups(tmp_path):
    matrix = problem_matrix({"a@1": {"p1": 1, "p2": 0}, "a@2": {"p1": 1, "p2": 1}, "lcb": {"p1": 0.4}})
    fig = heatmap_figure(matrix, groups=["a", "a", "lcb"])
    ax = fig.axes[0]
    image = ax.get_images()[0].get_array()
    assert image.shape == (2, 3) and np.ma.count_masked(image) == 1 and image[0, 2] == 0.4
    top = next(child for child in ax.get_children() if type(child).__name__ == "SecondaryAxis")
    assert [t.get_text() for t in top.get_xticklabels()] == ["1", "2", "0"]
    assert [line.get_xdata()[0] for line in ax.get_lines()] == [1.5]  # one rule, between a@2 and lcb
    first, second = (save_png(heatmap_figure(matrix), tmp_path / name) for name in ("x.png", "y.png"))
    assert (tmp_path / first).read_bytes() == (tmp_path / second).read_bytes()
    assert (tmp_path / first).read_bytes().startswith(b"\x89PNG")
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically
