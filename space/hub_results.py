"""Leaderboard rows from the Hub repos listed in ``space/models.yaml``: per checkpoint revision (the run
folder's rule, codegen_lab.run_folder.run_branches), its results files, else the checkpoint's metrics,
else the Pass@1 entries of the card's model-index."""

from __future__ import annotations

import json
from pathlib import Path

from analysis.runs import Evaluation, StudyInputError, describe_benchmark, evaluation_from_results
from codegen_lab import naming, run_folder
from codegen_lab.hub import Hub
from evaluation.results import is_results_file


def configured_repos(models_config: Path) -> list[tuple[str, str | None]]:
    """(repo id, revision or None for every branch) from the ``repos`` list of ``space/models.yaml``.

    An entry is ``repo_id``, ``repo_id@revision`` or a mapping with ``repo`` and optional ``revision``.
    """
    import yaml

    if not models_config.is_file():
        return []
    try:
        config = yaml.safe_load(models_config.read_text()) or {}
    except yaml.YAMLError as err:
        raise StudyInputError(f"{models_config} is not valid YAML: {err}") from err
    repos = []
    for entry in config.get("repos") or []:
        if isinstance(entry, str):
            repo, _, revision = entry.partition("@")
            repos.append((repo, revision or None))
        elif isinstance(entry, dict) and "repo" in entry:
            repos.append((entry["repo"], entry.get("revision")))
        else:
            raise StudyInputError(
                f"{models_config}: a `repos` entry must be repo_id[@revision]; got {entry!r}."
            )
    return repos


def read_hub_repo(hub: Hub, repo: str, revision: str | None = None) -> list[Evaluation]:
    """Rows of one Hub repo, per checkpoint revision: its results files, else its metrics, else the model-index."""
    rows = []
    for checkpoint in run_folder.hub_checkpoints(hub, repo, revision):
        where = f"{repo}@{checkpoint.branch}"
        found = [
            evaluation_from_results(json.loads(file.read_text()), "Hub", f"{where}/{name}")
            for file, name in checkpoint.results_candidates()
            if is_results_file(file)  # not some other JSON
        ]
        if not found and checkpoint.metrics:
            found = [row_from_metrics(checkpoint.metrics, repo, checkpoint.branch)]
        if not found and checkpoint.card:
            found = rows_from_model_index(checkpoint.card, repo, checkpoint.branch)
        rows += found
    return rows


def _hub_row(repo: str, branch: str, pass_at_1: float, **fields) -> Evaluation:
    name = f"{repo}@{branch}"
    return Evaluation(
        key=name,
        name=name,
        run=repo.split("/")[-1],
        arm=naming.arm_of(repo),
        step=naming.parse_branch_name(branch),
        pass_at_1=pass_at_1,
        source="Hub",
        origin=name,
        **fields,
    )


def row_from_metrics(data: dict, repo: str, branch: str) -> Evaluation:
    """A checkpoint's metrics.json content: its reported evaluation (metrics and benchmark blocks)."""
    metrics, bench = data["metrics"], data.get("benchmark", {})
    ci = metrics.get("pass@1_ci95")
    return _hub_row(
        repo,
        branch,
        float(metrics["pass@1"]),
        ci95=(float(ci[0]), float(ci[1])) if ci else None,
        n_problems=int(metrics.get("n_problems") or bench.get("n_problems") or 0),
        benchmark=describe_benchmark(bench),
        test_scope=bench.get("test_scope", "?"),
        prompt_style="?",
        sampling="?",
        date="",
    )


def rows_from_model_index(readme: Path, repo: str, branch: str) -> list[Evaluation]:
    """Pass@1 entries of a model card's ``model-index`` (no per-problem data)."""
    from huggingface_hub import ModelCard

    rows = []
    for result in ModelCard.load(readme).data.eval_results or []:
        if result.metric_type.lower().replace("_at_", "@") != "pass@1":
            continue
        value = float(result.metric_value)
        rows.append(
            _hub_row(
                repo,
                branch,
                value / 100 if value > 1 else value,
                ci95=None,
                n_problems=0,
                benchmark="?",
                test_scope="?",
                prompt_style="?",
                sampling="?",
                date="",
            )
        )
    return rows
