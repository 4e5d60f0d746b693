"""Ship the best checkpoint of each demo run as demo/adapters/<run>/ (bf16) and judge them on the 41 problems.

    python scripts/demo_adapters.py --runs outputs/demo-runs/deep-smoke outputs/demo-runs/diverse-smoke
    python scripts/demo_adapters.py --runs outputs/qwen-demo/deep-qwen-demo outputs/qwen-demo/diverse-qwen-demo \\
        --results results/qwen --max_new_tokens 1024 --batch_size 16 --include_base

The base model is the runs' own (their run_state.json recipe). All adapters (and, with --include_base, the
base) are judged in one run of mixed-adapter batches; each adapter folder gets its metrics.json and card.
Called by scripts/make-demo-adapters.sh and scripts/qwen-study.sh.

--recard rewrites the card and adapter_config.json of adapters already shipped, from their metrics.json
and the recipe their card shows, without the runs, training or judging (the weights and results stay
byte for byte; the results files were computed from them). It is how the four demo adapters got the
Hub id of their base in place of the embedded alias:

    python scripts/demo_adapters.py --recard --runs deep-smoke diverse-smoke deep-qwen-demo diverse-qwen-demo
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from codegen_lab.atomic import write_text_atomic  # noqa: E402
from codegen_lab.embedded import upstream_id  # noqa: E402
from codegen_lab.hub import CHECKPOINT_IGNORE  # noqa: E402
from codegen_lab.naming import parse_checkpoint_dirname  # noqa: E402
from codegen_lab.run_folder import (  # noqa: E402
    ADAPTER_CONFIG,
    CARD,
    evaluation_block,
    read_json,
    read_run_state,
    write_metrics,
)
from training.cards import CardWriter  # noqa: E402
from training.hub_push import PUSH_IGNORE  # noqa: E402

# The app loads the tokenizer from the base model; its copy would only bloat the repo.
SKIPPED = [*PUSH_IGNORE, "tokenizer.json", "tokenizer_config.json", "adapter_model.safetensors"]


@dataclass
class DemoArguments:
    runs: list[str] = field(metadata={"help": "training run folders, one per demo adapter"})
    output_dir: str = field(default="demo/adapters", metadata={"help": "where the adapter folders go"})
    results: str = field(default="results/demo", metadata={"help": "where their results files go"})
    max_new_tokens: int = 128
    batch_size: int = field(default=48, metadata={"help": "sequences per batch (48 > 41: one batch)"})
    include_base: bool = field(default=False, metadata={"help": "judge the base model in the same run"})
    recard: bool = field(
        default=False, metadata={"help": "only rewrite the card and adapter_config of output_dir/<run name>"}
    )


def ship(run_dir: Path, out_root: Path) -> tuple[Path, int]:
    """The run's best checkpoint as ``out_root/<run>``: adapter weights in bf16, card files, no trainer state."""
    from safetensors.torch import load_file, save_file

    best = run_dir / read_run_state(run_dir)["best_checkpoint"]
    target = out_root / run_dir.name
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for path in sorted(best.iterdir()):
        if path.is_file() and not any(fnmatch.fnmatch(path.name, p) for p in CHECKPOINT_IGNORE + SKIPPED):
            shutil.copyfile(path, partial / path.name)
    weights = load_file(best / "adapter_model.safetensors")
    save_file(
        {k: v.bfloat16() if v.is_floating_point() else v for k, v in weights.items()},
        partial / "adapter_model.safetensors",
    )
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target, parse_checkpoint_dirname(best.name)[0]


def recipe_from_card(card: Path) -> dict:
    """The recipe a card's table shows, read back; refused unless it renders to the same table again."""
    import yaml

    from model_cards.card import recipe_table

    rows = re.findall(r"^\| `([^`]+)` \| `([^`]*)` \|$", card.read_text(), flags=re.MULTILINE)
    recipe = {key: yaml.safe_load(value) for key, value in rows}
    if not recipe or recipe_table(recipe) not in card.read_text():
        raise SystemExit(f"{card}: its recipe table does not read back to the same table; rerun the demo.")
    return recipe


def recard(adapter: Path) -> None:
    """The adapter's base named by its Hub id in adapter_config.json and a card rendered again."""
    recipe = recipe_from_card(adapter / CARD)
    config = json.loads((adapter / ADAPTER_CONFIG).read_text())
    config["base_model_name_or_path"] = upstream_id(recipe["base_model"])
    write_text_atomic(adapter / ADAPTER_CONFIG, json.dumps(config, indent=2, sort_keys=True))
    writer = CardWriter(recipe["base_model"], recipe.get("dataset", "sample"), recipe)
    writer.write_checkpoint_card(adapter, run=adapter.name)
    print(f"{adapter}: base {config['base_model_name_or_path']}, card rewritten")


def main(args: DemoArguments) -> None:
    if args.recard:
        for run in args.runs:
            recard(Path(args.output_dir) / Path(run).name)
        return
    from evaluation.benchmark import STUDY_PRESET, load_benchmark
    from evaluation.pipeline import EvalConfig, evaluate_models

    runs = [Path(run) for run in args.runs]
    recipes = {run.name: read_run_state(run).get("recipe", {}) for run in runs}
    bases = {recipe["base_model"] for recipe in recipes.values()}
    if len(bases) != 1:
        raise SystemExit(
            f"The runs were trained on different bases ({', '.join(sorted(bases))}); ship them apart."
        )
    base = bases.pop()
    shipped = {run.name: ship(run, Path(args.output_dir)) for run in runs}
    paths = evaluate_models(
        base,
        {name: str(adapter) for name, (adapter, _) in shipped.items()},
        load_benchmark(preset=STUDY_PRESET),
        args.results,
        EvalConfig(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size),
        include_base=args.include_base,
    )
    for name, (adapter, step) in shipped.items():
        results = read_json(paths[name])
        block = evaluation_block(results, paths[name].as_posix())
        write_metrics(adapter, "test", block, keep_validation=False)  # judged here, in bf16
        recipe = recipes[name]
        CardWriter(base, recipe.get("dataset", "sample"), recipe).write_checkpoint_card(adapter, run=name)
        print(f"{name} (step {step}): pass@1 {results['metrics']['pass@1']:.3f} -> {adapter}, {paths[name]}")


if __name__ == "__main__":
    from transformers import HfArgumentParser

    main(*HfArgumentParser(DemoArguments).parse_args_into_dataclasses())
