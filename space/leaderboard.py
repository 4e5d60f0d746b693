"""The Space's Leaderboard tab: every evaluated model and checkpoint, with the study's plots.

``build_leaderboard_tab(store)`` is called inside a ``gr.Tab`` by ``space/ui.py``. The functions below it
take plain rows and return DataFrames, matplotlib figures and Markdown, so they are tested without a page.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from analysis import figures
from analysis.runs import Evaluation, StudyInputError
from space.results_store import (
    ResultsStore,
    filter_rows,
    problem_matrix,
    series_label,
    step_series,
    table,
)

ARMS = ["deep", "diverse", "base", "other"]
SCOPES = ["all", "full", "public-only"]
MAX_HEATMAP_COLUMNS = 40
ARM_LINESTYLES = {"deep": "-", "diverse": "--"}  # so the two arms read apart whatever the colours


def plot_step_series(rows: list[Evaluation]):
    """Pass@1 against training step, one line per run (and test scope)."""
    series = step_series(rows)
    if not series:
        return figures.empty_figure("No checkpoints with a training step match the filters.")
    arm_of_label = {series_label(row): row.arm for row in rows}
    lines = [
        figures.StepLine(label, points, style=ARM_LINESTYLES.get(arm_of_label[label], ":"))
        for label, points in series.items()
    ]
    return figures.step_figure(lines)


def plot_loss(series: dict[str, list[tuple[int, float]]], run: str):
    """The run's loss curves (train, validation, test: whatever its history holds)."""
    if not series:
        return figures.empty_figure(f"No loss history for {run or 'this run'}.")
    return figures.loss_figure({run: series}, title=f"Loss: {run}")


def heatmap_rows(rows: list[Evaluation]) -> list[Evaluation]:
    """The checkpoints to draw, in the study table's order: arm, run, step (at most MAX_HEATMAP_COLUMNS)."""
    ordered = sorted(
        (row for row in rows if row.problems),
        key=lambda r: (ARMS.index(r.arm), r.run, r.step if r.step is not None else -1, r.key),
    )
    return ordered[:MAX_HEATMAP_COLUMNS]


def plot_heatmap(rows: list[Evaluation]):
    """Problems x checkpoints, solved or not; fractional Pass@1 in between; grey = not judged."""
    chosen = heatmap_rows(rows)
    if not chosen:
        return figures.empty_figure("No per-problem results match the filters.", height=3)
    labels = [row.key if row.step is None else f"{row.run} @{row.step}" for row in chosen]
    capped = len(rows) > len(chosen) and len(chosen) == MAX_HEATMAP_COLUMNS
    note = f"first {MAX_HEATMAP_COLUMNS} checkpoints; narrow the filters to see others" if capped else ""
    groups = [row.run if row.step is not None else row.source for row in chosen]  # a rule between runs
    return figures.heatmap_figure(problem_matrix(chosen), labels, groups, note)


def comparison_markdown(result: dict) -> str:
    """The paired comparison of two rows: which is A and B, analysis.compare's sentence, a scope warning."""
    lines = [
        f"**A** = `{result['a']}` · **B** = `{result['b']}` · {result['n_problems']} shared problems",
        "",
        result["sentence"],
    ]
    if not result["same_scope"]:
        lines += ["", "⚠️ The two rows were judged on different test scopes (public-only vs full)."]
    return "\n".join(lines)


def default_pair(rows: list[Evaluation]) -> tuple[str | None, str | None]:
    """The best deep and the best diverse row with per-problem results (the study's question)."""
    best = {}
    for arm in ("deep", "diverse"):
        candidates = [r for r in rows if r.arm == arm and r.problems]
        best[arm] = max(candidates, key=lambda r: r.pass_at_1).key if candidates else None
    return best["deep"], best["diverse"]


def status_markdown(store: ResultsStore, shown: int) -> str:
    total = len(store.rows())
    text = f"{shown} of {total} evaluated models and checkpoints shown."
    if store.errors:
        text += "\n\n⚠️ Some sources could not be read:\n" + "\n".join(f"- {e}" for e in store.errors)
    return text


@dataclass
class LeaderboardTab:
    """The components ``space/ui.py`` may wire further (e.g. refresh after a benchmark run)."""

    table: gr.Dataframe
    refresh: gr.Button
    status: gr.Markdown


class LeaderboardHandlers:
    """The tab's event handlers over one shared store (rows are read lazily and cached by it)."""

    def __init__(self, store: ResultsStore):
        self.store = store

    def view(self, arms, scope, search):
        rows = filter_rows(self.store.rows(), arms, scope, search or "")
        return table(rows), plot_step_series(rows), plot_heatmap(rows), status_markdown(self.store, len(rows))

    def choices(self, key_a: str | None = None, key_b: str | None = None, run: str | None = None):
        """The comparison and run pickers: a pick that still exists stays, else the default."""
        keys = [row.key for row in self.store.rows() if row.problems]
        deep, diverse = default_pair(self.store.rows())
        runs = self.store.runs()
        return (
            gr.Dropdown(choices=keys, value=key_a if key_a in keys else deep),
            gr.Dropdown(choices=keys, value=key_b if key_b in keys else diverse),
            gr.Dropdown(choices=runs, value=run if run in runs else runs[0] if runs else None),
        )

    def compare(self, key_a, key_b):
        if not key_a or not key_b:
            return "Pick two rows to compare."
        try:
            return comparison_markdown(self.store.compare(key_a, key_b))
        except (StudyInputError, ValueError) as err:
            return f"⚠️ {err}"

    def loss(self, run):
        if not run:
            return plot_loss({}, "")
        try:
            return plot_loss(self.store.loss_history(run), run)
        except (StudyInputError, ValueError, OSError) as err:
            return figures.empty_figure(str(err))

    def refresh(self, arms, scope, search, key_a=None, key_b=None, run=None):
        """Read every source again (the Refresh button and the periodic timer): new runs and branches show."""
        self.store.refresh()
        return (*self.view(arms, scope, search), *self.choices(key_a, key_b, run))


def _filters():
    with gr.Row():
        arms = gr.CheckboxGroup(ARMS, value=ARMS, label="Arm")
        scope = gr.Radio(SCOPES, value="all", label="Test scope")
        search = gr.Textbox(
            elem_id="leaderboard-search",
            label="Search",
            placeholder="words in model, run or source, then Enter (e.g. step-500, GPT, Hub)",
        )
        refresh = gr.Button("Refresh", variant="secondary", scale=0, elem_id="leaderboard-refresh")
    return arms, scope, search, refresh


def _plots(handlers: LeaderboardHandlers):
    store = handlers.store
    with gr.Row():
        steps = gr.Plot(
            lambda: plot_step_series(store.rows()),
            label="Pass@1 vs training step",
            elem_id="leaderboard-steps",
            show_label=False,  # the figure has its title; the label badge would hide its corner
        )
        with gr.Column():
            run_choices = store.runs()
            run = gr.Dropdown(
                run_choices, value=run_choices[0] if run_choices else None, label="Run (loss curves)"
            )
            loss = gr.Plot(
                lambda: handlers.loss(run.value),
                label="Loss curves",
                elem_id="leaderboard-loss",
                show_label=False,
            )
    heatmap = gr.Plot(
        lambda: plot_heatmap(store.rows()),
        label="Per-problem results",
        elem_id="leaderboard-heatmap",
        show_label=False,
    )
    return steps, run, loss, heatmap


def _comparison(store: ResultsStore):
    gr.Markdown("### Paired comparison (same problems, e.g. deep vs diverse)")
    keys = [row.key for row in store.rows() if row.problems]
    deep, diverse = default_pair(store.rows())
    with gr.Row():
        row_a = gr.Dropdown(keys, value=deep, label="A", allow_custom_value=True)
        row_b = gr.Dropdown(keys, value=diverse, label="B", allow_custom_value=True)
        button = gr.Button("Compare", scale=0, elem_id="leaderboard-compare")
    return row_a, row_b, button, gr.Markdown(elem_id="leaderboard-comparison")


def build_leaderboard_tab(store: ResultsStore | None = None, timer: gr.Timer | None = None) -> LeaderboardTab:
    """Lay the leaderboard out in the current Blocks context and wire its events; ``timer`` refreshes it too."""
    handlers = LeaderboardHandlers(store or ResultsStore.from_env())
    store = handlers.store
    arms, scope, search, refresh = _filters()
    status = gr.Markdown(lambda: status_markdown(store, len(store.rows())), elem_id="leaderboard-status")
    frame = gr.Dataframe(
        lambda: table(store.rows()),
        label="Leaderboard (click a column header to sort)",
        interactive=False,
        wrap=True,
        max_height=520,
        elem_id="leaderboard-table",
    )
    steps, run, loss, heatmap = _plots(handlers)
    row_a, row_b, compare, comparison = _comparison(store)

    filters, outputs = [arms, scope, search], [frame, steps, heatmap, status]
    for control in (arms, scope):
        control.change(handlers.view, filters, outputs)
    search.submit(handlers.view, filters, outputs)
    pickers = [row_a, row_b, run]
    for trigger in [refresh.click] + ([timer.tick] if timer is not None else []):
        trigger(handlers.refresh, [*filters, *pickers], [*outputs, *pickers], show_progress="hidden")
    run.change(handlers.loss, run, loss)
    compare.click(handlers.compare, [row_a, row_b], comparison)
    return LeaderboardTab(table=frame, refresh=refresh, status=status)
