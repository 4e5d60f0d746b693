"""Hub model cards: one per pushed adapter (checkpoint branch) and one for a run's ``main`` branch.

Inputs are plain dicts: the training arguments, and per checkpoint the contents of its ``metrics.json``
(the results file's ``metrics`` and ``benchmark`` blocks; read by codegen_lab.run_folder). Pass@1 with
its 95 % interval and the test scope go into ``model-index`` so the Hub shows them and tools can read
them back:

    from model_cards.card import render_adapter_card
    text = render_adapter_card(base_model="Qwen/Qwen2.5-Coder-1.5B-Instruct", dataset="Naholav/CodeGen-Deep-5K",
                               training_args=args, step=300, epoch=1, repo_id="me/deep-lora",
                               evaluations=json.loads(Path("metrics.json").read_text()))
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from codegen_lab import run_folder
from codegen_lab.embedded import EMBEDDED_MODELS, upstream_id
from codegen_lab.naming import arm_of, branch_name

LCB_DATASET = "livecodebench/code_generation_lite"
BASE_TAGS = ["peft", "lora", "code", "codegen-lora-lab", "livecodebench"]
LIMITATIONS = """\
- Pass@1 is measured on a small benchmark slice (see the number of problems above): the 95 % Wilson
  interval is wide, and differences between checkpoints inside it are not evidence of a real change.
- A `public-only` test scope is more lenient than the full (public + private) tests; compare only
  results with the same scope, prompt style and sampling settings.
- The adapter was trained on synthetic solutions to competitive-programming problems; it is not
  tuned for general Python, safety, or conversation, and its code must be run in a sandbox.
- Problems of the training data may resemble benchmark problems; see the training dataset's
  contamination report."""


def hub_model_id(name: str) -> str | None:
    """The Hub id to cite for a model name: an embedded alias maps to its upstream, a folder to none."""
    repo_id = upstream_id(name).split("@", 1)[0]
    return repo_id if repo_id.count("/") == 1 and not Path(name).exists() else None


def base_provenance(base_model: str) -> str:
    """A paragraph on the weights trained on when they are a GGUF copy of the cited base (an embedded alias)."""
    if base_model not in EMBEDDED_MODELS:
        return ""
    model = EMBEDDED_MODELS[base_model]
    return (
        f"\n\nTrained on `{model.gguf}`, a GGUF quantization of {model.hub_id} that codegen-lora-lab ships as "
        f"`{model.alias}` and dequantizes to bf16; the adapter loads on the Hub model itself, whose "
        "outputs can differ slightly from the quantized copy's."
    )


def benchmark_label(benchmark: Mapping) -> tuple[str | None, str]:
    """(config, split) naming the benchmark slice, e.g. ("release_v5", "atcoder easy 2024-08-01..")."""
    filters = benchmark.get("filters") or {}
    parts = [filters.get("platform"), filters.get("difficulty")]
    if filters.get("start_date") or filters.get("end_date"):
        parts.append(f"{filters.get('start_date') or ''}..{filters.get('end_date') or ''}")
    split = " ".join(str(p) for p in parts if p) or Path(str(benchmark.get("source", "test"))).stem
    return filters.get("release"), split


def format_pass(metrics: Mapping) -> str:
    """``0.122 [0.053, 0.255]`` from a results ``metrics`` block."""
    low, high = metrics.get("pass@1_ci95") or (None, None)
    interval = f" [{low:.3f}, {high:.3f}]" if low is not None else ""
    return f"{metrics['pass@1']:.3f}{interval}"


def eval_result(evaluation: Mapping) -> Any:
    """One ``EvalResult``: Pass@1 as the value; interval, role, scope and counts in the metric name and
    args (not the dataset args: model-index merges results on the same dataset into one entry)."""
    from huggingface_hub import EvalResult

    metrics, benchmark = evaluation["metrics"], evaluation.get("benchmark", {})
    config, split = benchmark_label(benchmark)
    scope = benchmark.get("test_scope", "full")
    low, high = metrics.get("pass@1_ci95") or (None, None)
    interval = f", 95% CI {low:.3f}-{high:.3f}" if low is not None else ""
    role = f"{evaluation['split']}, " if evaluation.get("split") else ""
    metric_args = {
        "ci95_low": low,
        "ci95_high": high,
        "role": evaluation.get("split"),
        "test_scope": scope,
        "n_problems": metrics.get("n_problems", benchmark.get("n_problems")),
        "n_solved": metrics.get("n_solved"),
    }
    dataset_args = {
        key: benchmark[key] for key in ("preset", "source", "n_problems", "n_tests") if benchmark.get(key)
    }
    return EvalResult(
        task_type="text-generation",
        task_name="Code generation",
        dataset_type=LCB_DATASET,
        dataset_name="LiveCodeBench",
        dataset_config=config,
        dataset_split=split,
        dataset_revision=benchmark.get("revision"),
        dataset_args=dataset_args or None,
        metric_type="pass@1",
        metric_name=f"Pass@1 ({role}{scope} tests{interval})",
        metric_value=round(float(metrics["pass@1"]), 4),
        metric_args={key: value for key, value in metric_args.items() if value is not None},
    )


def card_text(data: Any, body: str) -> str:
    """YAML front matter from ``ModelCardData`` followed by the Markdown body."""
    return f"---\n{data.to_yaml()}\n---\n\n{body.strip()}\n"


def card_data(
    base_model: str,
    dataset: str,
    evaluations: list[Mapping],
    model_name: str,
    license: str,
    tags: Sequence[str],
) -> Any:
    from huggingface_hub import ModelCardData

    dataset_id = hub_model_id(dataset) if not dataset.startswith("sample:") else None
    base_id = hub_model_id(base_model)
    return ModelCardData(
        base_model=base_id,
        base_model_relation="adapter" if base_id else None,  # how the Hub links this repo to its base
        library_name="peft",
        pipeline_tag="text-generation",
        license=license,
        language=["en"],
        tags=[*BASE_TAGS, *(t for t in tags if t not in BASE_TAGS)],
        datasets=[dataset_id] if dataset_id else None,
        metrics=["pass@1"] if evaluations else None,
        model_name=model_name,
        eval_results=[eval_result(e) for e in evaluations] or None,
    )


def results_table(evaluations: list[Mapping]) -> str:
    if not evaluations:
        return "Not evaluated yet."
    lines = [
        "| role | benchmark | problems | test scope | Pass@1 | 95 % interval | solved |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for evaluation in evaluations:
        metrics, benchmark = evaluation["metrics"], evaluation.get("benchmark", {})
        config, split = benchmark_label(benchmark)
        low, high = metrics.get("pass@1_ci95") or (None, None)
        interval = f"[{low:.3f}, {high:.3f}]" if low is not None else "n/a"
        name = " ".join(p for p in ("LiveCodeBench", config, split) if p)
        lines.append(
            f"| {evaluation.get('split', '-')} | {name} | {metrics.get('n_problems', benchmark.get('n_problems', '?'))} "
            f"| {benchmark.get('test_scope', 'full')} | {metrics['pass@1']:.3f} | {interval} "
            f"| {metrics.get('n_solved', '?')} |"
        )
    return "\n".join(lines)


def recipe_table(training_args: Mapping[str, Any]) -> str:
    """Every hyperparameter, one row each, in name order (nested values as compact JSON)."""
    lines = ["| parameter | value |", "| --- | --- |"]
    for key in sorted(training_args):
        value = training_args[key]
        shown = value if isinstance(value, str | int | float | bool) or value is None else json.dumps(value)
        lines.append(f"| `{key}` | `{shown}` |")
    return "\n".join(lines)


def usage_snippet(base_model: str, adapter: str, revision: str | None = None) -> str:
    """The Python that loads ``adapter`` (a Hub repo at ``revision``, or a folder), for cards and the Space.

    AutoPeftModelForCausalLM loads the base named in ``adapter_config.json`` (the Hub id, never an
    embedded alias); the tokenizer comes from that base, as a demo adapter ships no tokenizer files."""
    at = f', revision="{revision}"' if revision else ""
    return (
        "from peft import AutoPeftModelForCausalLM\n"
        "from transformers import AutoTokenizer\n\n"
        f'model = AutoPeftModelForCausalLM.from_pretrained("{adapter}"{at})\n'
        f'tokenizer = AutoTokenizer.from_pretrained("{hub_model_id(base_model) or base_model}")\n'
    )


def dataset_link(dataset: str, dataset_split: str) -> str:
    dataset_id = hub_model_id(dataset) if not dataset.startswith("sample:") else None
    shown = f"[{dataset}](https://huggingface.co/datasets/{dataset_id})" if dataset_id else f"`{dataset}`"
    return f"{shown}, split `{dataset_split}`"


def render_adapter_card(
    *,
    base_model: str,
    dataset: str,
    training_args: Mapping[str, Any],
    step: int | None = None,
    epoch: float | None = None,
    repo_id: str | None = None,
    revision: str | None = None,
    run_name: str | None = None,
    evaluations: Mapping | Sequence[Mapping] | None = None,
    dataset_split: str = "train",
    train_command: str | None = None,
    loss_curves: str | None = run_folder.LOSS_CURVES,
    license: str = "apache-2.0",
    tags: Sequence[str] = (),
) -> str:
    """The card of one adapter; ``revision`` defaults to the checkpoint's branch ``step-{S:06d}``."""
    evaluations = run_folder.evaluations(evaluations)
    revision = revision or (branch_name(step) if step is not None else "main")
    repo_id = repo_id or f"your-username/{run_name or 'codegen-lora'}"
    name = f"{run_name or repo_id.split('/')[-1]}" + (f" @ step {step}" if step is not None else "")
    where = f"step {step}" + (f", epoch {epoch:g}" if epoch is not None else "") if step is not None else ""
    arm = arm_of(run_name or repo_id)
    data = card_data(base_model, dataset, evaluations, name, license, [*tags, f"arm-{arm}"])
    curves = f"![Training curves: train, validation and test loss]({loss_curves})" if loss_curves else "None."
    body = f"""
# {name}

A LoRA adapter for **{hub_model_id(base_model) or base_model}** fine-tuned with TRL's `SFTTrainer` (loss on
the assistant turn only) with codegen-lora-lab. {f"Checkpoint at {where}; " if where else ""}Hub
revision `{revision}` of `{repo_id}`. Study arm: `{arm}`.{base_provenance(base_model)}

## Results

{results_table(evaluations)}

Greedy decoding unless the recipe says otherwise; the interval is the 95 % Wilson score interval over
problems.

## Training data

{dataset_link(dataset, dataset_split)}. Each row is a conversation: the fixed system prompt, the
problem statement as the user turn, and the Python solution as the assistant turn.

{closing_sections(training_args, curves, usage_snippet(base_model, repo_id, revision), train_command)}"""
    return card_text(data, body)


def render_run_card(
    *,
    run_name: str,
    base_model: str,
    dataset: str,
    training_args: Mapping[str, Any],
    checkpoints: Sequence[Mapping[str, Any]],
    repo_id: str | None = None,
    best_step: int | None = None,
    main_step: int | None = None,
    stop_reason: str | None = None,
    dataset_split: str = "train",
    train_command: str | None = None,
    loss_curves: str | None = run_folder.LOSS_CURVES,
    license: str = "apache-2.0",
    tags: Sequence[str] = (),
) -> str:
    """The ``main`` branch card: every checkpoint in a table with links to its branch.

    Each checkpoint is a dict with ``step``, ``epoch``, ``train_loss``, ``eval_loss`` (validation) and
    optionally its ``metrics.json`` content merged in (``metrics``, ``benchmark``) or a list of them
    under ``evaluations``. The best checkpoint is ``best_step`` if given, else the lowest validation
    loss (never the test benchmark). ``main_step`` is the checkpoint whose adapter ``main`` holds
    (default: the best); its Pass@1 goes into ``model-index``.
    """
    repo_id = repo_id or f"your-username/{run_name}"
    rows = sorted(checkpoints, key=lambda c: c["step"])
    best_step = best_step if best_step is not None else best_by_validation(rows)
    if main_step is None:
        main_step = best_step if best_step is not None or not rows else rows[-1]["step"]
    main_row = next((c for c in rows if c["step"] == main_step), None)
    main_evals = checkpoint_evaluations(main_row) if main_row else []
    usage = usage_snippet(base_model, repo_id, branch_name(best_step) if best_step is not None else "main")
    arm = arm_of(run_name)
    data = card_data(base_model, dataset, main_evals, run_name, license, [*tags, f"arm-{arm}"])
    curves = f"![Training curves: train, validation and test loss]({loss_curves})" if loss_curves else ""
    stopped = f"\n\nThe run stopped early: {stop_reason}." if stop_reason else ""
    body = f"""
# {run_name}

LoRA adapters for **{hub_model_id(base_model) or base_model}** trained on {dataset_link(dataset, dataset_split)},
one Hub branch per checkpoint. `main` holds the adapter of step {main_step}. Study arm: `{arm}`.{stopped}{base_provenance(base_model)}

{checkpoint_sections(rows, repo_id, best_step, main_evals)}

{closing_sections(training_args, curves, usage, train_command)}"""
    return card_text(data, body)


def checkpoint_sections(
    rows: Sequence[Mapping[str, Any]], repo_id: str, best_step: int | None, main_evals
) -> str:
    """The run card's checkpoint table, its best checkpoint and the results of the adapter on ``main``."""
    best_branch = branch_name(best_step) if best_step is not None else "n/a"
    return f"""## Checkpoints

{checkpoint_table(rows, repo_id, best_step)}

Best checkpoint (highest Pass@1 on the validation benchmark, else lowest validation loss; never the
test benchmark): **step {best_step}**
(branch `{best_branch}`). Pass@1 is shown with its 95 %
interval.

## Results of the adapter on `main`

{results_table(main_evals)}"""


def closing_sections(
    training_args: Mapping[str, Any], curves: str, usage: str, train_command: str | None
) -> str:
    """How every card ends: the recipe, the training curves, how to use and reproduce it, limitations."""
    command = train_command or "python -m training.sft --config training/recipes/<recipe>.yaml"
    return f"""## Recipe

{recipe_table(training_args)}

## Training curves

{curves}

## How to use

```python
{usage}```

## How to reproduce

```bash
{command}
```

## Limitations

{LIMITATIONS}
"""


def checkpoint_metrics(checkpoint: Mapping[str, Any]) -> Mapping | Sequence[Mapping] | None:
    """A card row's metrics.json content(s): under ``evaluations``, or merged into the row."""
    if "evaluations" in checkpoint:
        return checkpoint["evaluations"]
    return checkpoint if "metrics" in checkpoint else None


def checkpoint_evaluations(checkpoint: Mapping[str, Any]) -> list[Mapping]:
    return run_folder.evaluations(checkpoint_metrics(checkpoint))


def best_by_validation(checkpoints: Sequence[Mapping[str, Any]]) -> int | None:
    """The run's best checkpoint by codegen_lab.selection's rule, from the card's checkpoint rows."""
    from codegen_lab.selection import best_step

    rows = [run_folder.candidate(c["step"], checkpoint_metrics(c), c.get("eval_loss")) for c in checkpoints]
    return best_step(rows)[0]


def checkpoint_table(rows: Sequence[Mapping[str, Any]], repo_id: str, best_step: int | None) -> str:
    lines = [
        "| step | epoch | branch | train loss | validation loss | Pass@1 [95 % CI] |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        branch = branch_name(row["step"])
        link = f"[`{branch}`](https://huggingface.co/{repo_id}/tree/{branch})"
        passes = "<br>".join(_role(e) + format_pass(e["metrics"]) for e in checkpoint_evaluations(row)) or "-"
        marker = " **(best)**" if row["step"] == best_step else ""
        lines.append(
            f"| {row['step']}{marker} | {_num(row.get('epoch'))} | {link} | {_num(row.get('train_loss'))} "
            f"| {_num(row.get('eval_loss'))} | {passes} |"
        )
    return "\n".join(lines)


def _role(evaluation: Mapping) -> str:
    return f"{evaluation['split']}: " if evaluation.get("split") else ""


def _num(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
