"""Ship the best checkpoint of each demo run as demo/adapters/<run>/ and judge it on the 41-problem benchmark.

    python scripts/demo_adapters.py --runs outputs/demo-runs/deep-smoke outputs/demo-runs/diverse-smoke

Called by scripts/make-demo-adapters.sh after the two smoke trainings.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from codegen_lab import EMBEDDED_MODEL  # noqa: E402
from codegen_lab.hub import CHECKPOINT_IGNORE  # noqa: E402
from codegen_lab.naming import parse_checkpoint_dirname  # noqa: E402
from training.callbacks import METRICS, read_json, write_json_atomic  # noqa: E402
from training.cards import CardWriter  # noqa: E402
from training.hub_push import PUSH_IGNORE  # noqa: E402

# The app loads the tokenizer from the base model; its 3.4 MB copy would only bloat the repo.
SKIPPED = [*PUSH_IGNORE, "tokenizer.json", "tokenizer_config.json"]


def ship(run_dir: Path, out_root: Path) -> tuple[Path, int]:
    """Copy the run's best checkpoint without trainer state or tokenizer to ``out_root/<run>``; returns (folder, step)."""
    best = run_dir / read_json(run_dir / "run_state.json")["best_checkpoint"]
    target = out_root / run_dir.name
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for path in sorted(best.iterdir()):
        if path.is_file() and not any(fnmatch.fnmatch(path.name, p) for p in CHECKPOINT_IGNORE + SKIPPED):
            shutil.copyfile(path, partial / path.name)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target, parse_checkpoint_dirname(best.name)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("demo/adapters"))
    parser.add_argument("--results", type=Path, default=Path("results/demo"))
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=48, help="48 > 41: one batch, the fastest on CPU")
    options = parser.parse_args()

    from evaluation.api import EvalConfig, evaluate_models
    from evaluation.benchmark import STUDY_PRESET, load_benchmark

    benchmark = load_benchmark(preset=STUDY_PRESET)
    for run_dir in options.runs:
        adapter, step = ship(run_dir, options.out)
        name = run_dir.name
        paths = evaluate_models(
            EMBEDDED_MODEL,
            {name: str(adapter)},
            benchmark,
            options.results,
            EvalConfig(max_new_tokens=options.max_new_tokens, batch_size=options.batch_size),
            model_info={"run": name, "step": step, "source": "local"},
        )
        results = json.loads(paths[name].read_text())
        metrics = {
            "split": "test",
            "metrics": results["metrics"],
            "benchmark": results["benchmark"],
            "results_file": paths[name].as_posix(),
            "validation": None,
        }
        write_json_atomic(adapter / METRICS, metrics)
        recipe = read_json(run_dir / "run_state.json").get("recipe", {})
        CardWriter(EMBEDDED_MODEL, recipe.get("dataset", "sample"), recipe).write_checkpoint_card(
            adapter, run=name
        )
        print(f"{name}: pass@1 {results['metrics']['pass@1']:.3f} -> {adapter}, {paths[name]}")


if __name__ == "__main__":
    main()
