"""One leaderboard row per evaluated model or checkpoint, and how a results file becomes one.

Shared by the local results reader (space/results_store.py) and the Hub reader (space/hub_results.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from codegen_lab import naming

COLUMNS = [
    "Model",
    "Run",
    "Arm",
    "Step",
    "Pass@1 (%)",
    "95% CI",
    "Problems",
    "Benchmark",
    "Test scope",
    "Prompt",
    "Sampling",
    "Date",
    "Source",
]


@dataclass
class Row:
    """One evaluated model or checkpoint; ``problems`` maps question id -> that problem's Pass@1."""

    key: str
    name: str
    run: str
    arm: str
    step: int | None
    pass_at_1: float
    ci95: tuple[float, float] | None
    n_problems: int
    benchmark: str
    test_scope: str
    prompt_style: str
    sampling: str
    date: str
    source: str
    origin: str
    problems: dict[str, float] = field(default_factory=dict)

    def record(self) -> dict:
        ci = f"{100 * self.ci95[0]:.1f}–{100 * self.ci95[1]:.1f}" if self.ci95 else "—"
        return dict(
            zip(
                COLUMNS,
                [
                    self.key,
                    self.run,
                    self.arm,
                    self.step,
                    round(100 * self.pass_at_1, 1),
                    ci,
                    self.n_problems,
                    self.benchmark,
                    self.test_scope,
                    self.prompt_style,
                    self.sampling,
                    self.date,
                    self.source,
                ],
                strict=True,
            )
        )


class ResultsStoreError(ValueError):
    """A row or run the caller named that the store does not have, or a comparison that cannot be made."""


def row_from_results(data: dict, source: str, origin: str) -> Row:
    """A table row from a results file's JSON (``source`` is ``local`` or ``Hub``)."""
    model, bench, config, metrics = data["model"], data["benchmark"], data.get("config", {}), data["metrics"]
    name = model["name"]
    sampling = config.get("sampling", {})
    problems = {p["question_id"]: float(p["pass@1"]) for p in data.get("problems", [])}
    ci = metrics.get("pass@1_ci95")
    return Row(
        key=name,
        name=name,
        run=model.get("run") or name,
        arm=model.get("arm") or naming.arm_of(name),
        step=model.get("step"),
        pass_at_1=float(metrics["pass@1"]),
        ci95=(float(ci[0]), float(ci[1])) if ci else None,
        n_problems=int(metrics.get("n_problems") or bench.get("n_problems") or len(problems)),
        benchmark=describe_benchmark(bench),
        test_scope=bench.get("test_scope", "?"),
        prompt_style=config.get("prompt_style", "?"),
        sampling=describe_sampling(sampling) if sampling else "?",
        date=str(data.get("created_at", ""))[:10],
        source=source,
        origin=origin,
        problems=problems,
    )


def describe_benchmark(bench: dict) -> str:
    """The preset (``study``), else the contest-date window (a run's validation set); `` first N`` if cut."""
    filters = bench.get("filters") or {}
    label = bench.get("preset") or f"{filters.get('start_date', '')}..{filters.get('end_date', '')}"
    return f"{label} first {filters['limit']}" if filters.get("limit") else label


def series_label(row: Row) -> str:
    """One Pass@1-vs-step line: a run on one test scope and benchmark."""
    label = f"{row.run} ({row.test_scope})"
    return label if row.benchmark == "study" else f"{label} [{row.benchmark}]"


def describe_sampling(sampling: dict) -> str:
    if float(sampling.get("temperature", 0.0)) == 0.0:
        return f"greedy, n={sampling.get('n', 1)}"
    return f"T={sampling['temperature']}, top_p={sampling.get('top_p', 1.0)}, n={sampling.get('n', 1)}"
