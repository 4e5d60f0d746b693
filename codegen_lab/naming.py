"""One naming scheme for checkpoints, Hub branches and results files, used by every stage and the app."""

from __future__ import annotations

import re

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
