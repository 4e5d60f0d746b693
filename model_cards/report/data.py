"""The study report's inputs: runs read from local run folders, Hub repos, or folders of results files.

Everything is turned into the same two plain records, so the analysis never cares where a run came
from: a `Run` with its loss history and LossGuard state, and its `Checkpoint`s, each holding its test
results file (and its validation results file when one exists).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from codegen_lab import naming, run_folder
from codegen_lab.hub import Hub
from codegen_lab.loss_history import loss_curves
from evaluation.results import SCHEMA, is_results_file, read_results


class ReportInputError(ValueError):
    """A --runs entry that cannot be read, with what is wrong with it."""


@dataclass
class Checkpoint:
    run: str
    arm: str
    step: int
    results: dict | None  # the test results file; None when only metrics.json exists
    results_path: str | None  # local path or Hub address of that file
    validation: dict | None = None  # a results file whose benchmark.split is "validation"
    validation_path: str | None = None
    metrics: dict | None = None  # the checkpoint folder's metrics.json, when there is one
    epoch: int | None = None
    adapter: str | None = None  # loadable adapter spec: a folder or repo@branch
    base: str | None = None
    revision: str = ""  # the model revision that produced the results


@dataclass
class Run:
    name: str
    arm: str
    source: str  # local | hub | results
    location: str
    checkpoints: list[Checkpoint] = field(default_factory=list)
    loss_history: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # split -> points
    run_state: dict | None = None


def load_runs(specs: list[str], hub: Hub | None = None) -> list[Run]:
    """Every run named on the command line, in order; a results folder may hold several runs."""
    runs: list[Run] = []
    for spec in specs:
        path = Path(spec).expanduser()
        if path.is_dir():
            runs += [load_run_folder(path)] if run_folder.is_run_folder(path) else load_results_folder(path)
        elif spec.count("/") == 1 and not path.exists():
            runs.append(load_hub_run(spec, hub or Hub.from_env()))
        else:
            raise ReportInputError(
                f"--runs {spec!r} is neither a run folder, a folder of results files, nor a Hub repo id "
                "like 'user/deep-run'."
            )
    names = [run.name for run in runs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ReportInputError(f"Two inputs hold a run with the same name: {', '.join(duplicates)}.")
    for run in runs:
        run.checkpoints.sort(key=lambda c: c.step)
    return runs


def is_validation(results: dict, where: str) -> bool:
    """Validation results live in a run's results/validation/ folder (or say benchmark.split)."""
    return results["benchmark"].get("split") == "validation" or run_folder.is_validation_path(where)


def results_step(results: dict) -> int:
    """The training step of a results file: model.step, else the step in its adapter's name."""
    model = results["model"]
    if model.get("step") is not None:
        return int(model["step"])
    for text in (model.get("adapter") or "", model.get("name") or ""):
        parsed = naming.parse_checkpoint_dirname(text.rstrip("/").split("/")[-1])
        if parsed:
            return parsed[0]
        branch = naming.parse_branch_name(text.rsplit("@", 1)[-1])
        if branch is not None:
            return branch
    return 0  # the base model, or a single evaluation without a step


def load_run_folder(path: Path, name: str | None = None, source: str = "local", location: str = "") -> Run:
    """A training run folder (codegen_lab.run_folder): checkpoints, loss history, run state, results."""
    name = name or path.resolve().name
    run = Run(name=name, arm=naming.arm_of(name), source=source, location=location or str(path))
    run.loss_history = loss_curves(run_folder.read_json(path / run_folder.LOSS_HISTORY) or None)
    run.run_state = run_folder.read_run_state(path) or None
    # the base as the run was given it (an embedded alias loads offline; adapter_config names its Hub id)
    trained_on = ((run.run_state or {}).get("recipe") or {}).get("base_model")
    by_step: dict[int, Checkpoint] = {}
    for folder in sorted(p for p in path.iterdir() if p.is_dir()):
        parsed = naming.parse_checkpoint_dirname(folder.name)
        if not parsed:
            continue
        step, epoch = parsed
        adapter = str(folder) if (folder / run_folder.ADAPTER_CONFIG).is_file() else None
        base = trained_on or (run_folder.adapter_base(folder) if adapter else None)
        by_step[step] = Checkpoint(
            run=name,
            arm=run.arm,
            step=step,
            epoch=epoch,
            results=None,
            results_path=None,
            metrics=run_folder.read_metrics(folder) or None,
            adapter=adapter,
            base=base,
            revision=folder.name,
        )
    results_dir = path / run_folder.RESULTS_DIR
    files = sorted(results_dir.rglob("*.json")) if results_dir.is_dir() else []
    for file in files:
        results = read_results(file)
        step = results_step(results)
        checkpoint = by_step.setdefault(
            step, Checkpoint(run=name, arm=run.arm, step=step, results=None, results_path=None)
        )
        _attach(checkpoint, results, str(file))
    run.checkpoints = list(by_step.values())
    return run


def _attach(checkpoint: Checkpoint, results: dict, where: str) -> None:
    if is_validation(results, where):
        checkpoint.validation, checkpoint.validation_path = results, where
    else:
        checkpoint.results, checkpoint.results_path = results, where
    model = results["model"]
    checkpoint.base = checkpoint.base or model.get("base")
    checkpoint.adapter = checkpoint.adapter or model.get("adapter")
    checkpoint.revision = checkpoint.revision or model.get("adapter") or model.get("name", "")


def load_results_folder(path: Path) -> list[Run]:
    """A folder of results files (e.g. results/course/), grouped into runs by model.run (else arm)."""
    files = sorted(
        p for p in path.glob("*.json") if is_results_file(p)
    )  # other JSON (e.g. a leaderboard) is skipped
    runs: dict[str, Run] = {}
    for file in files:
        results = read_results(file)
        model = results["model"]
        name = model.get("run") or model.get("arm") or naming.arm_of(model["name"])
        run = runs.setdefault(
            name,
            Run(name=name, arm=model.get("arm") or naming.arm_of(name), source="results", location=str(path)),
        )
        step = results_step(results)
        checkpoint = next((c for c in run.checkpoints if c.step == step), None)
        if checkpoint is None:
            checkpoint = Checkpoint(run=name, arm=run.arm, step=step, results=None, results_path=None)
            run.checkpoints.append(checkpoint)
        _attach(checkpoint, results, str(file))
    if not runs:
        raise ReportInputError(
            f"{path} holds no checkpoint folders and no results files (*.json with schema {SCHEMA!r})."
        )
    return list(runs.values())


def revision_step(revision: run_folder.HubRevision) -> int:
    """A checkpoint branch's step; ``main`` holding a single adapter: the step its results name, else 0."""
    if revision.step is not None:
        return revision.step
    steps = [results_step(read_results(f)) for f, _ in revision.results_candidates() if is_results_file(f)]
    return steps[0] if steps else 0


def load_hub_run(repo_id: str, hub: Hub) -> Run:
    """A run pushed to the Hub: main holds the run files, each of run_folder.run_branches one checkpoint."""
    main = run_folder.download_revision(hub, repo_id, "main")
    run = load_run_folder(
        main.folder, name=repo_id.split("/")[-1], source="hub", location=hub.describe(repo_id)
    )
    by_step = {c.step: c for c in run.checkpoints}
    for revision in run_folder.hub_checkpoints(hub, repo_id):
        step = revision_step(revision)
        checkpoint = by_step.setdefault(
            step, Checkpoint(run=run.name, arm=run.arm, step=step, results=None, results_path=None)
        )
        checkpoint.metrics = revision.metrics
        checkpoint.adapter = checkpoint.revision = f"{repo_id}@{revision.branch}"
        for file, name in revision.results_candidates():
            if is_results_file(file):
                _attach(checkpoint, read_results(file), f"{revision.where}/{name}")
        reported = (checkpoint.metrics or {}).get("results_file")
        if checkpoint.results is None and reported and (main.folder / reported).is_file():
            # metrics.json names the results file; it may live on main's results/ folder
            _attach(checkpoint, read_results(main.folder / reported), str(main.folder / reported))
    run.checkpoints = list(by_step.values())
    return run
