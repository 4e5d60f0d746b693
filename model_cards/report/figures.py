"""The study report's figures, drawn only from the report dict so they match its numbers.

Loss curves, Pass@1 per step and the problem heatmap are analysis.figures' (the Space draws the same ones);
the failure anatomy is the report's own.
"""

from __future__ import annotations

from pathlib import Path

from analysis import figures

ARM_COLORS = {"deep": "#1f77b4", "diverse": "#d62728", "base": "#555555", "other": "#2ca02c"}
EXTRA_COLORS = ["#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#ff7f0e"]
OUTCOME_COLORS = {
    "AC": "#2ca02c",
    "WA": "#d62728",
    "TLE": "#ff7f0e",
    "MLE": "#8c564b",
    "OLE": "#bcbd22",
    "syntax error": "#9467bd",
    "empty answer": "#444444",
    "unextractable": "#7f7f7f",
    "no verdict": "#c7c7c7",
}
STYLE_COLORS = {
    "clean code": "#4c72b0",
    "fenced": "#dd8452",
    "prose + code": "#8172b3",
    "no parseable code": "#7f7f7f",
    "given": "#937860",
}
RE_COLORS = ["#e377c2", "#f7b6d2", "#c49c94", "#dbdb8d", "#9edae5", "#aec7e8", "#ffbb78", "#98df8a"]


def run_colors(runs: list[dict]) -> dict[str, str]:
    """One colour per run: the arm's colour for the first run of an arm, a distinct one after."""
    colors, used, extra = {}, set(), iter(EXTRA_COLORS)
    for run in runs:
        color = ARM_COLORS.get(run["arm"], ARM_COLORS["other"])
        colors[run["name"]] = color if color not in used else next(extra, "#333333")
        used.add(colors[run["name"]])
    return colors


def loss_figure(report: dict, out_dir: Path) -> str | None:
    runs = [r for r in report["runs"] if r["loss_curves"]]
    if not runs:
        return None
    marks = {}
    for run in runs:
        loss = run["loss"]
        minimum = (
            (loss["min_validation_step"], loss["min_validation_loss"])
            if "min_validation_loss" in loss
            else None
        )
        marks[run["name"]] = figures.LossMarks(
            minimum, loss.get("overfitting_onset_step"), loss["lossguard"].get("stopped_at_step")
        )
    fig = figures.loss_figure(
        {run["name"]: run["loss_curves"] for run in runs},
        run_colors(report["runs"]),
        marks,
        title="Loss curves (▼ validation minimum = overfitting onset)",
    )
    return figures.save_png(fig, out_dir / "loss_curves.png")


def pass_figure(report: dict, out_dir: Path) -> str | None:
    rows = [r for r in report["checkpoints"] if r["pass@1"] is not None]
    if not rows:
        return None
    colors = run_colors(report["runs"])
    lines = []
    for run in report["runs"]:
        points = [r for r in rows if r["run"] == run["name"]]
        if not points:
            continue
        best = run["best"]
        stars = [(best["step"], best["test_pass@1"])] if best.get("step") is not None else []
        band = [tuple(r["ci95"]) for r in points] if all(r["ci95"] for r in points) else None
        color = colors[run["name"]]
        lines.append(
            figures.StepLine(
                run["name"], [(r["step"], r["pass@1"]) for r in points], color, band=band, stars=stars
            )
        )
        validation = [
            r for r in report["checkpoints"] if r["run"] == run["name"] and "validation_pass@1" in r
        ]
        if validation:
            points = [(r["step"], r["validation_pass@1"]) for r in validation]
            lines.append(figures.StepLine(f"{run['name']} (validation)", points, color, "--", hollow=True))
    title = "Test Pass@1 per checkpoint (band: 95 % Wilson interval, ★ reported; dashed: validation)"
    return figures.save_png(figures.step_figure(lines, title), out_dir / "pass_at_1.png")


def matrix_figure(report: dict, out_dir: Path) -> str | None:
    matrix = report["matrix"]
    if not matrix["columns"]:
        return None
    runs = [c.rsplit("@", 1)[0] for c in matrix["columns"]]
    return figures.save_png(figures.heatmap_figure(matrix, groups=runs), out_dir / "problem_matrix.png")


def failure_figure(report: dict, out_dir: Path) -> str | None:
    rows = [r for r in report["checkpoints"] if r.get("per_problem")]
    if not rows:
        return None
    from matplotlib import colormaps

    with figures.style():
        categories = sorted(
            {k for r in rows for k in r["outcomes"]}, key=lambda k: (k.startswith("RE:"), k != "AC", k)
        )
        styles = sorted({k for r in rows for k in r["answer_styles"]})
        re_colors = iter(RE_COLORS * 4)
        colors = {k: OUTCOME_COLORS.get(k) or next(re_colors) for k in categories}
        fig = figures.new_figure(max(6.0, 0.45 * len(rows) + 3), 6.4)
        top, bottom = fig.subplots(2, 1, gridspec_kw={"height_ratios": [3, 1.4]})
        labels = [r["id"] for r in rows]
        for ax, keys, field, palette in (
            (top, categories, "outcomes", colors),
            (bottom, styles, "answer_styles", STYLE_COLORS),
        ):
            bottoms = [0] * len(rows)
            for i, key in enumerate(keys):
                values = [r[field].get(key, 0) for r in rows]
                color = palette.get(key) or colormaps["tab10"](i)
                ax.bar(range(len(rows)), values, bottom=bottoms, color=color, label=key, width=0.8)
                bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
            ax.legend(fontsize=7, frameon=False, bbox_to_anchor=(1.01, 1), loc="upper left")
            ax.set_ylabel("answers")
        top.set_title("Failure anatomy: verdict of each answer (first failing test)")
        bottom.set_title("How answers were written (extraction rule)", fontsize=9)
        top.set_xticks(range(len(rows)), [""] * len(rows))
        bottom.set_xticks(range(len(rows)), labels, rotation=90, fontsize=7)
    return figures.save_png(fig, out_dir / "failures.png")


def draw_all(report: dict, out_dir: Path) -> dict[str, str]:
    """Every figure the report has data for: {figure: file name in out_dir}."""
    figures = {
        "loss_curves": loss_figure(report, out_dir),
        "pass_at_1": pass_figure(report, out_dir),
        "problem_matrix": matrix_figure(report, out_dir),
        "failures": failure_figure(report, out_dir),
    }
    return {name: file for name, file in figures.items() if file}
