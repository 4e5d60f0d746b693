"""The study's runs as every reader sees them: the leaderboard, the study report and the evaluation CLI.

An `Evaluation` is one model judged on one benchmark: a results file, a checkpoint's metrics.json, a card's
model-index or another leaderboard's per-problem scores. A `Checkpoint` is one step of a run with its test
and validation evaluations and what loads it; a `Run` holds its checkpoints, loss curves and run state.
The loaders read local run folders (codegen_lab.run_folder), folders of results files and Hub run repos.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from codegen_lab import naming, run_folder
from codegen_lab.hub import Hub
from codegen_lab.loss_history import loss_curves
from evaluation.results import SCHEMA, is_results_file, read_results


class StudyInputError(ValueError):
    """A run, row or source the caller named that cannot be read or compared, with what is wrong with it."""


@dataclass
class Evaluation:
    """One evaluated model or checkpoint; ``problems`` maps question id -> that problem's Pass@1."""

    key: str  # unique among the evaluations shown together (the leaderboard makes it so)
    name: str
    run: str
    arm: str
    step: int | None
    pass_at_1: float
    ci95: tuple[float, float] | None
    n_problems: int
    benchmark: str  # describe_benchmark of the benchmark block
    test_scope: str
    prompt_style: str
    sampling: str
    date: str
    source: str  # local | Hub | reference | LiveCodeBench leaderboard
    origin: str  # local path or Hub address of the file it comes from
    problems: dict[str, float] = field(default_factory=dict)
    results: dict | None = None  # the whole results file (samples, verdicts) when it comes from one


def evaluation_from_results(data: dict, source: str, origin: str) -> Evaluation:
    """An evaluation from a results file's JSON (``source`` is ``local``, ``Hub`` or ``reference``)."""
    model, bench, config, metrics = data["model"], data["benchmark"], data.get("config", {}), data["metrics"]
    name = model["name"]
    sampling = config.get("sampling", {})
    problems = {p["question_id"]: float(p["pass@1"]) for p in data.get("problems", [])}
    ci = metrics.get("pass@1_ci95")
    return Evaluation(
        key=name,
        name=name,
        run=model.get("run") or name,
        arm=model.get("arm") or naming.arm_of(name),
        step=results_step(data),
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
        results=data,
    )


def describe_benchmark(bench: dict) -> str:
    """The preset (``study``), else the contest-date window (a run's validation set); `` first N`` if cut."""
    filters = bench.get("filters") or {}
    label = bench.get("preset") or f"{filters.get('start_date', '')}..{filters.get('end_date', '')}"
    return f"{label} first {filters['limit']}" if filters.get("limit") else label


def describe_sampling(sampling: dict) -> str:
    if float(sampling.get("temperature", 0.0)) == 0.0:
        return f"greedy, n={sampling.get('n', 1)}"
    return f"T={sampling['temperature']}, top_p={sampling.get('top_p', 1.0)}, n={sampling.get('n', 1)}"


def results_step(results: dict) -> int | None:
    """The training step of a results file: model.step, else the step in its adapter's or its name."""
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
    return None  # the base model, or a single evaluation without a step


def is_validation(results: dict, where: str) -> bool:
    """Validation results live in a run's results/validation/ folder (or say benchmark.split)."""
    return results["benchmark"].get("split") == "validation" or run_folder.is_validation_path(where)


@dataclass
class Checkpoint:
    run: str
    arm: str
    step: int
    test: Evaluation | None = None  # its test results file; None when only metrics.json exists
    validation: Evaluation | None = None  # a results file of the validation benchmark
    metrics: dict | None = None  # the checkpoint folder's metrics.json, when there is one
    epoch: int | None = None
    adapter: str | None = None  # loadable adapter spec: a folder or repo@branch
    base: str | None = None
    revision: str = ""  # the model revision that produced the results

    @property
    def id(self) -> str:
        """How the report and its figures name the checkpoint: ``run@step``."""
        return f"{self.run}@{self.step}"

    def attach(self, results: dict, where: str, source: str = "local") -> None:
        """Add a results file: the test or the validation evaluation, by where it lies."""
        evaluation = evaluation_from_results(results, source, where)
        if is_validation(results, where):
            self.validation = evaluation
        else:
            self.test = evaluation
        model = results["model"]
        self.base = self.base or model.get("base")
        self.adapter = self.adapter or model.get("adapter")
        self.revision = self.revision or model.get("adapter") or model.get("name", "")


@dataclass
class Run:
    name: str
    arm: str
    source: str  # local | hub | results
    location: str
    checkpoints: list[Checkpoint] = field(default_factory=list)
    loss_history: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # split -> points
    run_state: dict | None = None

    def checkpoint(self, step: int) -> Checkpoint:
        """The checkpoint of ``step``, added when the run has none yet."""
        found = next((c for c in self.checkpoints if c.step == step), None)
        if found is None:
            found = Checkpoint(run=self.name, arm=self.arm, step=step)
            self.checkpoints.append(found)
        return found

    def judged(self) -> list[Checkpoint]:
        """The checkpoints with a test results file (per-problem outcomes), in the run's order."""
        return [c for c in self.checkpoints if c.test is not None]


# -- loaders ------------------------------------------------------------------------------------------
def load_runs(specs: list[str], hub: Hub | None = None) -> list[Run]:
    """Every run named (run folders, folders of results files, Hub repos), in order, checkpoints by step."""
    runs: list[Run] = []
    for spec in specs:
        path = Path(spec).expanduser()
        if path.is_dir():
            runs += [load_run_folder(path)] if run_folder.is_run_folder(path) else load_results_folder(path)
        elif spec.count("/") == 1 and not path.exists():
            runs.append(load_hub_run(spec, hub or Hub.from_env()))
        else:
            raise StudyInputError(
                f"--runs {spec!r} is neither a run folder, a folder of results files, nor a Hub repo id "
                "like 'user/deep-run'."
            )
    names = [run.name for run in runs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise StudyInputError(f"Two inputs hold a run with the same name: {', '.join(duplicates)}.")
    for run in runs:
        run.checkpoints.sort(key=lambda c: c.step)
    return runs


def load_run_folder(path: Path, name: str | None = None, source: str = "local", location: str = "") -> Run:
    """A training run folder (codegen_lab.run_folder): checkpoints, loss history, run state, results."""
    name = name or path.resolve().name
    run = Run(name=name, arm=naming.arm_of(name), source=source, location=location or str(path))
    run.loss_history = loss_curves(run_folder.read_json(path / run_folder.LOSS_HISTORY) or None)
    run.run_state = run_folder.read_run_state(path) or None
    # the base as the run was given it (an embedded alias loads offline; adapter_config names its Hub id)
    trained_on = ((run.run_state or {}).get("recipe") or {}).get("base_model")
    for folder in sorted(p for p in path.iterdir() if p.is_dir()):
        parsed = naming.parse_checkpoint_dirname(folder.name)
        if not parsed:
            continue
        checkpoint = run.checkpoint(parsed[0])
        checkpoint.epoch, checkpoint.revision = parsed[1], folder.name
        checkpoint.metrics = run_folder.read_metrics(folder) or None
        checkpoint.adapter = str(folder) if (folder / run_folder.ADAPTER_CONFIG).is_file() else None
        checkpoint.base = trained_on or (run_folder.adapter_base(folder) if checkpoint.adapter else None)
    results_dir = path / run_folder.RESULTS_DIR
    for file in sorted(results_dir.rglob("*.json")) if results_dir.is_dir() else []:
        results = read_results(file)
        run.checkpoint(results_step(results) or 0).attach(results, str(file))
    return run


def load_results_folder(path: Path) -> list[Run]:
    """A folder of results files (e.g. results/course/), grouped into runs by model.run (else arm)."""
    runs: dict[str, Run] = {}
    for file in sorted(p for p in path.glob("*.json") if is_results_file(p)):  # other JSON is skipped
        results = read_results(file)
        model = results["model"]
        name = model.get("run") or model.get("arm") or naming.arm_of(model["name"])
        run = runs.setdefault(
            name,
            Run(name=name, arm=model.get("arm") or naming.arm_of(name), source="results", location=str(path)),
        )
        run.checkpoint(results_step(results) or 0).attach(results, str(file))
    if not runs:
        raise StudyInputError(
            f"{path} holds no checkpoint folders and no results files (*.json with schema {SCHEMA!r})."
        )
    return list(runs.values())


def revision_step(revision: run_folder.HubRevision) -> int:
    """A checkpoint branch's step; ``main`` holding a single adapter: the step its results name, else 0."""
    if revision.step is not None:
        return revision.step
    steps = [results_step(read_results(f)) for f, _ in revision.results_candidates() if is_results_file(f)]
    return (steps[0] or 0) if steps else 0


def load_hub_run(repo_id: str, hub: Hub) -> Run:
    """A run pushed to the Hub: main holds the run files, each of run_folder.run_branches one checkpoint."""
    main = run_folder.download_revision(hub, repo_id, "main")
    run = load_run_folder(
        main.folder, name=repo_id.split("/")[-1], source="hub", location=hub.describe(repo_id)
    )
    for revision in run_folder.hub_checkpoints(hub, repo_id):
        checkpoint = run.checkpoint(revision_step(revision))
        checkpoint.metrics = revision.metrics
        checkpoint.adapter = checkpoint.revision = f"{repo_id}@{revision.branch}"
        for file, name in revision.results_candidates():
            if is_results_file(file):
                checkpoint.attach(read_results(file), f"{revision.where}/{name}", "Hub")
        reported = (checkpoint.metrics or {}).get("results_file")
        if checkpoint.test is None and reported and (main.folder / reported).is_file():
            # metrics.json names the results file; it may live on main's results/ folder
            checkpoint.attach(read_results(main.folder / reported), str(main.folder / reported), "Hub")
    return run
