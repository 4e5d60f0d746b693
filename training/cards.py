"""Model cards of a run: one per checkpoint (README.md beside the adapter) and the run card for ``main``."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from codegen_lab.naming import parse_checkpoint_dirname
from training.callbacks import CARD, LOSS_CURVES, METRICS, list_checkpoints, read_json


@dataclass
class CardWriter:
    base_model: str
    dataset: str
    recipe: dict = field(default_factory=dict)  # every hyperparameter worth reproducing
    hub_repo: str | None = None

    def write_checkpoint_card(self, checkpoint: Path) -> Path:
        step, epoch = parse_checkpoint_dirname(checkpoint.name)
        metrics = read_json(checkpoint / METRICS)
        curves = checkpoint.parent / LOSS_CURVES
        if curves.is_file():  # the curves so far travel with the adapter to its branch
            shutil.copyfile(curves, checkpoint / LOSS_CURVES)
        text = _render_adapter_card(self, checkpoint.parent.name, step, epoch, metrics)
        path = checkpoint / CARD
        _write_text_atomic(path, text)
        return path

    def write_run_card(self, output_dir: Path, best: Path | None, why: str) -> Path:
        rows = [
            (c.name, parse_checkpoint_dirname(c.name)[0], read_json(c / METRICS))
            for c in list_checkpoints(output_dir)
        ]
        text = _render_run_card(self, output_dir.name, rows, best.name if best else None, why)
        path = output_dir / CARD
        _write_text_atomic(path, text)
        return path


def _front_matter(writer: CardWriter) -> str:
    return (
        "---\n"
        f"base_model: {writer.base_model}\n"
        "library_name: peft\n"
        "license: apache-2.0\n"
        "pipeline_tag: text-generation\n"
        "tags: [lora, sft, trl, code, livecodebench]\n"
        "---\n"
    )


def _pass_at_1(metrics: dict) -> str:
    if not metrics.get("metrics"):
        return "not evaluated"
    m = metrics["metrics"]
    low, high = m.get("pass@1_ci95", [None, None])
    where = f"{metrics.get('split', '?')}, {metrics['benchmark'].get('n_problems')} problems"
    return (
        f"{m['pass@1']:.3f} (95% CI {low:.3f}-{high:.3f}; {where})"
        if low is not None
        else f"{m['pass@1']:.3f}"
    )


def _render_adapter_card(writer: CardWriter, run: str, step: int, epoch: int, metrics: dict) -> str:
    recipe = "\n".join(f"| {k} | {v} |" for k, v in writer.recipe.items())
    return (
        _front_matter(writer) + f"\n# {run} - step {step} (epoch {epoch})\n\n"
        f"LoRA adapter for `{writer.base_model}` trained with TRL SFT on `{writer.dataset}` "
        "(loss on the assistant turn only).\n\n"
        f"Pass@1: {_pass_at_1(metrics)}\n\n"
        f"![loss curves]({LOSS_CURVES})\n\n"
        f"## Recipe\n\n| parameter | value |\n| --- | --- |\n{recipe}\n"
    )


def _render_run_card(writer: CardWriter, run: str, rows: list, best: str | None, why: str) -> str:
    table = "\n".join(f"| {name} | {step} | {_pass_at_1(m)} |" for name, step, m in rows)
    return (
        _front_matter(writer) + f"\n# {run}\n\nLoRA run on `{writer.base_model}` with `{writer.dataset}`. "
        f"This revision holds `{best}` ({why}).\n\n"
        f"## Checkpoints\n\n| checkpoint | step | Pass@1 |\n| --- | --- | --- |\n{table}\n"
    )


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
