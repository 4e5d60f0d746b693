"""The study report's figures (matplotlib, Agg), drawn only from the report dict so they match its numbers.

PNG files are written without a timestamp or version stamp, so the same report gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

ARM_COLORS = {"deep": "#1f77b4", "diverse": "#d62728", "base": "#555555", "other": "#2ca02c"}
EXTRA_COLORS = ["#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#ff7f0e"]
SPLIT_STYLES = {"train": "-", "validation": "--", "test": ":"}
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


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {"figure.dpi": 110, "font.size": 9, "axes.spines.top": False, "axes.spines.right": False}
    )
    return plt


def run_colors(runs: list[dict]) -> dict[str, str]:
    """One colour per run: the arm's colour for the first run of an arm, a distinct one after."""
    colors, used, extra = {}, set(), iter(EXTRA_COLORS)
    for run in runs:
        color = ARM_COLORS.get(run["arm"], ARM_COLORS["other"])
        colors[run["name"]] = color if color not in used else next(extra, "#333333")
        used.add(colors[run["name"]])
    return colors


def _save(fig, path: Path) -> str:
    from matplotlib.ticker import MaxNLocator

    for ax in fig.axes:
        if ax.get_xlabel() == "training step":
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.savefig(path, format="png", metadata={"Software": None}, bbox_inches="tight")
    _pyplot().close(fig)
    return path.name


def loss_figure(report: dict, out_dir: Path) -> str | None:
    runs = [r for r in report["runs"] if r["loss_curves"]]
    if not runs:
        return None
    plt = _pyplot()
    colors = run_colors(report["runs"])
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for run in runs:
        for split, points in sorted(
            run["loss_curves"].items(),
            key=lambda kv: list(SPLIT_STYLES).index(kv[0]) if kv[0] in SPLIT_STYLES else 9,
        ):
            steps, losses = zip(*points, strict=True)
            style = SPLIT_STYLES.get(split, "-.")
            marker = "." if split == "train" and len(points) > 20 else "o"
            ax.plot(
                steps,
                losses,
                ls=style,
                marker=marker,
                ms=3,
                color=colors[run["name"]],
                label=f"{run['name']} {split}",
                lw=1.4,
            )
        loss = run["loss"]
        if loss.get("overfitting_onset_step") is not None:
            ax.axvline(loss["overfitting_onset_step"], color=colors[run["name"]], lw=0.8, alpha=0.6)
            ax.plot(
                [loss["min_validation_step"]],
                [loss["min_validation_loss"]],
                "v",
                color=colors[run["name"]],
                ms=8,
            )
        stop = loss["lossguard"].get("stopped_at_step")
        if stop is not None:
            ax.axvline(stop, color=colors[run["name"]], lw=1.2, ls=(0, (1, 1)))
            ax.annotate(
                "LossGuard stop", (stop, ax.get_ylim()[1]), fontsize=7, rotation=90, va="top", ha="right"
            )
    ax.set_xlabel("training step")
    ax.set_ylabel("loss")
    ax.set_title("Loss curves (▼ validation minimum = overfitting onset)")
    ax.legend(fontsize=7, ncol=2, frameon=False)
    return _save(fig, out_dir / "loss_curves.png")


def pass_figure(report: dict, out_dir: Path) -> str | None:
    rows = [r for r in report["checkpoints"] if r["pass@1"] is not None]
    if not rows:
        return None
    plt = _pyplot()
    colors = run_colors(report["runs"])
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for run in report["runs"]:
        points = [r for r in rows if r["run"] == run["name"]]
        if not points:
            continue
        steps = [r["step"] for r in points]
        values = [100 * r["pass@1"] for r in points]
        color = colors[run["name"]]
        ax.plot(steps, values, "o-", color=color, label=run["name"], lw=1.6, ms=4)
        if all(r["ci95"] for r in points):
            low = [100 * r["ci95"][0] for r in points]
            high = [100 * r["ci95"][1] for r in points]
            ax.fill_between(steps, low, high, color=color, alpha=0.12, lw=0)
        validation = [
            r for r in report["checkpoints"] if r["run"] == run["name"] and "validation_pass@1" in r
        ]
        if validation:
            ax.plot(
                [r["step"] for r in validation],
                [100 * r["validation_pass@1"] for r in validation],
                "o--",
                mfc="white",
                color=color,
                label=f"{run['name']} (validation)",
                lw=1.1,
                ms=4,
            )
        best = run["best"]
        if best.get("step") is not None:
            ax.plot(
                [best["step"]], [100 * best["test_pass@1"]], "*", color=color, ms=14, mec="black", mew=0.6
            )
    ax.set_xlabel("training step")
    ax.set_ylabel("Pass@1 (%)")
    highs = [r["ci95"][1] if r["ci95"] else r["pass@1"] for r in rows]
    highs += [r["validation_pass@1"] for r in report["checkpoints"] if "validation_pass@1" in r]
    ax.set_ylim(0, min(105, max(100 * max(highs) + 5, 10)))
    ax.set_title("Test Pass@1 per checkpoint (band: 95 % Wilson interval, ★ reported; dashed: validation)")
    ax.legend(frameon=False)
    return _save(fig, out_dir / "pass_at_1.png")


def matrix_figure(report: dict, out_dir: Path) -> str | None:
    matrix = report["matrix"]
    if not matrix["columns"]:
        return None
    plt = _pyplot()
    from matplotlib.colors import ListedColormap

    grid = [[-1 if v is None else v for v in row] for row in matrix["solved"]]
    height = max(3.0, 0.17 * len(matrix["problems"]) + 1.2)
    fig, ax = plt.subplots(figsize=(max(5.0, 0.42 * len(matrix["columns"]) + 2), height))
    ax.imshow(grid, cmap=ListedColormap(["#eeeeee", "#f4c7c3", "#3a9a4a"]), vmin=-1, vmax=1, aspect="auto")
    ax.set_yticks(range(len(matrix["problems"])), matrix["problems"], fontsize=6)
    ax.set_xticks(range(len(matrix["columns"])), matrix["columns"], rotation=90, fontsize=7)
    runs = [c.rsplit("@", 1)[0] for c in matrix["columns"]]
    for i in range(1, len(runs)):
        if runs[i] != runs[i - 1]:
            ax.axvline(i - 0.5, color="black", lw=1.5)
    ax.set_title("Problem × checkpoint (green: solved, pink: failed, grey: not attempted)")
    ax.spines[:].set_visible(False)
    return _save(fig, out_dir / "problem_matrix.png")


def failure_figure(report: dict, out_dir: Path) -> str | None:
    rows = [r for r in report["checkpoints"] if r.get("per_problem")]
    if not rows:
        return None
    plt = _pyplot()
    categories = sorted(
        {k for r in rows for k in r["outcomes"]}, key=lambda k: (k.startswith("RE:"), k != "AC", k)
    )
    styles = sorted({k for r in rows for k in r["answer_styles"]})
    re_colors = iter(RE_COLORS * 4)
    colors = {k: OUTCOME_COLORS.get(k) or next(re_colors) for k in categories}
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(max(6.0, 0.45 * len(rows) + 3), 6.4), gridspec_kw={"height_ratios": [3, 1.4]}
    )
    labels = [r["id"] for r in rows]
    for ax, keys, field, palette in (
        (top, categories, "outcomes", colors),
        (bottom, styles, "answer_styles", STYLE_COLORS),
    ):
        bottoms = [0] * len(rows)
        for i, key in enumerate(keys):
            values = [r[field].get(key, 0) for r in rows]
            color = palette.get(key) or plt.get_cmap("tab10")(i)
            ax.bar(range(len(rows)), values, bottom=bottoms, color=color, label=key, width=0.8)
            bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
        ax.legend(fontsize=7, frameon=False, bbox_to_anchor=(1.01, 1), loc="upper left")
        ax.set_ylabel("answers")
    top.set_title("Failure anatomy: verdict of each answer (first failing test)")
    bottom.set_title("How answers were written (extraction rule)", fontsize=9)
    top.set_xticks(range(len(rows)), [""] * len(rows))
    bottom.set_xticks(range(len(rows)), labels, rotation=90, fontsize=7)
    return _save(fig, out_dir / "failures.png")


def draw_all(report: dict, out_dir: Path) -> dict[str, str]:
    """Every figure the report has data for: {figure: file name in out_dir}."""
    figures = {
        "loss_curves": loss_figure(report, out_dir),
        "pass_at_1": pass_figure(report, out_dir),
        "problem_matrix": matrix_figure(report, out_dir),
        "failures": failure_figure(report, out_dir),
    }
    return {name: file for name, file in figures.items() if file}
