"""The study's figures, drawn from plain data: loss curves, Pass@1 against step, the problem heatmap.

Each returns a matplotlib ``Figure`` made without pyplot (no global state, so Space sessions can draw at
once): the Space's ``gr.Plot`` shows it, the report and the trainer ``save_png`` it. Saved PNGs carry no
timestamp or version stamp, so the same data gives the same bytes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SPLIT_STYLES = {"train": "-", "validation": "--", "test": ":"}
STEP = "training step"
STYLE = {"figure.dpi": 110, "font.size": 9, "axes.spines.top": False, "axes.spines.right": False}
SOLVED, FAILED, NOT_JUDGED = "#3a9a4a", "#f4c7c3", "#eeeeee"


@contextlib.contextmanager
def style() -> Iterator[None]:
    import matplotlib

    with matplotlib.rc_context(STYLE):
        yield


def new_figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def empty_figure(message: str, width: float = 8, height: float = 4):
    """A figure that says why there is nothing to draw."""
    with style():
        fig = new_figure(width, height)
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, color="gray")
        ax.set_axis_off()
    return fig


def save_png(fig, path: Path) -> str:
    """Write the figure as PNG (whole steps on a training-step axis), atomically; returns the file name."""
    from matplotlib.ticker import MaxNLocator

    for ax in fig.axes:
        if ax.get_xlabel() == STEP:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png", metadata={"Software": None}, bbox_inches="tight")
    os.replace(tmp, path)
    return path.name


@dataclass
class LossMarks:
    """What the report marks on a run's curves: the validation minimum, the overfitting onset, LossGuard."""

    minimum: tuple[int, float] | None = None
    onset_step: int | None = None
    stop_step: int | None = None


def loss_figure(
    runs: Mapping[str, Mapping[str, Sequence[tuple[int, float]]]],
    colors: Mapping[str, str] | None = None,
    marks: Mapping[str, LossMarks] | None = None,
    title: str = "Loss curves",
):
    """Train/validation/test loss of each run ({run: {split: [(step, loss)]}}): colour per run, line per split."""
    with style():
        fig = new_figure(7.5, 4.2)
        ax = fig.add_subplot()
        for run, curves in runs.items():
            color = (colors or {}).get(run)
            order = sorted(curves, key=lambda s: list(SPLIT_STYLES).index(s) if s in SPLIT_STYLES else 9)
            for split in order:
                steps, losses = zip(*curves[split], strict=True)
                label = split if len(runs) == 1 else f"{run} {split}"
                marker = "." if split == "train" and len(steps) > 20 else "o"
                ax.plot(
                    steps,
                    losses,
                    ls=SPLIT_STYLES.get(split, "-."),
                    marker=marker,
                    ms=3,
                    lw=1.4,
                    color=color,
                    label=label,
                )
            _mark_loss(ax, (marks or {}).get(run), color)
        ax.set(xlabel=STEP, ylabel="loss", title=title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2, frameon=False)
    return fig


def _mark_loss(ax, marks: LossMarks | None, color: str | None) -> None:
    if marks is None:
        return
    if marks.onset_step is not None:
        ax.axvline(marks.onset_step, color=color, lw=0.8, alpha=0.6)
    if marks.minimum is not None and marks.onset_step is not None:
        ax.plot([marks.minimum[0]], [marks.minimum[1]], "v", color=color, ms=8)
    if marks.stop_step is not None:
        ax.axvline(marks.stop_step, color=color, lw=1.2, ls=(0, (1, 1)))
        ax.annotate(
            "LossGuard stop",
            (marks.stop_step, ax.get_ylim()[1]),
            fontsize=7,
            rotation=90,
            va="top",
            ha="right",
        )


@dataclass
class StepLine:
    """One line of Pass@1 (a fraction) against training step, with an optional 95 % band and stars."""

    label: str
    points: list[tuple[int, float]]
    color: str | None = None
    style: str = "-"
    hollow: bool = False  # white markers: a secondary measure (validation)
    band: list[tuple[float, float]] | None = None  # (low, high) per point
    stars: list[tuple[int, float]] = field(default_factory=list)  # the reported checkpoints


def step_figure(lines: Sequence[StepLine], title: str = "Pass@1 vs training step"):
    """Pass@1 (%) against training step, one line per run (and benchmark); bands and stars when given."""
    with style():
        fig = new_figure(7.5, 4.2)
        ax = fig.add_subplot()
        for line in lines:
            steps = [s for s, _ in line.points]
            drawn = ax.plot(
                steps,
                [100 * v for _, v in line.points],
                marker="o",
                ls=line.style,
                ms=4,
                lw=1.1 if line.hollow else 1.6,
                color=line.color,
                label=line.label,
                mfc="white" if line.hollow else None,
            )
            color = drawn[0].get_color()
            if line.band:
                low, high = ([100 * b[i] for b in line.band] for i in (0, 1))
                ax.fill_between(steps, low, high, color=color, alpha=0.12, lw=0)
            for step, value in line.stars:
                ax.plot([step], [100 * value], "*", color=color, ms=14, mec="black", mew=0.6)
        highs = [100 * (b[1] if line.band else v) for line in lines for v, b in _with_band(line)]
        ax.set_ylim(0, min(105, max(max(highs, default=0) + 5, 10)))
        ax.set(xlabel=STEP, ylabel="Pass@1 (%)", title=title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, frameon=False)
    return fig


def _with_band(line: StepLine) -> list[tuple[float, tuple[float, float]]]:
    band = line.band or [(v, v) for _, v in line.points]
    return [(v, b) for (_, v), b in zip(line.points, band, strict=True)]


def heatmap_figure(
    matrix: Mapping, labels: Sequence[str] | None = None, groups: Sequence[str] | None = None, note: str = ""
):
    """A problem matrix (analysis.compare.problem_matrix) as problems × columns: green solved, pink failed,
    shades between for Pass@1 fractions, grey not judged; solved counts on top, a rule where ``groups``
    (one per column: its run) changes."""
    import numpy as np
    from matplotlib.colors import LinearSegmentedColormap

    columns, problems = matrix["columns"], matrix["problems"]
    values = np.ma.masked_invalid(
        np.array(matrix["solved"], dtype=float).reshape(len(problems), len(columns))
    )
    cmap = LinearSegmentedColormap.from_list("solved", [FAILED, SOLVED]).with_extremes(bad=NOT_JUDGED)
    labels = list(labels or columns)
    with style():
        fig = new_figure(min(max(5.0, 0.42 * len(columns) + 2), 20), max(3.0, 0.2 * len(problems) + 1.6))
        ax = fig.add_subplot()
        ax.imshow(values, aspect="auto", cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks(range(len(columns)), [_short(label) for label in labels], rotation=90, fontsize=7)
        ax.set_yticks(range(len(problems)), problems, fontsize=6)
        top = ax.secondary_xaxis("top")
        solved = (values >= 0.5).sum(axis=0).filled(0) if len(problems) else [0] * len(columns)
        top.set_xticks(range(len(columns)), [str(int(s)) for s in solved], fontsize=7)
        groups = list(groups or [])
        for i in range(1, len(groups)):
            if groups[i] != groups[i - 1]:
                ax.axvline(i - 0.5, color="black", lw=1.5)
        ax.set_title(
            f"Problem × checkpoint, {len(problems)} problems (green: solved, pink: failed, "
            "grey: not judged; solved counts on top)",
            fontsize=9,
        )
        if note:
            ax.set_xlabel(note, fontsize=8)
        ax.spines[:].set_visible(False)
    return fig


def _short(name: str, limit: int = 34) -> str:
    return name if len(name) <= limit else "…" + name[-(limit - 1) :]
