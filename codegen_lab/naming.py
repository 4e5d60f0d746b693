"""One naming scheme for checkpoints, Hub branches and results files, used by every stage and the app."""

from __future__ import annotations

import re
from pathlib import Path

_CHECKPOINT = re.compile(r"checkpoint-step-(\d+)-epoch-(\d+)$")
_BRANCH = re.compile(r"step-(\d{6})$")


def checkpoint_dirname(step: int, epoch: int) -> str:
    """The study's folder convention: ``checkpoint-step-{S}-epoch-{E}``."""
    return f"checkpoint-step-{step}-epoch-{epoch}"


def parse_checkpoint_dirname(name: str) -> tuple[int, int] | None:
    """(step, epoch) from a checkpoint folder name (a prefix such as ``deep_instruction_`` is allowed)."""
    match = _CHECKPOINT.search(name)
    return (int(match[1]), int(match[2])) if match else None


def branch_name(step: int) -> str:
    """The Hub branch of one checkpoint: ``step-000100``."""
    return f"step-{step:06d}"


def parse_branch_name(name: str) -> int | None:
    match = _BRANCH.match(name)
    return int(match[1]) if match else None


def slugify(text: str) -> str:
    """A file-name-safe form of a model or adapter name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "model"


def arm_of(name: str) -> str:
    """The study arm a run or checkpoint name belongs to."""
    lowered = name.lower()
    for arm in ("deep", "diverse"):
        if arm in lowered:
            return arm
    return "other"


# -- how the evaluation names the models it judges ------------------------------------------------
def base_display_name(base: str) -> str:
    path = Path(base)
    return path.name if path.is_dir() else base


def adapter_model_info(name: str, spec: str) -> dict:
    """run, arm, step and source of an adapter spec (checkpoint folder or ``repo@step-000100``)."""
    path = Path(spec).expanduser()
    if path.is_dir():
        parsed = parse_checkpoint_dirname(path.name)
        run = path.parent.name if parsed else path.name
        return {"run": run, "arm": arm_of(name), "step": parsed[0] if parsed else None, "source": "local"}
    repo, _, revision = spec.partition("@")
    return {
        "run": repo.split("/")[-1],
        "arm": arm_of(name),
        "step": parse_branch_name(revision) if revision else None,
        "source": "hub",
    }


def default_adapter_name(spec: str) -> str:
    """``outputs/deep-smoke/checkpoint-step-20-epoch-1`` -> ``deep-smoke@step-000020``; a repo keeps its revision."""
    path = Path(spec).expanduser()
    if path.is_dir():
        parsed = parse_checkpoint_dirname(path.name)
        return f"{path.parent.name}@{branch_name(parsed[0])}" if parsed else path.name
    return spec.split("/")[-1]
