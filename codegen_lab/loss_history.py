"""The format of a run's loss history file (its name: codegen_lab.run_folder.LOSS_HISTORY): written by
training.callbacks.LossHistory, read by the report and the Space.

``{"train": [{"step", "epoch", "loss"}], "validation": [...], "test": [...]}``; a Trainer ``log_history``
list (records with ``loss``, ``eval_loss``, ``eval_<split>_loss``) is read too.
"""

from __future__ import annotations

import json
from pathlib import Path

# Keys the Trainer logs for the evaluation datasets {"validation": ..., "test": ...}.
VALIDATION_LOSS = "eval_validation_loss"
TEST_LOSS = "eval_test_loss"


def loss_history(log_history: list[dict]) -> dict[str, list[dict]]:
    series = {"train": "loss", "validation": VALIDATION_LOSS, "test": TEST_LOSS}
    return {
        name: [{"step": e["step"], "epoch": e.get("epoch"), "loss": e[key]} for e in log_history if key in e]
        for name, key in series.items()
    }


def loss_curves(raw: dict | list | None) -> dict[str, list[tuple[int, float]]]:
    """{split: [(step, loss)]} from either {split: [{step, loss}]} or a Trainer-style list of log rows.

    Log rows carry ``loss`` (train) or ``eval_loss`` / ``eval_<split>_loss`` with a ``step``.
    """
    curves: dict[str, list[tuple[int, float]]] = {}
    if isinstance(raw, dict):
        for split, points in raw.items():
            if isinstance(points, list):
                curves[_split_name(split)] = [(int(p["step"]), float(p["loss"])) for p in points]
    elif isinstance(raw, list):
        for row in raw:
            for key, value in row.items():
                split = _log_key_split(key)
                if split and "step" in row and value is not None:
                    curves.setdefault(split, []).append((int(row["step"]), float(value)))
    return {split: sorted(points) for split, points in sorted(curves.items()) if points}


def _split_name(name: str) -> str:
    return {"eval": "validation", "val": "validation", "valid": "validation"}.get(name, name)


def _log_key_split(key: str) -> str | None:
    if key in ("loss", "train_loss_step"):
        return "train"
    if key == "eval_loss":
        return "validation"
    if key.startswith("eval_") and key.endswith("_loss"):
        return _split_name(key[len("eval_") : -len("_loss")])
    return None


def read_loss_curves(path: Path) -> dict[str, list[tuple[int, float]]]:
    """The curves of a loss history file (empty when there is none)."""
    return loss_curves(json.loads(path.read_text()) if path.is_file() else None)
