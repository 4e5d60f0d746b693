"""The Space card: README.md's front matter, parsed with huggingface_hub's card classes, is what the app
loads on a Space (its base, the base's GGUF, the configured adapters, the datasets, the Gradio pin)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from huggingface_hub import SpaceCard

from codegen_lab.hub import Hub
from codegen_lab.paths import REPO_ROOT
from space import space_card
from space.space_card import SPACE_VARIABLES, card_metadata, render_readme

README = REPO_ROOT / "README.md"


def test_readme_front_matter_is_the_generated_card():
    assert space_card.main(["--check"]) == 0, "run `python -m space.space_card`"
    card = SpaceCard.load(README)
    assert card.data.to_dict() == card_metadata()
    assert card.text == SpaceCard(render_readme(README.read_text(), card_metadata())).text


def test_card_names_the_base_and_the_gguf_the_app_loads(monkeypatch):
    """The base the app reads from SPACE_VARIABLES, and the file the llama.cpp engine downloads for it."""
    from codegen_lab.hub_gguf import hub_gguf
    from space.ui import base_model_from_env

    data = SpaceCard.load(README).data
    for key, value in SPACE_VARIABLES.items():
        monkeypatch.setenv(key, value)
    base = base_model_from_env()
    assert data.models[0] == base == "Qwen/Qwen2.5-Coder-1.5B-Instruct"
    assert base in data.preload_from_hub  # the whole repo: tokenizer, config, and the Benchmark tab's weights

    hub = _RecordingHub()
    with pytest.raises(LookupError):
        hub_gguf(base, hub=hub)
    ((repo, filename),) = hub.asked
    assert repo in data.models and f"{repo} {filename}" in data.preload_from_hub


@dataclass
class _RecordingHub(Hub):
    """Records which file the GGUF lookup asks the Hub for, and has none."""

    asked: list[tuple[str, str]] = field(default_factory=list)

    def download_file(self, repo_id: str, filename: str, revision: str = "main") -> Path:
        self.asked.append((repo_id, filename))
        raise LookupError(filename)


def test_card_names_the_datasets_the_project_reads():
    from datasets_scripts.data import STUDY_SOURCES
    from evaluation.benchmark import HUB_DATASET

    datasets = SpaceCard.load(README).data.datasets
    assert datasets == [
        "Naholav/CodeGen-Deep-5K",
        "Naholav/CodeGen-Diverse-5K",
        "livecodebench/code_generation_lite",
    ]
    assert datasets == [STUDY_SOURCES["deep"], STUDY_SOURCES["diverse"], HUB_DATASET]


def test_card_pins_the_installed_gradio_and_the_space_settings():
    import gradio

    from space.deploy import HARDWARE

    data = SpaceCard.load(README).data
    assert data.sdk == "gradio" and data.sdk_version == gradio.__version__
    assert data.app_file == "app.py" and (REPO_ROOT / data.app_file).is_file()
    assert data.python_version == "3.11"
    assert data.suggested_hardware in HARDWARE
    assert data.startup_duration_timeout == "1h"


def test_configured_adapters_are_linked_and_preloaded(tmp_path, monkeypatch):
    """Every Hub adapter of models.yaml is in the card, and the app offers exactly those."""
    from space.catalog import model_choices

    config = tmp_path / "models.yaml"
    config.write_text(
        "models:\n"
        "  - {label: deep 800, repo: me/qwen-deep-lora, revision: step-000800, arm: deep}\n"
        "  - {label: diverse, repo: me/qwen-diverse-lora, arm: diverse}\n"
        "repos:\n  - me/qwen-deep-lora\n"
    )
    monkeypatch.setenv("CODEGEN_LAB_MODELS", str(config))
    data = card_metadata()
    assert data["models"][2:] == ["me/qwen-deep-lora", "me/qwen-diverse-lora"]
    assert (
        "me/qwen-deep-lora adapter_config.json,adapter_model.safetensors step-000800"
        in data["preload_from_hub"]
    )
    assert (
        "me/qwen-diverse-lora" in data["preload_from_hub"] and "me/qwen-deep-lora" in data["preload_from_hub"]
    )
    offered = {c.repo for c in model_choices(SPACE_VARIABLES["BASE_MODEL"]) if c.source == "hub"}
    assert offered == set(data["models"][2:])
    rendered = SpaceCard(render_readme(README.read_text(), data)).data
    assert rendered.models == data["models"]


def test_transformers_arena_preloads_no_gguf():
    data = card_metadata({"BASE_MODEL": "Qwen/Qwen2.5-Coder-1.5B-Instruct", "ARENA_ENGINE": "transformers"})
    assert data["models"] == ["Qwen/Qwen2.5-Coder-1.5B-Instruct"]
    assert data["preload_from_hub"] == ["Qwen/Qwen2.5-Coder-1.5B-Instruct"]


def test_the_space_build_gets_llama_cpp_pinned_with_its_build_tools():
    """requirements.txt pins llama-cpp-python (the version make llama-cpp installs here); packages.txt has
    what compiling it needs, and the judge's bubblewrap."""
    import re
    from importlib.metadata import version

    requirements = (REPO_ROOT / "requirements.txt").read_text()
    (pin,) = re.findall(r"^llama-cpp-python==(\S+)$", requirements, re.MULTILINE)
    assert pin == "0.3.36" == version("llama-cpp-python")
    script = (REPO_ROOT / "scripts" / "install-llama-cpp.sh").read_text()
    assert "sed -n 's/^llama-cpp-python==//p' requirements.txt" in script  # one pin for both
    packages = (REPO_ROOT / "packages.txt").read_text().split()
    assert {"build-essential", "cmake", "bubblewrap"} <= set(packages)
