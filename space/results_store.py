"""Every evaluated model and checkpoint in one table, for the Space's leaderboard.

Rows come from results files (``codegen-lora-lab/results/v1``) in the shipped ``results/`` folder, in
``outputs/**/results/`` and in any folder named by ``CODEGEN_LAB_RESULTS_DIRS``; from the Hub repos listed
in ``space/models.yaml`` (results files, ``metrics.json`` or the README's model-index, per branch); and
from the LiveCodeBench leaderboard's per-problem scores on the same 41 problems. Reading is cached in
memory; ``refresh()`` reads everything again. Each row is an ``analysis.runs.Evaluation``; the matrix and
the paired comparison are ``analysis.compare``'s, as in the report and the CLI.

    store = ResultsStore.from_env()
    store.table(arm="deep", scope="full", search="step-500")
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from analysis import compare
from analysis.runs import Evaluation, StudyInputError, evaluation_from_results
from codegen_lab.hub import Hub, HubError
from codegen_lab.loss_history import read_loss_curves
from codegen_lab.paths import REPO_ROOT, outputs_dir
from codegen_lab.run_folder import LOSS_HISTORY, RESULTS_DIR
from space.catalog import models_config
from space.hub_results import configured_repos, read_hub_repo

logger = logging.getLogger(__name__)

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

REFERENCE_FILE = "lcb_leaderboard_41.json"
REFERENCE_SOURCE = "LiveCodeBench leaderboard"
RESULTS_DIRS_ENV = "CODEGEN_LAB_RESULTS_DIRS"


def reference_rows(path: Path) -> list[Evaluation]:
    """The LiveCodeBench leaderboard's models: ``{question_id: {model: pass@1}}`` (percent or fraction)."""
    scores = json.loads(path.read_text())
    scale = 100.0 if any(v > 1 for per_model in scores.values() for v in per_model.values()) else 1.0
    by_model: dict[str, dict[str, float]] = {}
    for qid, per_model in scores.items():
        for model, value in per_model.items():
            by_model.setdefault(model, {})[qid] = value / scale
    return [
        Evaluation(
            key=model,
            name=model,
            run=model,
            arm="other",
            step=None,
            pass_at_1=sum(problems.values()) / len(problems),
            ci95=None,
            n_problems=len(problems),
            benchmark="study",
            test_scope="full",
            prompt_style="lcb",
            sampling="n=10",
            date="",
            source=REFERENCE_SOURCE,
            origin=str(path),
            problems=problems,
        )
        for model, problems in sorted(by_model.items())
    ]


def read_local_results(folders: list[Path]) -> list[Evaluation]:
    """Every complete results file under the folders, each once (other JSON, e.g. the LCB reference, is skipped)."""
    from evaluation.results import ResultsError, list_results, read_results

    paths = dict.fromkeys(
        path.resolve() for folder in folders if folder.is_dir() for path in list_results(folder)
    )
    rows = []
    for path in paths:
        try:
            data = read_results(path)
            source = "reference" if data["model"].get("source") == "reference" else "local"
            rows.append(evaluation_from_results(data, source, str(path)))
        except (ResultsError, KeyError, TypeError, ValueError) as err:
            logger.warning("Skipping %s: %s", path, err)
    return rows


def unique_keys(rows: list[Evaluation]) -> list[Evaluation]:
    """Give rows that share a model name a key that says where each came from."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.name] = counts.get(row.name, 0) + 1
    seen: set[str] = set()
    for row in rows:
        where = f"{row.name} ({row.source}, {row.benchmark}, {row.test_scope})"
        key, number = row.name if counts[row.name] == 1 else where, 2
        while key in seen:
            key, number = f"{where} #{number}", number + 1
        row.key = key
        seen.add(key)
    return rows


class ResultsStore:
    """The leaderboard's rows, read once and kept until ``refresh()``; safe to share between sessions."""

    def __init__(
        self,
        results_dirs: list[Path],
        outputs_dir: Path | None = None,
        models_config: Path | None = None,
        reference: Path | None = None,
        hub: Hub | None = None,
    ):
        self.results_dirs = [Path(p) for p in results_dirs]
        self.outputs_dir = Path(outputs_dir) if outputs_dir else None
        self.models_config = models_config
        self.reference = reference
        self.hub = hub
        self.errors: list[str] = []
        self._rows: list[Evaluation] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> ResultsStore:
        """The shipped ``results/``, ``outputs/`` (or ``$CODEGEN_LAB_OUTPUTS``), ``$CODEGEN_LAB_RESULTS_DIRS``."""
        extra = [Path(p) for p in os.environ.get(RESULTS_DIRS_ENV, "").split(os.pathsep) if p]
        return cls(
            results_dirs=[REPO_ROOT / "results", *extra],
            outputs_dir=outputs_dir(),
            models_config=models_config(),
            reference=REPO_ROOT / "results" / REFERENCE_FILE,
        )

    def rows(self) -> list[Evaluation]:
        with self._lock:
            if self._rows is None:
                self._rows = self._read()
            return self._rows

    def refresh(self) -> list[Evaluation]:
        """Forget the cache and read every source again."""
        with self._lock:
            self._rows = None
        return self.rows()

    def row(self, key: str) -> Evaluation:
        for row in self.rows():
            if row.key == key:
                return row
        raise StudyInputError(f"No leaderboard row named {key!r}; refresh the leaderboard or pick another.")

    def _read(self) -> list[Evaluation]:
        errors = []
        folders = list(self.results_dirs)
        if self.outputs_dir and self.outputs_dir.is_dir():
            folders += sorted(p for p in self.outputs_dir.glob(f"**/{RESULTS_DIR}") if p.is_dir())
        rows = read_local_results(folders)
        if self.models_config:
            try:
                repos = configured_repos(self.models_config)
            except (OSError, StudyInputError) as err:
                errors.append(str(err))
                repos = []
            hub = self.hub or (Hub.from_env() if repos else None)
            for repo, revision in repos:
                try:
                    rows += read_hub_repo(hub, repo, revision)
                except (HubError, KeyError, ValueError) as err:
                    errors.append(f"{repo}: {err}")
        if self.reference and self.reference.is_file():
            rows += reference_rows(self.reference)
        self.errors = errors
        for error in errors:
            logger.warning("Leaderboard: %s", error)
        return unique_keys(rows)

    def runs(self) -> list[str]:
        """Run folders under ``outputs/`` that have a loss history."""
        if not (self.outputs_dir and self.outputs_dir.is_dir()):
            return []
        return sorted(p.parent.name for p in self.outputs_dir.glob(f"*/{LOSS_HISTORY}"))

    def loss_history(self, run: str) -> dict[str, list[tuple[int, float]]]:
        path = (self.outputs_dir or Path()) / run / LOSS_HISTORY
        if "/" in run or not path.is_file():
            raise StudyInputError(f"Run {run!r} has no {LOSS_HISTORY} under {self.outputs_dir}.")
        return read_loss_curves(path)

    def compare(self, key_a: str, key_b: str) -> dict:
        """analysis.compare's paired comparison of two rows on the problems both were judged on."""
        a, b = self.row(key_a), self.row(key_b)
        for row in (a, b):
            if not row.problems:
                raise StudyInputError(f"{row.key} has no per-problem results to compare ({row.source}).")
        if not set(a.problems) & set(b.problems):
            raise StudyInputError(f"{a.key} and {b.key} share no problems.")
        result = compare.paired_comparison(a.problems, b.problems, a.key, b.key)
        return result | {"same_scope": a.test_scope == b.test_scope}


def filter_rows(
    rows: list[Evaluation], arms: list[str] | None = None, scope: str | None = None, search: str = ""
) -> list[Evaluation]:
    """Rows of the given arms and test scope whose model, run or source contains every search word."""
    words = search.lower().split()
    return [
        row
        for row in rows
        if (not arms or row.arm in arms)
        and (not scope or scope == "all" or row.test_scope == scope)
        and all(
            w in f"{row.key} {row.run} {row.source} {row.prompt_style} {row.benchmark}".lower() for w in words
        )
    ]


def record(row: Evaluation) -> list:
    """A row's cells, in COLUMNS order."""
    ci = f"{100 * row.ci95[0]:.1f}–{100 * row.ci95[1]:.1f}" if row.ci95 else "—"
    pass_at_1 = round(100 * row.pass_at_1, 1)
    return [
        *(row.key, row.run, row.arm, row.step, pass_at_1, ci, row.n_problems, row.benchmark, row.test_scope),
        *(row.prompt_style, row.sampling, row.date, row.source),
    ]


def table(rows: list[Evaluation]):
    """The leaderboard as a DataFrame, best Pass@1 first."""
    import pandas as pd

    frame = pd.DataFrame([record(row) for row in rows], columns=COLUMNS)
    frame["Step"] = frame["Step"].astype("Int64")
    return frame.sort_values("Pass@1 (%)", ascending=False, kind="stable").reset_index(drop=True)


def problem_matrix(rows: list[Evaluation]) -> dict:
    """analysis.compare's problem matrix of the rows with per-problem results, one column per row key."""
    return compare.problem_matrix({row.key: row.problems for row in rows if row.problems})


def series_label(row: Evaluation) -> str:
    """One Pass@1-vs-step line: a run on one test scope and benchmark."""
    label = f"{row.run} ({row.test_scope})"
    return label if row.benchmark == "study" else f"{label} [{row.benchmark}]"


def step_series(rows: list[Evaluation]) -> dict[str, list[tuple[int, float]]]:
    """Pass@1 against training step, one series per run, test scope and benchmark (first row per step wins)."""
    series: dict[str, dict[int, float]] = {}
    for row in rows:
        if row.step is not None:
            series.setdefault(series_label(row), {}).setdefault(row.step, row.pass_at_1)
    return {label: sorted(points.items()) for label, points in sorted(series.items())}
