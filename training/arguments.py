"""The training stage's arguments: the study's options (``ScriptArguments``) on top of TRL's ``SFTConfig`` and
``ModelConfig``, and the defaults that make ``python -m training.sft`` the study's pipeline.

Pushing is TRL's own pair of flags: ``--push_to_hub`` with ``--hub_model_id user/repo``; every checkpoint then
goes to its own branch ``step-{S:06d}`` and ``main`` gets the best one (training.hub_push), not the Trainer's
single push at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from codegen_lab.paths import REPO_ROOT

CHATML_TEMPLATE = REPO_ROOT / "codegen_lab" / "chatml_generation.jinja"


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
        metadata={"help": "Reported benchmark source; default: the shipped 41-problem file (public tests)."},
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
