"""LoRA SFT of a code model on CodeGen-Deep/Diverse-style data with TRL; every checkpoint gets a card and a Hub branch.

    # smoke run: embedded SmolLM2-135M on CPU, the shipped sample, a few minutes
    python -m training.sft --config training/recipes/smoke.yaml

    # the study's arms on one GPU (Qwen2.5-Coder-1.5B-Instruct), each checkpoint pushed to branch step-{S:06d}
    python -m training.sft --config training/recipes/deep.yaml --hub_repo you/qwen2.5-coder-1.5b-deep-lora --push
    python -m training.sft --config training/recipes/diverse.yaml --evaluate_on_save --output_dir outputs/diverse

    # resume (the latest checkpoint-step-*-epoch-* of output_dir, or a given folder)
    python -m training.sft --config training/recipes/smoke.yaml --resume_from_checkpoint true

    # several GPUs
    accelerate launch --config_file training/accelerate/multi_gpu.yaml -m training.sft --config training/recipes/deep.yaml

Any YAML key can be overridden on the command line (``--max_steps 5 --lora_r 8``). Loss is computed on the
assistant turn only (its ``<|im_end|>`` included), through TRL's ``assistant_only_loss`` and a ChatML
template with ``{% generation %}`` markers.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

CHATML_TEMPLATE = Path(__file__).resolve().parents[1] / "codegen_lab" / "chatml_generation.jinja"
logger = logging.getLogger("training.sft")


@dataclass
class ScriptArguments:
    """The study's options on top of TRL's SFTConfig and ModelConfig."""

    dataset: str = field(
        default="sample:deep",
        metadata={
            "help": "Hub id (Naholav/CodeGen-Deep-5K), `deep`/`diverse`, `sample:deep`, or a local JSONL/parquet."
        },
    )
    think: bool = field(
        default=False, metadata={"help": "Train on `output` (<think> + code) instead of `solution`."}
    )
    resplit: bool = field(
        default=False, metadata={"help": "Grouped re-split by problem (no statement in two splits)."}
    )
    too_long: str = field(
        default="drop",
        metadata={
            "help": "Rows over max_length: `drop` them, or `truncate` (the trainer cuts them).",
            "choices": ["drop", "truncate"],
        },
    )
    eval_test_split: bool = field(
        default=True, metadata={"help": "Also compute the test-split loss at each evaluation."}
    )
    hub_repo: str | None = field(
        default=None, metadata={"help": "The run's model repo; one branch per checkpoint."}
    )
    push: bool = field(
        default=False, metadata={"help": "Push every checkpoint to `hub_repo` (through codegen_lab.hub)."}
    )
    local_hub: str | None = field(
        default=None,
        metadata={
            "help": "Push to this local Hub-shaped folder (<root>/<repo_id>/<branch>/) instead of the real Hub; "
            "default: CODEGEN_LAB_HUB, else the real Hub."
        },
    )
    push_retries: int = field(
        default=3, metadata={"help": "Attempts per push before it is reported as failed."}
    )
    push_backoff: float = field(
        default=5.0, metadata={"help": "Seconds before the first retry; doubles each time."}
    )
    evaluate_on_save: bool = field(
        default=False, metadata={"help": "Judge each checkpoint on the validation benchmark."}
    )
    validation_benchmark: str = field(
        default="livecodebench/code_generation_lite",
        metadata={
            "help": "Validation benchmark source (Hub id or file); disjoint in time from the test window."
        },
    )
    validation_release: str | None = "release_v5"
    validation_platform: str | None = "atcoder"
    validation_difficulty: str | None = "easy"
    validation_start_date: str | None = "2024-04-01"
    validation_end_date: str | None = field(
        default="2024-08-01", metadata={"help": "Exclusive; the study's test problems start on 2024-08-01."}
    )
    validation_limit: int | None = None
    test_benchmark: str | None = field(
        default=None,
        metadata={"help": "Reported benchmark source; default: the shared 41-problem file, else the Hub."},
    )
    test_preset: str | None = field(
        default="study", metadata={"help": "load_benchmark preset of the test benchmark."}
    )
    test_limit: int | None = None
    benchmark_test_scope: str = field(default="full", metadata={"choices": ["full", "public-only"]})
    eval_max_new_tokens: int = 1024
    eval_batch_size: int = 8
    loss_guard: bool = field(default=True, metadata={"help": "Stop on exploding or steadily rising loss."})
    loss_guard_max_loss: float = 1.0
    loss_guard_patience: int = field(
        default=3, metadata={"help": "Consecutive validation-loss rises that stop a run."}
    )
    loss_guard_start_step: int = 100


def hardware_defaults() -> dict:
    """Mixed precision chosen on purpose (``codegen_lab.models.pick_dtype``): GPU bf16 if supported else fp16,
    CPU bf16 only where it is native; ``CODEGEN_LAB_DTYPE`` overrides."""
    import torch

    from codegen_lab.models import pick_device, pick_dtype

    device = pick_device()
    dtype = pick_dtype(device)
    return {"bf16": dtype == torch.bfloat16, "fp16": dtype == torch.float16, "use_cpu": device == "cpu"}


def make_parser():
    from trl import ModelConfig, SFTConfig, TrlParser

    parser = TrlParser((ScriptArguments, SFTConfig, ModelConfig))
    # Defaults that make this script the study's pipeline; YAML recipes and CLI flags still override them.
    parser.set_defaults_with_config(
        **hardware_defaults(),
        use_peft=True,
        assistant_only_loss=True,
        chat_template_path=str(CHATML_TEMPLATE),
        eval_strategy="steps",
        save_strategy="steps",
        report_to="none",
    )
    return parser


def resume_path(resume_from_checkpoint: str | None, output_dir: str) -> str | None:
    """``true`` -> the latest ``checkpoint-step-*-epoch-*`` folder (the Trainer only finds ``checkpoint-N``)."""
    from training.callbacks import latest_checkpoint

    if resume_from_checkpoint is None or resume_from_checkpoint.lower() in ("false", "no", ""):
        return None
    if resume_from_checkpoint.lower() in ("true", "yes", "latest"):
        latest = latest_checkpoint(output_dir)
        if latest is None:
            raise FileNotFoundError(
                f"--resume_from_checkpoint true: {output_dir} has no checkpoint-step-* folder."
            )
        return str(latest)
    if not (Path(resume_from_checkpoint) / "trainer_state.json").is_file():
        raise FileNotFoundError(
            f"--resume_from_checkpoint {resume_from_checkpoint}: not a checkpoint folder."
        )
    return resume_from_checkpoint


def build_callbacks(script_args, training_args, model_args, pusher, evaluator, card_writer) -> list:
    """In order: name the folder, then evaluate, write the card, push (each reads what the one before wrote)."""
    from training.callbacks import CheckpointCard, CheckpointNaming, EvaluateOnSave, LossGuard, LossHistory
    from training.hub_push import HubPush

    callbacks = [CheckpointNaming(), LossHistory()]
    if script_args.loss_guard:
        guard = LossGuard(
            script_args.loss_guard_max_loss,
            script_args.loss_guard_patience,
            script_args.loss_guard_start_step,
        )
        callbacks.append(guard)
    if evaluator is not None:
        callbacks.append(EvaluateOnSave(evaluator))
    callbacks.append(CheckpointCard(card_writer))
    if pusher is not None:
        callbacks.append(HubPush(pusher))
    return callbacks


def make_evaluator(script_args, model_args):
    """Validation benchmark for every save, test benchmark for the best checkpoint at the end."""
    from training.checkpoint_eval import CheckpointEvaluator

    return CheckpointEvaluator(
        base=model_args.model_name_or_path,
        validation_benchmark={
            "source": script_args.validation_benchmark,
            "release": script_args.validation_release,
            "platform": script_args.validation_platform,
            "difficulty": script_args.validation_difficulty,
            "start_date": script_args.validation_start_date,
            "end_date": script_args.validation_end_date,
            "limit": script_args.validation_limit,
            "test_scope": script_args.benchmark_test_scope,
        },
        test_benchmark={
            "source": script_args.test_benchmark,
            "preset": script_args.test_preset,
            "limit": script_args.test_limit,
            "test_scope": script_args.benchmark_test_scope,
        },
        max_new_tokens=script_args.eval_max_new_tokens,
        batch_size=script_args.eval_batch_size,
    )


def recipe_summary(script_args, training_args, model_args) -> dict:
    """The hyperparameters a card must show to reproduce the run."""
    return {
        "base_model": model_args.model_name_or_path,
        "dataset": script_args.dataset,
        "think": script_args.think,
        "resplit": script_args.resplit,
        "lora_r": model_args.lora_r,
        "lora_alpha": model_args.lora_alpha,
        "lora_dropout": model_args.lora_dropout,
        "lora_target_modules": ",".join(model_args.lora_target_modules or []),
        "learning_rate": training_args.learning_rate,
        "per_device_train_batch_size": training_args.per_device_train_batch_size,
        "gradient_accumulation_steps": training_args.gradient_accumulation_steps,
        "num_train_epochs": training_args.num_train_epochs,
        "max_steps": training_args.max_steps,
        "warmup_steps": training_args.warmup_steps,
        "lr_scheduler_type": training_args.lr_scheduler_type.value,
        "max_length": training_args.max_length,
        "assistant_only_loss": training_args.assistant_only_loss,
        "precision": "bf16" if training_args.bf16 else "fp16" if training_args.fp16 else "fp32",
        "seed": training_args.seed,
    }


def main(script_args, training_args, model_args, command: str | None = None) -> dict:
    """load data -> model -> SFTTrainer(LoRA) -> train -> save (run card, state) -> push main. Returns the run state."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTTrainer, get_peft_config

    from codegen_lab.hub import Hub
    from codegen_lab.models import resolve_model_path
    from datasets_scripts import load_training_splits
    from training.callbacks import read_json, update_run_state
    from training.cards import CardWriter
    from training.checkpoint_eval import best_checkpoint
    from training.hub_push import HubPusher, checkpoint_branch

    if training_args.push_to_hub:
        raise ValueError(
            "Use --push with --hub_repo: checkpoints go to per-step branches through codegen_lab.hub."
        )
    if script_args.push and not script_args.hub_repo:
        raise ValueError("--push needs --hub_repo <user/repo> (the run's model repo).")
    if (
        training_args.include_num_input_tokens_seen == "no"
    ):  # tokens/s is always reported (not a CLI-able value)
        training_args.include_num_input_tokens_seen = "non_padding"
    output_dir = Path(training_args.output_dir)
    resume = resume_path(training_args.resume_from_checkpoint, training_args.output_dir)

    # Data: train/valid/test conversations in the study's prompt format
    model_path = resolve_model_path(model_args.model_name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    splits = load_training_splits(
        script_args.dataset,
        think=script_args.think,
        resplit=script_args.resplit,
        seed=training_args.seed,
        max_length=training_args.max_length,
        tokenizer=tokenizer,
        too_long=script_args.too_long,
    )
    eval_sets = {"validation": splits["valid"]} | (
        {"test": splits["test"]} if script_args.eval_test_split else {}
    )
    logger.info("Data: %s", {name: len(rows) for name, rows in splits.items()})

    # Model: the base in the compute dtype; LoRA adapters are added by the trainer (kept in fp32 by PEFT)
    dtype = model_args.dtype or (
        torch.bfloat16 if training_args.bf16 else torch.float16 if training_args.fp16 else torch.float32
    )
    model = AutoModelForCausalLM.from_pretrained(
        model_path, dtype=dtype, attn_implementation=model_args.attn_implementation
    )
    model.name_or_path = (
        model_args.model_name_or_path
    )  # adapter_config names the base as given, not a cache path

    is_main = training_args.process_index == 0
    pusher = (
        HubPusher(
            script_args.hub_repo,
            hub=Hub(root=Path(script_args.local_hub)) if script_args.local_hub else None,
            retries=script_args.push_retries,
            backoff=script_args.push_backoff,
        )
        if script_args.push and is_main
        else None
    )
    evaluator = make_evaluator(script_args, model_args) if script_args.evaluate_on_save else None
    card_writer = CardWriter(
        model_args.model_name_or_path,
        script_args.dataset,
        recipe_summary(script_args, training_args, model_args),
        script_args.hub_repo,
        train_command=command,
    )
    trainer = SFTTrainer(
        model=model,
        args=training_args,
        train_dataset=splits["train"],
        eval_dataset=eval_sets,
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
        callbacks=build_callbacks(script_args, training_args, model_args, pusher, evaluator, card_writer),
    )

    # Train
    result = trainer.train(resume_from_checkpoint=resume)
    tokens_before = (
        read_json(Path(resume) / "trainer_state.json").get("num_input_tokens_seen", 0) if resume else 0
    )
    tokens = trainer.state.num_input_tokens_seen - tokens_before
    tokens_per_s = round(tokens / result.metrics["train_runtime"], 1)
    trainer.accelerator.print(
        f"Training done: {result.global_step} steps, {tokens} tokens in {result.metrics['train_runtime']:.1f} s: "
        f"{tokens_per_s} tokens/s (non-padding tokens, all processes)."
    )
    trainer.end()  # the rest is rank 0's alone: no collective call follows
    if not is_main:
        return {}

    # Save: the best checkpoint by validation (then its test score), the run card and the run state
    best, why = best_checkpoint(output_dir)
    if best is not None and evaluator is not None:
        evaluator.evaluate(best, "test")
        card_writer.write_checkpoint_card(best)
        if pusher is not None:  # its branch gets the test metrics too
            pusher.submit(best, checkpoint_branch(best))
    card_writer.write_run_card(output_dir, best)
    state = update_run_state(
        output_dir,
        best_checkpoint=best.name if best else None,
        best_reason=why,
        recipe=card_writer.recipe,
        train_tokens_per_second=tokens_per_s,
        global_step=result.global_step,
    )

    # Push: main holds the best adapter and the run card; then wait for every queued push
    if pusher is not None:
        if best is not None:
            extras = {
                name: output_dir / name for name in ("README.md", "loss_curves.png", "loss_history.json")
            }
            pusher.submit(best, "main", {k: v for k, v in extras.items() if v.is_file()})
        failures = pusher.wait()
        state = update_run_state(
            output_dir, pushed=pusher.pushed, push_failures=[vars(failure) for failure in failures]
        )
        if failures:
            logger.error(
                "%d Hub push(es) failed; the local checkpoints are complete: %s", len(failures), failures
            )
    trainer.accelerator.print(f"Run folder: {output_dir} (best: {state['best_checkpoint']}, {why})")
    return state


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    main(*make_parser().parse_args_and_config(), command=" ".join(["python -m training.sft", *sys.argv[1:]]))
