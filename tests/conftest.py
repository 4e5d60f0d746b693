"""Shared fixtures: a tiny random Qwen2 model with a tokenizer built here, LoRA adapters, a local hub."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tests run tiny models on 2 shared cores: extra OpenMP threads only spin against the judge's workers.
# Set before torch is imported, so every test and every subprocess it starts inherits it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from codegen_lab.paths import REPO_ROOT  # noqa: E402

ARTIFACTS = REPO_ROOT / "test-artifacts"
CHATML_TEMPLATE = (REPO_ROOT / "codegen_lab" / "chatml_generation.jinja").read_text()
# What the repo ships of the study's published generations: 18 re-judged results files, and the
# original harness's verdicts (the raw outputs are in the results files).
COURSE_RESULTS = REPO_ROOT / "results" / "course"
COURSE_VERDICTS = REPO_ROOT / "results" / "course_harness_verdicts.jsonl"
LCB_REFERENCE = REPO_ROOT / "results" / "lcb_leaderboard_41.json"


def course_generations() -> list[dict]:
    """The 738 published generations: checkpoint, question_id, the raw output and the course's verdict."""
    import json

    verdicts = {
        (row["checkpoint"], row["question_id"]): row
        for row in map(json.loads, COURSE_VERDICTS.read_text().splitlines())
    }
    rows = []
    for path in sorted(COURSE_RESULTS.glob("*.json")):
        data = json.loads(path.read_text())
        for problem in data["problems"]:
            key = (data["model"]["name"], problem["question_id"])
            rows.append(verdicts[key] | {"output": problem["samples"][0]["output"]})
    return rows


CORPUS = [
    "def solve():\n    n = int(input())\n    print(n * 2)\n",
    "You are an expert Python programmer. Please read the problem carefully.",
    "Read N integers from standard input and print their sum.",
    "for line in sys.stdin:\n    a, b = map(int, line.split())\n    print(a + b)\n",
    "<think>We need the sum.</think> import sys\nprint(sum(map(int, sys.stdin.read().split())))",
    "Yes No 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ ()[]{}:=+-*/%<>,.'\"",
]


def build_tiny_tokenizer():
    """A byte-level BPE tokenizer with ChatML special tokens, trained in well under a second."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    fast.chat_template = CHATML_TEMPLATE
    return fast


def build_tiny_model(path: Path, seed: int = 0, hidden: int = 64) -> Path:
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    tokenizer = build_tiny_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, do_sample=False
    )
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def build_tiny_adapter(base_dir: Path, out_dir: Path, seed: int, r: int = 4) -> Path:
    """A LoRA adapter with random (non-zero) weights, so it visibly changes the base's outputs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(base_dir)
    config = LoraConfig(r=r, lora_alpha=2 * r, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    peft_model = get_peft_model(base, config)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_" in name:
                param.mul_(20.0)
    peft_model.save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-qwen2")


@pytest.fixture(scope="session")
def tiny_adapters(tiny_model_dir, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("adapters")
    return {
        name: build_tiny_adapter(tiny_model_dir, root / name, seed)
        for name, seed in (("deep", 1), ("diverse", 2))
    }


@pytest.fixture(autouse=True)
def local_hub(tmp_path, monkeypatch) -> Path:
    """Every test gets its own empty local hub, so nothing can reach for the real one by accident."""
    root = tmp_path / "hub"
    root.mkdir()
    monkeypatch.setenv("CODEGEN_LAB_HUB", str(root))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return root


@pytest.fixture(scope="session")
def embedded_dir() -> Path:
    from codegen_lab.embedded import embedded_model_dir

    return embedded_model_dir()


# The app in a real subprocess and a headless Chromium page (tests/app_server.py).
from tests.app_server import app_server, browser_page  # noqa: E402, F401
