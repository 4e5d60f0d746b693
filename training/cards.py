"""Model cards of a run, rendered by model_cards.card: one per checkpoint and the run card for ``main``."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from codegen_lab.atomic import write_text_atomic
from codegen_lab.naming import parse_checkpoint_dirname
from codegen_lab.run_folder import (
    CARD,
    LOSS_CURVES,
    LOSS_HISTORY,
    list_checkpoints,
    read_json,
    read_metrics,
    read_run_state,
)


@dataclass
class CardWriter:
    base_model: str
    dataset: str
    recipe: dict = field(default_factory=dict)  # every hyperparameter worth reproducing
    hub_repo: str | None = None
    train_command: str | None = None

    def write_checkpoint_card(self, checkpoint: Path, run: str | None = None) -> Path:
        """The card of a ``checkpoint-step-S-epoch-E`` folder (or of a copy named ``run``, e.g. a demo adapter)."""
        from model_cards.card import render_adapter_card

        step, epoch = parse_checkpoint_dirname(checkpoint.name) or (None, None)
        curves = checkpoint.parent / LOSS_CURVES
        if run is None and curves.is_file():  # the curves so far travel with the adapter to its branch
            shutil.copyfile(curves, checkpoint / LOSS_CURVES)
        text = render_adapter_card(
            base_model=self.base_model,
            dataset=self.dataset,
            training_args=self.recipe,
            step=step,
            epoch=epoch,
            repo_id=self.hub_repo,
            revision=None if run is None else "main",
            run_name=run or checkpoint.parent.name,
            evaluations=read_metrics(checkpoint) or None,
            train_command=self.train_command,
            loss_curves=LOSS_CURVES if (checkpoint / LOSS_CURVES).is_file() else None,
        )
        return write_text_atomic(checkpoint / CARD, text)

    def write_run_card(self, output_dir: Path, best: Path | None) -> Path:
        """README.md of the run folder (pushed to ``main``): every checkpoint, the best one marked."""
        from model_cards.card import render_run_card

        history = read_json(output_dir / LOSS_HISTORY)
        train = {p["step"]: p["loss"] for p in history.get("train", [])}
        validation = {p["step"]: p["loss"] for p in history.get("validation", [])}
        rows = []
        for checkpoint in list_checkpoints(output_dir):
            step, epoch = parse_checkpoint_dirname(checkpoint.name)
            last_train = [loss for s, loss in train.items() if s <= step]
            rows.append(
                {
                    "step": step,
                    "epoch": epoch,
                    "train_loss": last_train[-1] if last_train else None,
                    "eval_loss": validation.get(step),
                    "evaluations": read_metrics(checkpoint) or [],
                }
            )
        text = render_run_card(
            run_name=output_dir.name,
            base_model=self.base_model,
            dataset=self.dataset,
            training_args=self.recipe,
            checkpoints=rows,
            repo_id=self.hub_repo,
            best_step=parse_checkpoint_dirname(best.name)[0] if best else None,
            stop_reason=read_run_state(output_dir).get("stop_reason"),
            train_command=self.train_command,
            loss_curves=LOSS_CURVES if (output_dir / LOSS_CURVES).is_file() else None,
        )
        return write_text_atomic(output_dir / CARD, text)
