"""The steps of one training run, each a call of ``training.sft.main``: data, model, the run's callbacks and
helpers (Hub pusher, checkpoint evaluator, cards), throughput, and the end of the run (best checkpoint,
run card, run state, ``main`` on the Hub)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("training.sft")


def resume_path(resume_from_checkpoint: str | None, output_dir: str) -> str | None:
    """``true`` -> the latest ``checkpoint-step-*-epoch-*`` folder (the Trainer only finds ``checkpoint-N``)."""
    from codegen_lab.run_folder import TRAINER_STATE, latest_checkpoint

    if resume_from_checkpoint is None or resume_from_checkpoint.lower() in ("false", "no", ""):
        return None
    if resume_from_checkpoint.lower() in ("true", "yes", "latest"):
        latest = latest_checkpoint(output_dir)
        if latest is None:
            raise FileNotFoundError(
                f"--resume_from_checkpoint true: {output_dir} has no checkpoint-step-* folder."
            )
        return str(latest)
    if not (Path(resume_from_checkpoint) / TRAINER_STATE).is_file():
        raise FileNotFoundError(
            f"--resume_from_checkpoint {resume_from_checkpoint}: not a checkpoint folder."
        )
    return resume_from_checkpoint


def take_over_push(training_args) -> str | None:
    """The repo to push to (``--push_to_hub --hub_model_id``), with the Trainer's own push switched off:
    every checkpoint goes to its own branch through codegen_lab.hub instead."""
    if not training_args.push_to_hub:
        return None
    if not training_args.hub_model_id or training_args.hub_model_id.count("/") != 1:
        raise ValueError("--push_to_hub needs --hub_model_id <user/repo> (the run's model repo).")
    training_args.push_to_hub = False
    return training_args.hub_model_id


def load_splits(script_args, training_args, model_args):
    """(tokenizer, train/valid/test conversations) in the study's prompt format."""
    from transformers import AutoTokenizer

    from codegen_lab.models import resolve_model_path
    from datasets_scripts import load_training_splits

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(model_args.model_name_or_path))
    splits = load_training_splits(
        script_args.dataset,
        think=script_args.think,
        resplit=script_args.resplit,
        seed=training_args.seed,
        max_length=training_args.max_length,
        tokenizer=tokenizer,
        too_long=script_args.too_long,
    )
    logger.info("Data: %s", {name: len(rows) for name, rows in splits.items()})
    return tokenizer, splits


def eval_sets(splits, script_args) -> dict:
    return {"validation": splits["valid"]} | ({"test": splits["test"]} if script_args.eval_test_split else {})


def load_model(training_args, model_args):
    """The base in the compute dtype; LoRA adapters are added by the trainer (kept in fp32 by PEFT)."""
    import torch
    from transformers import AutoModelForCausalLM

    from codegen_lab.embedded import upstream_id
    from codegen_lab.models import resolve_model_path

    dtype = model_args.dtype or (
        torch.bfloat16 if training_args.bf16 else torch.float16 if training_args.fp16 else torch.float32
    )
    model = AutoModelForCausalLM.from_pretrained(
        resolve_model_path(model_args.model_name_or_path),
        dtype=dtype,
        attn_implementation=model_args.attn_implementation,
    )
    # adapter_config names the base as given (an embedded alias as its Hub id), not a cache path, so
    # AutoPeftModelForCausalLM can load the adapter anywhere
    model.name_or_path = upstream_id(model_args.model_name_or_path)
    return model


@dataclass
class RunParts:
    """What a run writes and sends besides the Trainer's own checkpoints."""

    cards: object  # training.cards.CardWriter
    pusher: object | None = None  # training.hub_push.HubPusher (rank 0 only)
    evaluator: object | None = None  # training.checkpoint_eval.CheckpointEvaluator

    @classmethod
    def create(
        cls, script_args, training_args, model_args, repo: str | None, command: str | None
    ) -> RunParts:
        from codegen_lab.hub import Hub
        from training.cards import CardWriter
        from training.hub_push import HubPusher

        cards = CardWriter(
            model_args.model_name_or_path,
            script_args.dataset,
            recipe_summary(script_args, training_args, model_args),
            repo,
            train_command=command,
        )
        pusher = None
        if repo and training_args.process_index == 0:
            hub = Hub(root=Path(script_args.local_hub)) if script_args.local_hub else None
            pusher = HubPusher(
                repo, hub=hub, retries=script_args.push_retries, backoff=script_args.push_backoff
            )
        evaluator = make_evaluator(script_args, model_args) if script_args.evaluate_on_save else None
        return cls(cards, pusher, evaluator)

    def callbacks(self, script_args) -> list:
        """In order: name the folder, then evaluate, write the card, push (each reads what the one before wrote)."""
        from training.callbacks import (
            CheckpointCard,
            CheckpointNaming,
            EvaluateOnSave,
            LossGuard,
            LossHistory,
        )
        from training.hub_push import HubPush

        callbacks = [CheckpointNaming(), LossHistory()]
        if script_args.loss_guard:
            limits = (
                script_args.loss_guard_max_loss,
                script_args.loss_guard_patience,
                script_args.loss_guard_start_step,
            )
            callbacks.append(LossGuard(*limits))
        if self.evaluator is not None:
            callbacks.append(EvaluateOnSave(self.evaluator))
        callbacks.append(CheckpointCard(self.cards))
        if self.pusher is not None:
            callbacks.append(HubPush(self.pusher))
        return callbacks


def make_evaluator(script_args, model_args):
    """Validation benchmark for every save, test benchmark for the best checkpoint at the end."""
    from training.checkpoint_eval import CheckpointEvaluator

    scope = script_args.benchmark_test_scope
    validation = {
        "source": script_args.validation_benchmark,
        "release": script_args.validation_release,
        "platform": script_args.validation_platform,
        "difficulty": script_args.validation_difficulty,
        "start_date": script_args.validation_start_date,
        "end_date": script_args.validation_end_date,
        "limit": script_args.validation_limit,
        "test_scope": scope,
    }
    test = {
        "source": script_args.test_benchmark,
        "preset": script_args.test_preset,
        "limit": script_args.test_limit,
    }
    return CheckpointEvaluator(
        base=model_args.model_name_or_path,
        validation_benchmark=validation,
        test_benchmark=test | {"test_scope": scope},
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


def throughput(trainer, result, resume: str | None) -> float:
    """Non-padding tokens per second of this session (a resumed run counts only what it trained now)."""
    from codegen_lab.run_folder import TRAINER_STATE, read_json

    before = read_json(Path(resume) / TRAINER_STATE).get("num_input_tokens_seen", 0) if resume else 0
    tokens = trainer.state.num_input_tokens_seen - before
    seconds = result.metrics["train_runtime"]
    per_second = round(tokens / seconds, 1)
    trainer.accelerator.print(
        f"Training done: {result.global_step} steps, {tokens} tokens in {seconds:.1f} s: {per_second} tokens/s "
        "(non-padding tokens, all processes)."
    )
    return per_second


def finish(output_dir: Path, parts: RunParts, tokens_per_s: float, global_step: int) -> dict:
    """The best checkpoint by validation (then its test score), the run card and state, then ``main`` pushed."""
    from codegen_lab.run_folder import MAIN_EXTRAS, update_run_state
    from training.checkpoint_eval import best_checkpoint
    from training.hub_push import checkpoint_branch

    best, why = best_checkpoint(output_dir)
    if best is not None and parts.evaluator is not None:
        parts.evaluator.evaluate(best, "test")
        parts.cards.write_checkpoint_card(best)
        if parts.pusher is not None:  # its branch gets the test metrics too
            parts.pusher.submit(best, checkpoint_branch(best))
    parts.cards.write_run_card(output_dir, best)
    state = update_run_state(
        output_dir,
        best_checkpoint=best.name if best else None,
        best_reason=why,
        recipe=parts.cards.recipe,
        train_tokens_per_second=tokens_per_s,
        global_step=global_step,
    )
    if parts.pusher is not None:
        if best is not None:
            extras = {name: output_dir / name for name in MAIN_EXTRAS}
            parts.pusher.submit(best, "main", {k: v for k, v in extras.items() if v.is_file()})
        failures = parts.pusher.wait()
        state = update_run_state(
            output_dir, pushed=parts.pusher.pushed, push_failures=[vars(f) for f in failures]
        )
        if failures:
            logger.error(
                "%d Hub push(es) failed; the local checkpoints are complete: %s", len(failures), failures
            )
    print(f"Run folder: {output_dir} (best: {state['best_checkpoint']}, {why})")
    return state
