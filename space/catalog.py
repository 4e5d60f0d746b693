"""Which models the arena and the downloads tab offer: the base, the demo adapters, every checkpoint of
the local runs, the Hub models listed in ``space/models.yaml`` and one choice per checkpoint branch of its
``repos`` (read again on every call, so a run's checkpoints appear as they are pushed).

A choice's ``spec`` is what the engine loads: ``__base__``, a local folder, or ``repo_id@revision``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from codegen_lab import BASE_ADAPTER
from codegen_lab.hub import Hub, HubError
from codegen_lab.naming import arm_of, parse_checkpoint_dirname
from codegen_lab.paths import REPO_ROOT, outputs_dir
from codegen_lab.run_folder import ADAPTER_CONFIG, adapter_base, run_branches

logger = logging.getLogger(__name__)

DEMO_ADAPTERS_DIR = REPO_ROOT / "demo" / "adapters"
MODELS_YAML = Path(__file__).resolve().parent / "models.yaml"
MODELS_ENV = "CODEGEN_LAB_MODELS"  # another models.yaml (Hub models and leaderboard repos)


@dataclass(frozen=True)
class ModelChoice:
    label: str
    spec: str
    source: str  # base | demo | local | hub
    arm: str = "other"
    repo: str | None = None
    revision: str | None = None
    path: Path | None = None
    base_model: str | None = None  # what the adapter was trained on, when known


def models_config() -> Path:
    return Path(os.environ.get(MODELS_ENV, MODELS_YAML)).expanduser()


def _adapter_base(folder: Path) -> str | None:
    try:
        return adapter_base(folder)
    except (OSError, ValueError):
        return None


def _step_key(folder: Path) -> tuple:
    parsed = parse_checkpoint_dirname(folder.name)
    return (str(folder.parent), parsed or (10**9, 0), folder.name)


def _scan(root: Path, source: str, max_depth: int = 3) -> list[ModelChoice]:
    """Every adapter folder under ``root`` (a run's final adapter and each checkpoint-step-* folder)."""
    if not root.is_dir():
        return []
    folders = [
        p.parent
        for depth in range(1, max_depth + 1)
        for p in root.glob("/".join(["*"] * depth) + f"/{ADAPTER_CONFIG}")
    ]
    choices = []
    for folder in sorted(set(folders), key=_step_key):
        rel = folder.relative_to(root).as_posix()
        choices.append(
            ModelChoice(
                label=f"{source}: {rel}",
                spec=str(folder),
                source=source,
                arm=arm_of(rel),
                path=folder,
                base_model=_adapter_base(folder),
            )
        )
    return choices


def hub_choices(path: Path | None = None) -> list[ModelChoice]:
    """The ``models:`` list of the YAML file: label, repo, revision, arm, base."""
    import yaml

    path = path or models_config()
    if not path.is_file():
        return []
    entries = (yaml.safe_load(path.read_text()) or {}).get("models") or []
    choices = []
    for entry in entries:
        revision = str(entry.get("revision") or "main")
        label = entry.get("label") or f"{entry['repo']}@{revision}"
        choices.append(
            ModelChoice(
                label=f"hub: {label}",
                spec=f"{entry['repo']}@{revision}",
                source="hub",
                arm=entry.get("arm") or arm_of(entry["repo"]),
                repo=entry["repo"],
                revision=revision,
                base_model=entry.get("base"),
            )
        )
    return choices


def branch_choices(path: Path | None = None, hub: Hub | None = None) -> list[ModelChoice]:
    """One choice per checkpoint revision of each ``repos:`` entry (codegen_lab.run_folder.run_branches).

    A repo that cannot be read is left out with a warning; the leaderboard names the reason.
    """
    from analysis.runs import StudyInputError
    from space.hub_results import configured_repos

    try:
        repos = configured_repos(path or models_config())
    except (OSError, StudyInputError) as err:
        logger.warning("Model lists: %s", err)
        return []
    hub = hub or (Hub.from_env() if repos else None)
    choices = []
    for repo, revision in repos:
        try:
            branches = run_branches(hub, repo, revision)
        except HubError as err:
            logger.warning("Model lists: %s: %s", repo, err)
            continue
        for branch in branches:
            spec = f"{repo}@{branch}"
            choices.append(ModelChoice(f"hub: {spec}", spec, "hub", arm_of(repo), repo=repo, revision=branch))
    return choices


def same_base(a: str, b: str) -> bool:
    """Whether two base-model names are the same model (an embedded alias is its upstream Hub id)."""
    from codegen_lab.embedded import upstream_id

    return upstream_id(a).split("@")[0] == upstream_id(b).split("@")[0]


def model_choices(base_model: str) -> list[ModelChoice]:
    """Base first, then the demo adapters and local checkpoints that fit it, then configured Hub models,
    then the ``step-*`` branches of the configured repos.

    A local adapter trained on another base is left out (it could not be attached); a Hub entry is the
    user's own configuration and is always listed.
    """
    base = ModelChoice(label=f"base: {base_model}", spec=BASE_ADAPTER, source="base", arm="base")
    local = [*_scan(DEMO_ADAPTERS_DIR, "demo"), *_scan(outputs_dir(), "local")]
    fitting = [c for c in local if c.base_model is None or same_base(c.base_model, base_model)]
    listed = hub_choices()
    specs = {c.spec for c in listed}
    return [base, *fitting, *listed, *(c for c in branch_choices() if c.spec not in specs)]


def opening_pair(choices: list[ModelChoice]) -> tuple[str, str]:
    """The specs the Arena opens on: a deep model left, a diverse one right (configured Hub models before
    the demo adapters, those before local runs); the base where an arm has no model."""
    rank = {"hub": 0, "demo": 1, "local": 2, "base": 3}

    def first(arm: str) -> str:
        candidates = sorted((c for c in choices if c.arm == arm), key=lambda c: rank[c.source])
        return candidates[0].spec if candidates else BASE_ADAPTER

    return first("deep"), first("diverse")
