"""The Space's Leaderboard tab: every evaluated model and checkpoint, with the study's plots.

``build_leaderboard_tab(store)`` is called inside a ``gr.Tab`` by ``space/ui.py``. The functions below it
take plain rows and return DataFrames, matplotlib figures and Markdown, so they are tested without a page.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from space.results_store import (
    ResultsStore,
    ResultsStoreError,
    Row,
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


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # a Figure without pyplot: no global state between sessions

    return Figure(figsize=(width, height), layout="constrained")


def _empty(fig, message: str):
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, color="gray")
    ax.set_axis_off()
    return fig


def plot_step_series(rows: list[Row]):
    """Pass@1 against training step, one line per run (and test scope)."""
    fig = _figure(8, 4.5)
    series = step_series(rows)
    if not series:
        return _empty(fig, "No checkpoints with a training step match the filters.")
    ax = fig.add_subplot()
    arm_of_label = {series_label(row): row.arm for row in rows}
    for label, points in series.items():
        steps, values = zip(*points, strict=True)
        style = ARM_LINESTYLES.get(arm_of_label[label], ":")
        ax.plot(steps, [100 * v for v in values], marker="o", linestyle=style, label=label)
    ax.set(xlabel="training step", ylabel="Pass@1 (%)", title="Pass@1 vs training step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plot_loss(series: dict[str, list[tuple[int, float]]], run: str):
    """The run's loss curves (train loss, eval loss, ... whatever the history holds)."""
    fig = _figure(8, 4)
    if not series:
        return _empty(fig, f"No loss history for {run or 'this run'}.")
    ax = fig.add_subplot()
    for name, points in series.items():
        steps, values = zip(*points, strict=True)
        ax.plot(steps, values, marker="." if len(points) < 50 else None, label=name)
    ax.set(xlabel="training step", ylabel="loss", title=f"Loss: {run}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def heatmap_rows(rows: list[Row]) -> list[Row]:
    """The checkpoints to draw, in the study table's order: arm, run, step (at most MAX_HEATMAP_COLUMNS)."""
    ordered = sorted(
        (row for row in rows if row.problems),
        key=lambda r: (ARMS.index(r.arm), r.run, r.step if r.step is not None else -1, r.key),
    )
    return ordered[:MAX_HEATMAP_COLUMNS]


def plot_heatmap(rows: list[Row]):
    """Problems x checkpoints, solved (dark) or not; fractional Pass@1 in between; grey = not judged."""
    import numpy as np

    chosen = heatmap_rows(rows)
    matrix = problem_matrix(chosen)
    if matrix.empty:
        return _empty(_figure(8, 3), "No per-problem results match the filters.")
    n_problems, n_columns = matrix.shape
    fig = _figure(min(3 + 0.32 * n_columns, 20), 2 + 0.2 * n_problems)
    ax = fig.add_subplot()
    values = np.ma.masked_invalid(matrix.to_numpy(dtype=float))
    cmap = _heatmap_cmap()
    image = ax.imshow(values, aspect="auto", cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    labels = {row.key: row.key if row.step is None else f"{row.run} @{row.step}" for row in chosen}
    ax.set_xticks(range(n_columns), [_short(labels[c]) for c in matrix.columns], rotation=90, fontsize=7)
    ax.set_yticks(range(n_problems), matrix.index, fontsize=7)
    solved = [int(np.nansum(matrix[c].to_numpy(dtype=float) >= 0.5)) for c in matrix.columns]
    top = ax.secondary_xaxis("top")
    top.set_xticks(range(n_columns), [str(s) for s in solved], fontsize=7)
    ax.set_title(f"Per-problem results ({n_problems} problems; solved counts on top)", fontsize=10)
    fig.colorbar(image, ax=ax, shrink=0.4, label="Pass@1 on the problem")
    if len(rows) > len(chosen) and len(chosen) == MAX_HEATMAP_COLUMNS:
        ax.set_xlabel(
            f"first {MAX_HEATMAP_COLUMNS} checkpoints; narrow the filters to see others", fontsize=8
        )
    return fig


def _heatmap_cmap():
    from matplotlib import colormaps

    return colormaps["Greens"].with_extremes(bad="#d0d0d0")


def _short(name: str, limit: int = 34) -> str:
    return name if len(name) <= limit else "…" + name[-(limit - 1) :]


def comparison_markdown(result: dict) -> str:
    """The paired test of two rows in words: discordant problems, Pass@1 on the shared set, p-value."""
    lines = [
        f"**A** = `{result['a']}` · **B** = `{result['b']}` · {result['n_problems']} shared problems",
        f"- Pass@1 on them: A {100 * result['pass@1_a']:.1f} %, B {100 * result['pass@1_b']:.1f} % "
        f"(B − A = {100 * result['difference']:+.1f} points)",
    ]
    if result["method"] == "mcnemar":
        lines.append(
            f"- Only A solves {result['b10']}, only B solves {result['b01']}: exact McNemar p = {result['p_value']:.3g}"
        )
    else:
        low, high = result["difference_ci95"]
        lines.append(
            f"- Bootstrap over problems: 95 % interval of B − A [{100 * low:+.1f}, {100 * high:+.1f}] points, "
            f"p = {result['p_value']:.3g}"
        )
    verdict = "a significant difference" if result["p_value"] < 0.05 else "no significant difference"
    lines.append(f"- At the 5 % level: **{verdict}**.")
    if not result["same_scope"]:
        lines.append("- ⚠️ The two rows were judged on different test scopes (public-only vs full).")
    return "\n".join(lines)


def default_pair(rows: list[Row]) -> tuple[str | None, str | None]:
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
        except (ResultsStoreError, ValueError) as err:
            return f"⚠️ {err}"

    def loss(self, run):
        if not run:
            return plot_loss({}, "")
        try:
            return plot_loss(self.store.loss_history(run), run)
        except (ResultsStoreError, ValueError, OSError) as err:
            return _empty(_figure(8, 4), str(err))

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
