"""Base model resolution, adapters by name, and one batch that mixes adapters."""

from __future__ import annotations

import pytest
import torch

from codegen_lab import BASE_ADAPTER
from codegen_lab.hub import Hub
from codegen_lab.models import ModelLoadError, attach_adapters, load_base, load_model, split_revision
from tests.helpers import build_tiny_adapter, build_tiny_model


def _greedy(model, tokenizer, prompts, **kwargs):
    tokenizer.padding_side = "left"
    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    out = model.generate(**batch, max_new_tokens=8, do_sample=False, **kwargs)
    return out[:, batch["input_ids"].shape[1] :].tolist()


def test_split_revision():
    assert split_revision("me/run@step-000100") == ("me/run", "step-000100")
    assert split_revision("me/run") == ("me/run", None)


def test_mixed_adapter_batch_matches_single_adapter_runs(tiny_model_dir, tiny_adapters):
    model, tokenizer = load_model(
        str(tiny_model_dir), {k: str(v) for k, v in tiny_adapters.items()}, device="cpu"
    )
    assert model.dtype in (torch.bfloat16, torch.float32)
    model = model.float()
    prompts = ["Read N integers", "def solve():"]
    singles = {}
    for name in ("deep", "diverse"):
        model.set_adapter(name)
        singles[name] = _greedy(model, tokenizer, prompts[:1])[0]
    with model.disable_adapter():
        singles[BASE_ADAPTER] = _greedy(model, tokenizer, prompts[:1])[0]
    assert len({tuple(v) for v in singles.values()}) == 3, "each adapter must change the output"

    names = ["deep", "diverse", BASE_ADAPTER]
    mixed = _greedy(model, tokenizer, prompts[:1] * 3, adapter_names=names)
    assert mixed == [singles[n] for n in names]


def test_adapter_from_local_hub_revision(tiny_model_dir, tiny_adapters):
    hub = Hub.from_env()
    hub.create_repo("me/deep")
    hub.create_branch("me/deep", "step-000100")
    hub.upload_folder("me/deep", tiny_adapters["deep"], revision="step-000100")
    base, _ = load_base(str(tiny_model_dir), device="cpu")
    model = attach_adapters(base, {"deep": "me/deep@step-000100"})
    assert "deep" in model.peft_config


def test_bad_names_give_clear_errors(tiny_model_dir, tmp_path):
    with pytest.raises(ModelLoadError, match="neither a folder"):
        load_base("not-a-model")
    base, _ = load_base(str(tiny_model_dir), device="cpu")
    with pytest.raises(ModelLoadError, match="no adapter_config.json"):
        attach_adapters(base, {"x": str(tmp_path)})
    with pytest.raises(ModelLoadError, match="me/missing"):
        attach_adapters(base, {"x": "me/missing@main"})


def test_adapter_for_another_base_is_refused(tiny_model_dir, tmp_path):
    other = build_tiny_model(tmp_path / "wide", hidden=96)
    adapter = build_tiny_adapter(other, tmp_path / "wide-adapter", seed=3)
    base, _ = load_base(str(tiny_model_dir), device="cpu")
    with pytest.raises(ModelLoadError, match="another base"):
        attach_adapters(base, {"wide": str(adapter)})
