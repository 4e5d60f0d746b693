"""LoRA SFT of a code model on CodeGen-Deep/Diverse-style data with TRL; every checkpoint gets a card and a Hub branch.

    # smoke run: embedded SmolLM2-135M on CPU, the shipped sample, a few minutes
    python -m training.sft --config training/recipes/smoke.yaml

    # the study's arms on one GPU (Qwen2.5-Coder-1.5B-Instruct), each checkpoint pushed to branch step-{S:06d}
    python -m training.sft --config training/recipes/deep.yaml --push_to_hub --hub_model_id you/qwen2.5-coder-1.5b-deep-lora
    python -m training.sft --config training/recipes/diverse.yaml --output_dir outputs/diverse

    # resume (the latest checkpoint-step-*-epoch-* of output_dir, or a given folder)
    python -m training.sft --config training/recipes/smoke.yaml --resume_from_checkpoint true

    # several GPUs
    accelerate launch --config_file training/accelerate/multi_gpu.yaml -m training.sft --config training/recipes/deep.yaml

Any YAML key can be overridden on the command line (``--max_steps 5 --lora_r 8``). Loss is computed on the
assistant turn only (its ``<|im_end|>`` included), through TRL's ``assistant_only_loss`` and a ChatML
template with ``{% generation %}`` markers. Arguments: training/arguments.py; the steps: training/run_steps.py.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from training.arguments import ScriptArguments, make_parser  # noqa: F401  (the CLI's dataclasses and parser)


def main(script_args, training_args, model_args, command: str | None = None) -> dict:
    """data -> model -> SFTTrainer(LoRA) -> train -> best checkpoint, cards, run state -> push main."""
    from trl import SFTTrainer, get_peft_config

    from training import run_steps

    repo = run_steps.take_over_push(
        training_args
    )  # each checkpoint to its own branch, not the Trainer's one push
    training_args.include_num_input_tokens_seen = "non_padding"  # tokens/s is always reported
    resume = run_steps.resume_path(training_args.resume_from_checkpoint, training_args.output_dir)
    tokenizer, splits = run_steps.load_splits(script_args, training_args, model_args)
    model = run_steps.load_model(training_args, model_args)
    parts = run_steps.RunParts.create(script_args, training_args, model_args, repo, command)
    trainer = SFTTrainer(
        model=model,
        args=training_args,
        train_dataset=splits["train"],
        eval_dataset=run_steps.eval_sets(splits, script_args),
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
        callbacks=parts.callbacks(script_args),
    )
    result = trainer.train(resume_from_checkpoint=resume)
    tokens_per_s = run_steps.throughput(trainer, result, resume)
    trainer.end()  # the rest is rank 0's alone: no collective call follows
    if training_args.process_index != 0:
        return {}
    return run_steps.finish(Path(training_args.output_dir), parts, tokens_per_s, result.global_step)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    main(*make_parser().parse_args_and_config(), command=" ".join(["python -m training.sft", *sys.argv[1:]]))
