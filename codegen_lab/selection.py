"""Which checkpoint of a run is its best: the one rule the trainer, the cards and the study report share.

Highest validation-benchmark Pass@1 (ties: lower validation loss, then the later step); without any
validation Pass@1, the lowest validation loss (ties: the later step); never anything measured on the test set.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

BY_PASS = "validation Pass@1"
BY_LOSS = "validation loss"


@dataclass(frozen=True)
class Candidate:
    step: int
    validation_pass_at_1: float | None = None
    validation_loss: float | None = None


def best_step(candidates: Iterable[Candidate]) -> tuple[int | None, str | None]:
    """(step, the measure it won on: BY_PASS or BY_LOSS), or (None, None) without any validation signal."""
    candidates = list(candidates)
    judged = [c for c in candidates if c.validation_pass_at_1 is not None]
    if judged:
        return max(judged, key=lambda c: (c.validation_pass_at_1, -_loss(c), c.step)).step, BY_PASS
    with_loss = [c for c in candidates if c.validation_loss is not None]
    if with_loss:
        return min(with_loss, key=lambda c: (c.validation_loss, -c.step)).step, BY_LOSS
    return None, None


def _loss(candidate: Candidate) -> float:
    return candidate.validation_loss if candidate.validation_loss is not None else float("inf")
