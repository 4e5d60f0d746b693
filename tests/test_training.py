"""training/: assistant-only labels, a full tiny run (checkpoints, cards, metrics, curves, Hub branches),
LossGuard, push failures, resume, and the smoke recipe on the embedded model."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codegen_lab.hub import Hub
from codegen_lab.paths import REPO_ROOT
from codegen_lab.run_folder import list_checkpoints
from evaluation.benchmark import STUDY_BENCHMARK
from training.callbacks import LossGuard

SMOKE = REPO_ROOT / "training" / "recipes" / "smoke.yaml"
TRAINER_STATE = {"optimizer.pt", "scheduler.pt", "scaler.pt", "training_args.bin", "trainer_state.json"}


def parse(tiny_model_dir: Path, output_dir: Path, *overrides: str):
    """The smoke recipe on the tiny model: 4 steps, evaluation and a checkpoint every 2."""
    from training.sft import make_parser

    args = [
        "--config",
        str(SMOKE),
        "--model_name_or_path",
        str(tiny_model_dir),
        "--output_dir",
        str(output_dir),
    ]
    args += ["--max_steps", "4", "--logging_steps", "1", "--eval_steps", "2", "--save_steps", "2"]
    args += [
        "--max_length",
        "1024",
        "--bf16",
        "false",
        "--loss_guard_max_loss",
        "100",
        "--local_hub",
        "",  # push to the test's own hub (CODEGEN_LAB_HUB), not the recipe's folder
    ]  # a random model starts near 6
    return make_parser().parse_args_and_config([*args, *overrides])


def run(tiny_model_dir: Path, output_dir: Path, *overrides: str) -> dict:
    from training.sft import main

    return main(*parse(tiny_model_dir, output_dir, *overrides))


def test_only_the_assistant_turn_and_its_end_token_carry_labels(tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTTrainer

    from datasets_scripts import load_training_splits

    script_args, training_args, _ = parse(
        tiny_model_dir, tmp_path / "run", "--per_device_train_batch_size", "2", "--eval_strategy", "no",
        "--push_to_hub", "false",  # a Trainer built here would push to the real Hub itself
    )  # fmt: skip
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = "{{ messages }}"  # the recipe's template must replace whatever the model ships
    rows = load_training_splits(script_args.dataset)["train"]
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_model_dir),
        args=training_args,
        train_dataset=rows,
        processing_class=tokenizer,
    )
    batch = next(iter(trainer.get_train_dataloader()))
    assert batch["input_ids"].shape[0] == 2
    solutions = {row["messages"][-1]["content"] for row in rows}
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    for ids, labels, mask in zip(batch["input_ids"], batch["labels"], batch["attention_mask"], strict=True):
        trained = labels != -100
        first = int(trained.nonzero()[0])
        # everything before the assistant's content (system, user, the assistant header) carries no label
        assert tokenizer.decode(ids[:first]).endswith("<|im_start|>assistant\n")
        assert not trained[:first].any()
        # the labelled tokens are exactly the solution followed by its end-of-turn token
        assert tokenizer.decode(labels[trained]) in {s + "<|im_end|>" for s in solutions}
        assert int(labels[trained][-1]) == end
        assert trained.sum() < mask.sum()


def test_a_tiny_run_writes_checkpoints_cards_metrics_curves_and_one_branch_each(tiny_model_dir, tmp_path):
    out = tmp_path / "tiny-deep"
    state = run(
        tiny_model_dir,
        out,
        "--hub_model_id", "me/tiny-deep", "--push_to_hub", "--push_backoff", "0.01",
        "--evaluate_on_save", "--validation_benchmark", str(STUDY_BENCHMARK), "--validation_limit", "2",
        "--validation_start_date", "2024-08-01", "--validation_end_date", "2030-01-01",
        "--test_benchmark", str(STUDY_BENCHMARK), "--test_limit", "2",
        "--eval_max_new_tokens", "8", "--eval_batch_size", "2",
    )  # fmt: skip
    checkpoints = list_checkpoints(out)
    assert [c.name for c in checkpoints] == ["checkpoint-step-2-epoch-1", "checkpoint-step-4-epoch-1"]
    for checkpoint in checkpoints:
        names = {p.name for p in checkpoint.iterdir()}
        assert {"adapter_model.safetensors", "adapter_config.json", "README.md", "metrics.json"} <= names
        assert {"chat_template.jinja", "tokenizer.json", "loss_curves.png"} <= names
        metrics = json.loads((checkpoint / "metrics.json").read_text())
        assert metrics["validation"]["benchmark"]["n_problems"] == 2
        assert (out / metrics["results_file"]).is_file()
        assert "pass@1" in metrics["metrics"]
    history = json.loads((out / "loss_history.json").read_text())
    assert [p["step"] for p in history["train"]] == [1, 2, 3, 4]
    assert [p["step"] for p in history["validation"]] == [p["step"] for p in history["test"]] == [2, 4]
    assert (out / "loss_curves.png").read_bytes().startswith(b"\x89PNG")

    best = out / state["best_checkpoint"]
    assert json.loads((best / "metrics.json").read_text())["split"] == "test"  # best (by validation) on test
    assert state["push_failures"] == [] and "stop_reason" not in state
    assert state["train_tokens_per_second"] > 0
    hub = Hub.from_env()
    assert hub.list_branches("me/tiny-deep") == ["main", "step-000002", "step-000004"]
    for branch in hub.list_branches("me/tiny-deep"):
        files = set(hub.list_files("me/tiny-deep", branch))
        assert {"adapter_model.safetensors", "adapter_config.json", "README.md", "metrics.json"} <= files
        assert not files & TRAINER_STATE and not any(f.startswith("rng_state") for f in files)
    card = (hub.download("me/tiny-deep") / "README.md").read_text()
    assert "`step-000002`" in card and "`step-000004`" in card and "**(best)**" in card


def put_in_hub_cache(cache: Path, repo_id: str, revision: str, folder: Path) -> None:
    """``folder`` as revision ``revision`` of ``repo_id`` in a huggingface_hub cache (read with HF_HUB_OFFLINE)."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    commit = hashlib.sha1(f"{repo_id}@{revision}".encode()).hexdigest()  # any 40 hex digits name a commit
    shutil.copytree(folder, repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / revision).write_text(commit)


LOADED_AS_SAVED = """
import sys, torch
from peft import get_peft_model_state_dict
from safetensors.torch import load_file
saved, base = load_file(sys.argv[1]), load_file(sys.argv[2])
loaded = get_peft_model_state_dict(model)
assert loaded.keys() == saved.keys() and all(torch.equal(loaded[k], saved[k]) for k in saved), "adapter"
assert torch.equal(model.get_input_embeddings().weight, base["model.embed_tokens.weight"]), "base"
assert tokenizer("print(1)")["input_ids"], "tokenizer"
print(type(model).__name__, model.peft_config["default"].base_model_name_or_path)
"""


def test_a_run_on_an_embedded_alias_saves_an_adapter_its_card_snippet_loads(
    tiny_model_dir, tmp_path, monkeypatch
):
    """adapter_config and the card name the alias's Hub id, so the card's snippet (plain
    AutoPeftModelForCausalLM) loads the checkpoint from a Hub cache holding that id, offline."""
    cache = tmp_path / "cache"  # the converted embedded model's place: the tiny model stands in for SmolLM2
    shutil.copytree(tiny_model_dir, cache / "embedded" / "SmolLM2-135M-Instruct")
    monkeypatch.setenv("CODEGEN_LAB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # PEFT's save looks the Hub id up for its vocabulary check
    out = tmp_path / "alias-deep"
    run(
        tiny_model_dir, out, "--model_name_or_path", "embedded:smollm2",
        "--max_steps", "2", "--save_steps", "2", "--evaluate_on_save", "false", "--push_to_hub", "false",
    )  # fmt: skip
    checkpoint = out / "checkpoint-step-2-epoch-1"
    config = json.loads((checkpoint / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    card = (checkpoint / "README.md").read_text()
    assert (
        "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in card and "base_model_relation: adapter" in card
    )
    assert json.loads((out / "run_state.json").read_text())["recipe"]["base_model"] == "embedded:smollm2"

    hf_cache = tmp_path / "hf-cache"
    put_in_hub_cache(hf_cache, "HuggingFaceTB/SmolLM2-135M-Instruct", "main", tiny_model_dir)
    put_in_hub_cache(hf_cache, "your-username/alias-deep", "step-000002", checkpoint)
    snippet = card.split("```python\n", 1)[1].split("```", 1)[0]
    assert (
        'AutoPeftModelForCausalLM.from_pretrained("your-username/alias-deep", revision="step-000002")'
        in snippet
    )
    command = [sys.executable, "-c", snippet + LOADED_AS_SAVED]
    command += [str(checkpoint / "adapter_model.safetensors"), str(tiny_model_dir / "model.safetensors")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(hf_cache), "HF_HOME": str(tmp_path)}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["PeftModelForCausalLM", "HuggingFaceTB/SmolLM2-135M-Instruct"]


def test_loss_guard_stops_a_run_whose_loss_is_above_the_threshold(tiny_model_dir, tmp_path):
    out = tmp_path / "exploding"
    state = run(
        tiny_model_dir,
        out,
        "--max_steps",
        "20",
        "--loss_guard_max_loss",
        "0.01",
        "--loss_guard_start_step",
        "3",
    )
    assert state["global_step"] == 3  # stopped at its first check, not at step 20
    assert state["stopped_early"] is True
    assert "train loss" in state["stop_reason"] and "above the threshold 0.01" in state["stop_reason"]
    assert json.loads((out / "run_state.json").read_text())["stop_reason"] == state["stop_reason"]


def test_loss_guard_stops_after_consecutive_validation_rises(tmp_path):
    from transformers import TrainerControl, TrainerState, TrainingArguments

    guard = LossGuard(max_loss=10.0, patience=3, start_step=0)
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True)
    state, control = TrainerState(), TrainerControl()
    for step, loss in enumerate([2.0, 1.5, 1.6, 1.7], 1):
        state.global_step = step
        guard.on_log(args, state, control, logs={"eval_validation_loss": loss})
    assert not control.should_training_stop  # two rises only
    state.global_step = 5
    guard.on_log(args, state, control, logs={"eval_validation_loss": 1.8})
    assert control.should_training_stop
    reason = json.loads((tmp_path / "run_state.json").read_text())["stop_reason"]
    assert "rose on 3 consecutive evaluations (1.5000 -> 1.6000 -> 1.7000 -> 1.8000)" in reason
    guard, control = LossGuard(max_loss=10.0, start_step=0), TrainerControl()
    guard.on_log(args, state, control, logs={"loss": float("nan")})
    assert control.should_training_stop  # NaN is never below a threshold


def test_a_failing_hub_is_retried_and_reported_while_training_completes(
    tiny_model_dir, tmp_path, monkeypatch
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the hub folder should be")
    monkeypatch.setenv("CODEGEN_LAB_HUB", str(blocker / "hub"))
    out = tmp_path / "offline"
    state = run(
        tiny_model_dir,
        out,
        "--hub_model_id",
        "me/offline",
        "--push_to_hub",
        "--push_retries",
        "2",
        "--push_backoff",
        "0.01",
    )
    assert [c.name for c in list_checkpoints(out)] == [
        "checkpoint-step-2-epoch-1",
        "checkpoint-step-4-epoch-1",
    ]
    assert all((c / "adapter_model.safetensors").is_file() for c in list_checkpoints(out))
    failures = state["push_failures"]
    assert {f["revision"] for f in failures} == {"step-000002", "step-000004", "main"}
    assert all(f["attempts"] == 2 and "NotADirectoryError" in f["error"] for f in failures)
    assert state["pushed"] == []


def test_resume_from_a_checkpoint_follows_the_same_trajectory(tiny_model_dir, tmp_path):
    from safetensors.torch import load_file

    straight = tmp_path / "straight"
    run(tiny_model_dir, straight)
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    shutil.copytree(straight / "checkpoint-step-2-epoch-1", resumed / "checkpoint-step-2-epoch-1")
    state = run(tiny_model_dir, resumed, "--resume_from_checkpoint", "true")
    assert state["global_step"] == 4

    def history(run_dir: Path) -> dict:
        return json.loads((run_dir / "loss_history.json").read_text())

    for series in ("train", "validation", "test"):
        a, b = history(straight)[series], history(resumed)[series]
        assert [p["step"] for p in a] == [p["step"] for p in b]
        assert [p["loss"] for p in b] == pytest.approx([p["loss"] for p in a], rel=1e-5)
    final_a = load_file(straight / "checkpoint-step-4-epoch-1" / "adapter_model.safetensors")
    final_b = load_file(resumed / "checkpoint-step-4-epoch-1" / "adapter_model.safetensors")
    assert final_a.keys() == final_b.keys()
    for name, tensor in final_a.items():
        assert (tensor - final_b[name]).abs().max() < 1e-6, name
    # a fresh run's LoRA B starts at zero: the trained adapter moved away from it
    assert any(t.abs().max() > 0 for n, t in final_a.items() if "lora_B" in n)


def test_resume_true_without_a_checkpoint_names_the_folder(tiny_model_dir, tmp_path):
    from training.run_steps import resume_path

    with pytest.raises(FileNotFoundError, match="no checkpoint-step"):
        resume_path("true", str(tmp_path))


@pytest.mark.embedded
def test_smoke_recipe_runs_on_the_embedded_model(tmp_path, local_hub):
    out = tmp_path / "smoke"
    command = [sys.executable, "-m", "training.sft", "--config", str(SMOKE), "--output_dir", str(out)]
    command += ["--max_steps", "1", "--eval_steps", "1", "--save_steps", "1", "--eval_test_split", "false"]
    command += ["--local_hub", str(local_hub)]  # the recipe pushes to local/smoke on a local hub by default
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "tokens/s" in done.stdout
    assert (out / "checkpoint-step-1-epoch-1" / "adapter_model.safetensors").is_file()
    config = json.loads((out / "checkpoint-step-1-epoch-1" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"  # not the cache folder
    assert Hub(root=local_hub).list_branches("local/smoke") == ["main", "step-000001"]
