"""Judge checkpoints with the evaluation API and pick the run's best one by validation, never by test.

``metrics.json`` beside an adapter holds the reported evaluation (``split`` = ``test`` once the final
test run is done, else ``validation``) as ``metrics``/``benchmark``/``results_file``, plus the
validation evaluation under ``validation`` whenever there was one.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from codegen_lab.naming import parse_checkpoint_dirname
from codegen_lab.selection import BY_LOSS, BY_PASS, Candidate, best_step
from training.callbacks import LOSS_HISTORY, METRICS, list_checkpoints, read_json, write_json_atomic

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
        from evaluation.api import EvalConfig, default_adapter_name, evaluate_models

        run_dir = checkpoint.parent
        out_dir = run_dir / "results" / ("validation" if split == "validation" else "")
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
        block = {
            "metrics": results["metrics"],
            "benchmark": results["benchmark"],
            "results_file": paths[name].relative_to(run_dir).as_posix(),
        }
        metrics = read_json(checkpoint / METRICS)
        if split == "validation":
            metrics = {"split": "validation", **block, "validation": block}
        else:
            metrics = {"split": "test", **block, "validation": metrics.get("validation")}
        write_json_atomic(checkpoint / METRICS, metrics)
        logger.info("%s %s pass@1 = %.3f", name, split, block["metrics"]["pass@1"])
        return metrics


def best_checkpoint(output_dir: str | Path) -> tuple[Path | None, str]:
    """(checkpoint, why): highest validation Pass@1, else lowest validation loss, else the latest."""
    checkpoints = list_checkpoints(output_dir)
    if not checkpoints:
        return None, "no checkpoint was saved"
    val_loss = {
        e["step"]: e["loss"] for e in read_json(Path(output_dir) / LOSS_HISTORY).get("validation", [])
    }
    by_step = {parse_checkpoint_dirname(path.name)[0]: path for path in checkpoints}

    def candidate(step: int) -> Candidate:
        validation = read_json(by_step[step] / METRICS).get("validation") or {}
        return Candidate(step, (validation.get("metrics") or {}).get("pass@1"), val_loss.get(step))

    candidates = {step: candidate(step) for step in by_step}
    step, measure = best_step(candidates.values())
    if measure == BY_PASS:
        return by_step[step], f"highest validation Pass@1 ({candidates[step].validation_pass_at_1:.3f})"
    if measure == BY_LOSS:
        return by_step[step], f"lowest validation loss ({candidates[step].validation_loss:.4f})"
    return checkpoints[-1], "latest checkpoint (no validation signal)"
