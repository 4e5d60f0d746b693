"""A training run folder, the one module that knows its layout: file names, metrics.json, checkpoints, Hub.

The trainer's callbacks, the cards, the study report, the leaderboard and the demo scripts all read or
write the same folder; they take its names and its readers from here, so the layout changes in one place::

    <output_dir>/                      pushed to the Hub as the run's model repo
      run_state.json                   RUN_STATE: LossGuard stop, best checkpoint, recipe, pushes
      loss_history.json                LOSS_HISTORY (format: codegen_lab.loss_history), LOSS_CURVES beside it
      README.md                        CARD: the run card (on ``main``)
      results/<slug>.json              RESULTS_DIR: the test results of the best checkpoint
      results/validation/<slug>.json   VALIDATION_DIR: each checkpoint's validation results
      checkpoint-step-{S}-epoch-{E}/   one per save (codegen_lab.naming), on Hub branch ``step-{S:06d}``
        adapter_config.json, adapter_model.safetensors, README.md, loss_curves.png, metrics.json,
        trainer_state.json (stays local)

On the Hub, ``main`` holds the best checkpoint's adapter plus MAIN_EXTRAS; see ``run_branches``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codegen_lab.atomic import write_json_atomic
from codegen_lab.naming import parse_branch_name, parse_checkpoint_dirname
from codegen_lab.selection import Candidate

if TYPE_CHECKING:
    from codegen_lab.hub import Hub

RUN_STATE = "run_state.json"
LOSS_HISTORY = "loss_history.json"
LOSS_CURVES = "loss_curves.png"
CARD = "README.md"
METRICS = "metrics.json"
ADAPTER_CONFIG = "adapter_config.json"
TRAINER_STATE = "trainer_state.json"  # the Trainer's own; marks a checkpoint that can be resumed
RESULTS_DIR = "results"
VALIDATION_DIR = "validation"
MAIN_EXTRAS = (CARD, LOSS_CURVES, LOSS_HISTORY)  # the run's files on `main`, beside the adapter
# Only the small files a reader needs; adapter weights stay on the Hub until a model is loaded.
HUB_RUN_FILES = ["*.json", f"{RESULTS_DIR}/*.json", f"{RESULTS_DIR}/**/*.json", CARD]


def read_json(path: Path) -> dict:
    """A JSON file of the folder, or ``{}`` when it is not there yet (every file appears during a run)."""
    return json.loads(path.read_text()) if path.is_file() else {}


# -- the run's own files ------------------------------------------------------------------------------
def read_run_state(run_dir: str | Path) -> dict:
    """The run's run_state.json, ``{}`` until LossGuard or the end of the run writes it."""
    return read_json(Path(run_dir) / RUN_STATE)


def update_run_state(run_dir: str | Path, **fields) -> dict:
    """Merge ``fields`` into ``run_state.json`` atomically: LossGuard and the end of the run both write it."""
    path = Path(run_dir) / RUN_STATE
    state = read_json(path) | fields
    write_json_atomic(path, state)
    return state


def results_dir(run_dir: str | Path, split: str) -> Path:
    """Where a checkpoint's results file goes: validation results apart, so the report tells them from test."""
    root = Path(run_dir) / RESULTS_DIR
    return root / VALIDATION_DIR if split == "validation" else root


def is_validation_path(where: str) -> bool:
    """Whether a results file sits in a ``results/validation/`` folder (what the trainer writes)."""
    return Path(where).parent.name == VALIDATION_DIR


def is_run_folder(path: Path) -> bool:
    """A folder the trainer wrote: it has a loss history, a run state, or a checkpoint folder."""
    return (
        (path / LOSS_HISTORY).is_file()
        or (path / RUN_STATE).is_file()
        or any(parse_checkpoint_dirname(p.name) for p in path.iterdir() if p.is_dir())
    )


# -- checkpoints --------------------------------------------------------------------------------------
def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """The run's ``checkpoint-step-*-epoch-*`` folders, by step."""
    found = [
        (parse_checkpoint_dirname(p.name), p) for p in Path(run_dir).glob("checkpoint-step-*") if p.is_dir()
    ]
    return [p for parsed, p in sorted((x for x in found if x[0]), key=lambda x: x[0][0])]


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """What ``--resume_from_checkpoint true`` resumes from (the Trainer only knows ``checkpoint-N``)."""
    checkpoints = [p for p in list_checkpoints(run_dir) if (p / TRAINER_STATE).is_file()]
    return checkpoints[-1] if checkpoints else None


def adapter_base(checkpoint: Path) -> str | None:
    """The base an adapter folder names in its ``adapter_config.json`` (None without one)."""
    return read_json(checkpoint / ADAPTER_CONFIG).get("base_model_name_or_path")


# -- metrics.json -------------------------------------------------------------------------------------
def evaluation_block(results: Mapping, results_file: str | None) -> dict:
    """What metrics.json keeps of one results file: enough for cards and rows without the file itself."""
    return {"metrics": results["metrics"], "benchmark": results["benchmark"], "results_file": results_file}


def write_metrics(checkpoint: Path, split: str, block: Mapping, keep_validation: bool = True) -> dict:
    """Record an evaluation: the top level is the reported one (test once done), ``validation`` is kept.

    Selection reads only ``validation``, so a test run never replaces the number the checkpoint was chosen
    by; a copy whose weights changed (a demo adapter in bf16) drops it with ``keep_validation=False``.
    """
    if split == "validation":
        metrics = {"split": "validation", **block, "validation": dict(block)}
    else:
        validation = read_metrics(checkpoint).get("validation") if keep_validation else None
        metrics = {"split": split, **block, "validation": validation}
    write_json_atomic(checkpoint / METRICS, metrics)
    return metrics


def read_metrics(checkpoint: Path) -> dict:
    """A checkpoint's metrics.json, ``{}`` before its first evaluation."""
    return read_json(checkpoint / METRICS)


def evaluations(content: Mapping | Sequence[Mapping] | None) -> list[Mapping]:
    """metrics.json content(s) as a list of evaluations with Pass@1, the validation one first.

    A reported test evaluation carries the validation one under ``validation``; cards list both.
    """
    if content is None:
        return []
    items = []
    for item in [content] if isinstance(content, Mapping) else content:
        nested = item.get("validation")
        if isinstance(nested, Mapping) and item.get("split") != "validation":
            items.append({**nested, "split": "validation"})
        items.append(item)
    return [item for item in items if "pass@1" in (item.get("metrics") or {})]


def validation_evaluation(content: Mapping | Sequence[Mapping] | None) -> Mapping | None:
    """The validation evaluation (``metrics``, ``benchmark``, ``results_file``), None if never judged on it."""
    return next((e for e in evaluations(content) if e.get("split") == "validation"), None)


def validation_pass_at_1(content: Mapping | Sequence[Mapping] | None) -> float | None:
    """The number a checkpoint is chosen by; None when it was never judged on the validation benchmark."""
    evaluation = validation_evaluation(content)
    return evaluation["metrics"]["pass@1"] if evaluation else None


def reported_test_metrics(content: Mapping | None) -> dict:
    """The reported test ``metrics`` block, ``{}`` while only validation ran (no ``split``: a test file)."""
    content = content or {}
    return dict(content.get("metrics") or {}) if content.get("split", "test") == "test" else {}


def candidate(
    step: int, content: Mapping | Sequence[Mapping] | None, validation_loss: float | None
) -> Candidate:
    """A checkpoint as codegen_lab.selection compares it, from its metrics.json and validation loss."""
    return Candidate(step, validation_pass_at_1(content), validation_loss)


def candidates(run_dir: str | Path) -> dict[Path, Candidate]:
    """Every checkpoint folder of a run with what selection needs (loss from loss_history.json)."""
    history = read_json(Path(run_dir) / LOSS_HISTORY)
    losses = {e["step"]: e["loss"] for e in history.get("validation", [])}
    found = {}
    for path in list_checkpoints(run_dir):
        step = parse_checkpoint_dirname(path.name)[0]
        found[path] = candidate(step, read_metrics(path), losses.get(step))
    return found


# -- the run on the Hub -------------------------------------------------------------------------------
def run_branches(hub: Hub, repo: str, revision: str | None = None) -> list[str]:
    """The revisions of a run repo that hold checkpoints: the one rule every Hub reader follows.

    A named revision alone; else the ``step-{S:06d}`` branches by step (``main`` only copies the best one
    of them); a repo without any is a single adapter on ``main``. Other branches (code, drafts) are not runs.
    """
    if revision:
        return [revision]
    steps = sorted(
        (parse_branch_name(b), b) for b in hub.list_branches(repo) if parse_branch_name(b) is not None
    )
    return [branch for _, branch in steps] or ["main"]


@dataclass
class HubRevision:
    """One revision of a run repo, its small files downloaded (``HUB_RUN_FILES``)."""

    repo: str
    branch: str
    folder: Path
    where: str  # the revision's address, for messages and citations

    @property
    def step(self) -> int | None:
        return parse_branch_name(self.branch)

    @property
    def metrics(self) -> dict | None:
        return read_metrics(self.folder) or None

    @property
    def card(self) -> Path | None:
        return self.folder / CARD if (self.folder / CARD).is_file() else None

    def results_candidates(self) -> list[tuple[Path, str]]:
        """(local file, path in the repo) of each JSON under ``results/``: where a run's results files live.

        Which of them are results files is evaluation.results' call (``is_results_file``), not this layout's.
        """
        root = self.folder / RESULTS_DIR
        found = sorted(root.rglob("*.json")) if root.is_dir() else []
        return [(p, p.relative_to(self.folder).as_posix()) for p in found]


def download_revision(hub: Hub, repo: str, branch: str) -> HubRevision:
    """A revision's small files only: readers need metrics, results and the card, never the weights."""
    folder = hub.download(repo, branch, allow_patterns=HUB_RUN_FILES)
    return HubRevision(repo, branch, folder, hub.describe(repo, branch))


def hub_checkpoints(hub: Hub, repo: str, revision: str | None = None) -> list[HubRevision]:
    """Each checkpoint revision of a run repo (``run_branches``), downloaded."""
    return [download_revision(hub, repo, branch) for branch in run_branches(hub, repo, revision)]
