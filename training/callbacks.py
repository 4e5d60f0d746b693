"""Trainer callbacks of a run, one job each: checkpoint names, LossGuard, loss history, evaluation, cards.

They talk through plain files in the run folder (codegen_lab.run_folder: loss history, run state, each
checkpoint's metrics), so any of them can be dropped without breaking the others. The Hub push
lives in ``training.hub_push``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

from transformers import TrainerCallback

from codegen_lab.atomic import write_json_atomic
from codegen_lab.loss_history import VALIDATION_LOSS, loss_curves, loss_history
from codegen_lab.naming import checkpoint_dirname
from codegen_lab.run_folder import LOSS_CURVES, LOSS_HISTORY, update_run_state

logger = logging.getLogger(__name__)


# -- run folder helpers ---------------------------------------------------------------------------
def checkpoint_epoch(epoch: float | None) -> int:
    """The 1-based epoch a step belongs to (the study's ``-epoch-{E}``); the last step of epoch 1 is epoch 1."""
    return max(1, math.ceil((epoch or 0.0) - 1e-6))


def checkpoint_path(output_dir: str | Path, step: int, epoch: float | None) -> Path:
    return Path(output_dir) / checkpoint_dirname(step, checkpoint_epoch(epoch))


def _barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


# -- callbacks ------------------------------------------------------------------------------------
class CheckpointNaming(TrainerCallback):
    """Rename the Trainer's ``checkpoint-N`` to the study's ``checkpoint-step-N-epoch-E`` right after saving.

    Must come first among the callbacks that use the checkpoint on save.
    """

    def on_save(self, args, state, control, **kwargs):
        _barrier()  # every rank has written its RNG state into checkpoint-N
        if state.is_world_process_zero:
            source = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            target = checkpoint_path(args.output_dir, state.global_step, state.epoch)
            if target.exists():  # the same step saved again after a resume
                shutil.rmtree(target)
            os.replace(source, target)
        _barrier()


class LossGuard(TrainerCallback):
    """Stop a run whose loss explodes or whose validation loss keeps rising; say why in run_state.json.

    From ``start_step`` on: train or validation loss above ``max_loss`` (or not a number), or validation
    loss higher than the evaluation before on ``patience`` consecutive evaluations.
    """

    def __init__(self, max_loss: float = 1.0, patience: int = 3, start_step: int = 100):
        self.max_loss, self.patience, self.start_step = max_loss, patience, start_step
        self.eval_losses: list[float] = []

    def on_train_begin(self, args, state, control, **kwargs):
        # On resume the restored log history holds the evaluations before the checkpoint.
        self.eval_losses = [entry[VALIDATION_LOSS] for entry in state.log_history if VALIDATION_LOSS in entry]

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        reason = None
        if VALIDATION_LOSS in logs:
            self.eval_losses.append(logs[VALIDATION_LOSS])
            reason = self._too_high("validation", logs[VALIDATION_LOSS]) or self._rising()
        if "loss" in logs:
            reason = reason or self._too_high("train", logs["loss"])
        if reason is None or state.global_step < self.start_step:
            return
        control.should_training_stop = True
        message = f"LossGuard stopped training at step {state.global_step}: {reason}"
        logger.warning(message)
        if state.is_world_process_zero:
            update_run_state(
                args.output_dir, stopped_early=True, stop_step=state.global_step, stop_reason=message
            )

    def _too_high(self, which: str, value: float) -> str | None:
        if not value <= self.max_loss:  # also catches NaN
            return f"{which} loss {value:.4f} is above the threshold {self.max_loss}"
        return None

    def _rising(self) -> str | None:
        tail = self.eval_losses[-(self.patience + 1) :]
        if len(tail) == self.patience + 1 and all(b > a for a, b in zip(tail, tail[1:], strict=False)):
            values = " -> ".join(f"{v:.4f}" for v in tail)
            return f"validation loss rose on {self.patience} consecutive evaluations ({values})"
        return None


class LossHistory(TrainerCallback):
    """Train, validation and test loss at every logging/eval point, as loss_history.json and loss_curves.png.

    Rebuilt from the Trainer's log history each time, so a resumed run continues the same curves.
    """

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero:
            return
        from analysis.figures import loss_figure, save_png

        output_dir = Path(args.output_dir)
        history = loss_history(state.log_history)
        write_json_atomic(output_dir / LOSS_HISTORY, history)
        curves = {output_dir.name: loss_curves(history)}
        save_png(loss_figure(curves, title=f"Loss: {output_dir.name}"), output_dir / LOSS_CURVES)


class EvaluateOnSave(TrainerCallback):
    """Judge each new checkpoint on the validation benchmark and write its metrics.json.

    Generation runs in this process on a fresh copy of base + adapter; the generated programs only ever
    run in the judge's sandboxed subprocesses.
    """

    def __init__(self, evaluator):
        self.evaluator = evaluator

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            with preserved_rng_state():  # the checkpoint's RNG state was saved before this: resume must match
                self.evaluator.evaluate(
                    checkpoint_path(args.output_dir, state.global_step, state.epoch), "validation"
                )


@contextlib.contextmanager
def preserved_rng_state() -> Iterator[None]:
    """Run a block (model loading, sampling) without moving the training's random streams."""
    import numpy as np
    import torch

    python_state, numpy_state = random.getstate(), np.random.get_state()
    devices = list(range(torch.cuda.device_count()))
    with torch.random.fork_rng(devices=devices):
        yield
    random.setstate(python_state)
    np.random.set_state(numpy_state)


class CheckpointCard(TrainerCallback):
    """Write the model card (README.md) of each new checkpoint from its files and the run's recipe."""

    def __init__(self, card_writer):
        self.card_writer = card_writer

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.card_writer.write_checkpoint_card(
                checkpoint_path(args.output_dir, state.global_step, state.epoch)
            )
