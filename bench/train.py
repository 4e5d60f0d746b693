"""Training throughput: the study's setting against padding-free batching with the same effective batch.

    python bench/train.py                       # embedded SmolLM2-135M on CPU, a few minutes
    python bench/train.py --accumulation 16     # the study's full 1 x 16 shape (slower)

All settings see the same rows in the same order (same seed, same effective batch per optimizer step), so
their tokens/s ratios are wall-time ratios:
- study:        1 sequence per forward, each padded to max_length (fixed-length batches, as the study ran)
- recipe:       1 sequence per forward, no padding (what training/recipes/*.yaml do)
- padding-free: `accumulation` sequences flattened into one forward (TRL padding_free), 1 accumulation step

On CPU, SDPA computes the flattened batch as one long masked attention, so padding-free gains need
FlashAttention's variable-length kernels (GPU); the losses printed per setting must agree.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def run_setting(name: str, model_path, rows, per_device: int, accumulation: int, steps: int, **sft) -> dict:
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from training.sft import CHATML_TEMPLATE, hardware_defaults

    precision = hardware_defaults()
    with tempfile.TemporaryDirectory() as out:
        args = SFTConfig(
            output_dir=out,
            max_steps=steps,
            per_device_train_batch_size=per_device,
            gradient_accumulation_steps=accumulation,
            learning_rate=1e-4,
            logging_steps=1,
            save_strategy="no",
            eval_strategy="no",
            report_to="none",
            activation_checkpointing=False,
            assistant_only_loss=True,
            chat_template_path=str(CHATML_TEMPLATE),
            include_num_input_tokens_seen="non_padding",
            disable_tqdm=True,
            seed=0,
            **precision,
            **sft,
        )
        dtype = torch.bfloat16 if precision["bf16"] else torch.float32
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype)
        peft = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
        tokenizer = AutoTokenizer.from_pretrained(model_path)
        trainer = SFTTrainer(
            model=model, args=args, train_dataset=rows, processing_class=tokenizer, peft_config=peft
        )
        start = time.perf_counter()
        result = trainer.train()
        seconds = time.perf_counter() - start
    return {
        "name": name,
        "seconds": seconds,
        "tokens": trainer.state.num_input_tokens_seen,
        "loss": result.metrics["train_loss"],
    }


@dataclass
class TrainBenchArguments:
    model_name_or_path: str = "embedded:smollm2"
    dataset_name: str = "sample:deep"
    steps: int = field(default=1, metadata={"help": "optimizer steps per setting"})
    accumulation: int = field(default=8, metadata={"help": "sequences per optimizer step (study: 16)"})
    max_length: int = field(default=512, metadata={"help": "the study's padded length is 1024"})


def main(options: TrainBenchArguments) -> None:

    import torch

    from codegen_lab.models import resolve_model_path
    from datasets_scripts import load_training_splits

    torch.manual_seed(0)
    model_path = resolve_model_path(options.model_name_or_path)
    rows = load_training_splits(
        options.dataset_name, max_length=options.max_length, tokenizer=str(model_path)
    )["train"]
    k = options.accumulation
    print(
        f"{options.model_name_or_path} on {options.dataset_name}: {options.steps} step(s) x {k} sequences, CPU threads {torch.get_num_threads()}"
    )
    run_setting("warm-up (not timed)", model_path, rows, 1, 1, 1)  # first-use kernel setup off the clock
    results = [
        run_setting(
            "study (1 x k, padded)",
            model_path,
            rows,
            1,
            k,
            options.steps,
            pad_to_multiple_of=options.max_length,
        ),
        run_setting("recipe (1 x k, no padding)", model_path, rows, 1, k, options.steps),
        run_setting(
            "padding-free (k x 1)", model_path, rows, k, 1, options.steps, padding_free=True, max_length=None
        ),
    ]
    real_tokens = results[1]["tokens"]  # batch 1 without padding: every token is real; the rows are the same
    study = results[0]["seconds"]
    print(f"{'setting':<30} {'seconds':>8} {'tokens/s':>9} {'speed-up':>9} {'loss':>7}")
    for r in results:
        speed = f"{r['seconds']:>8.1f} {real_tokens / r['seconds']:>9.1f} {study / r['seconds']:>8.2f}x"
        print(f"{r['name']:<30} {speed} {r['loss']:>7.4f}")
    print("(equal losses: padding-free attends within each sequence only, as the padded settings do)")
    print(
        f"ratio padding-free / study = {study / results[2]['seconds']:.2f}x, "
        f"recipe / study = {study / results[1]['seconds']:.2f}x ({real_tokens} real tokens per setting)"
    )


if __name__ == "__main__":
    from record import recorded
    from transformers import HfArgumentParser

    with recorded("train"):
        main(*HfArgumentParser(TrainBenchArguments).parse_args_into_dataclasses())
