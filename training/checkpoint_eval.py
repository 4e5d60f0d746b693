"""Judge checkpoints with the evaluation API and pick the run's best one by validation, never by test.

Each evaluation is recorded in the checkpoint's metrics file by codegen_lab.run_folder (its layout lives
there), and the best checkpoint is chosen from that module's candidate list.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from codegen_lab import run_folder
from codegen_lab.naming import parse_checkpoint_dirname
from codegen_lab.selection import BY_LOSS, BY_PASS, best_step

logger = logging.getLogger(__name__)


@dataclass
class CheckpointEvaluator:
    """Evaluates one checkpoint at a time on the validation or the test benchmark."""

    base: str
    validation_benchmark: dict = field(default_factory=dict)  # load_benchmark(**kwargs)
    test_benchmark: dict = field(default_factory=dict)
    max_new_tokens: int = 1024
    batch_size: int = 8
    _loaded: dict = field(default_factory=dict, repr=False)

    def benchmark(self, split: str):
        if split not in self._loaded:
            from evaluation.benchmark import load_benchmark

            self._loaded[split] = load_benchmark(
                **(self.validation_benchmark if split == "validation" else self.test_benchmark)
            )
        return self._loaded[split]

    def evaluate(self, checkpoint: Path, split: str) -> dict:
        """Evaluate ``checkpoint`` on ``split`` (validation|test); results go under ``<run>/results/``."""
        from codegen_lab.naming import default_adapter_name
        from evaluation.pipeline import EvalConfig, evaluate_models

        run_dir = checkpoint.parent
        out_dir = run_folder.results_dir(run_dir, split)
        name = default_adapter_name(str(checkpoint))
        step = parse_checkpoint_dirname(checkpoint.name)[0]
        logger.info("Evaluating %s on the %s benchmark", name, split)
        paths = evaluate_models(
            self.base,
            {name: str(checkpoint)},
            self.benchmark(split),
            out_dir,
            EvalConfig(max_new_tokens=self.max_new_tokens, batch_size=self.batch_size),
            model_info={"run": run_dir.name, "step": step, "source": "local"},
        )
        results = json.loads(paths[name].read_text())
        block = run_folder.evaluation_block(results, paths[name].relative_to(run_dir).as_posix())
        metrics = run_folder.write_metrics(checkpoint, split, block)
        logger.info("%s %s pass@1 = %.3f", name, split, block["metrics"]["pass@1"])
        return metrics


def best_checkpoint(output_dir: str | Path) -> tuple[Path | None, str]:
    """(checkpoint, why): highest validation Pass@1, else lowest validation loss, else the latest."""
    candidates = run_folder.candidates(output_dir)
    if not candidates:
        return None, "no checkpoint was saved"
    by_step = {c.step: path for path, c in candidates.items()}
    step, measure = best_step(candidates.values())
    best = by_step.get(step)
    if measure == BY_PASS:
        return best, f"highest validation Pass@1 ({candidates[best].validation_pass_at_1:.3f})"
    if measure == BY_LOSS:
        return best, f"lowest validation loss ({candidates[best].validation_loss:.4f})"
    return list(candidates)[-1], "latest checkpoint (no validation signal)"
