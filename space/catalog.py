"""Which models the arena and the downloads tab offer: the base, the demo adapters, every checkpoint of
the local runs, and the Hub repos/branches listed in ``space/models.yaml``.

A choice's ``spec`` is what the engine loads: ``__base__``, a local folder, or ``repo_id@revision``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from codegen_lab import BASE_ADAPTER
from codegen_lab.naming import arm_of, parse_checkpoint_dirname

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_ADAPTERS_DIR = REPO_ROOT / "demo" / "adapters"
MODELS_YAML = Path(__file__).resolve().parent / "models.yaml"
OUTPUTS_ENV = "CODEGEN_LAB_OUTPUTS"  # where local training runs live; default ./outputs


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
    example: bool = False  # an illustrative Hub entry that may not exist


def outputs_dir() -> Path:
    return Path(os.environ.get(OUTPUTS_ENV, REPO_ROOT / "outputs")).expanduser()


def _adapter_base(folder: Path) -> str | None:
    try:
        return json.loads((folder / "adapter_config.json").read_text()).get("base_model_name_or_path")
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
        for p in root.glob("/".join(["*"] * depth) + "/adapter_config.json")
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


def hub_choices(path: Path = MODELS_YAML) -> list[ModelChoice]:
    """The ``models:`` list of the YAML file: label, repo, revision, arm, base, example."""
    import yaml

    if not path.is_file():
        return []
    entries = (yaml.safe_load(path.read_text()) or {}).get("models") or []
    choices = []
    for entry in entries:
        revision = str(entry.get("revision") or "main")
        example = bool(entry.get("example", False))
        label = entry.get("label") or f"{entry['repo']}@{revision}"
        choices.append(
            ModelChoice(
                label=f"hub: {label}" + (" (example)" if example else ""),
                spec=f"{entry['repo']}@{revision}",
                source="hub",
                arm=entry.get("arm") or arm_of(entry["repo"]),
                repo=entry["repo"],
                revision=revision,
                base_model=entry.get("base"),
                example=example,
            )
        )
    return choices


def model_choices(base_model: str) -> list[ModelChoice]:
    """Base first, then demo adapters, local checkpoints and configured Hub models."""
    base = ModelChoice(label=f"base: {base_model}", spec=BASE_ADAPTER, source="base", arm="base")
    return [base, *_scan(DEMO_ADAPTERS_DIR, "demo"), *_scan(outputs_dir(), "local"), *hub_choices()]
