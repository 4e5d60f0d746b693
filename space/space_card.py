"""The Space card (README.md's front matter), generated from what the Space loads: one source for both.

The Hub links a Space to the models and datasets its card names (and lists the Space on their pages),
fetches ``preload_from_hub`` at build time instead of on the first visit, and waits
``startup_duration_timeout`` for a first start that downloads and converts models. Everything here comes
from the settings the app reads on a Space: ``SPACE_VARIABLES`` (which ``space.deploy`` sets as the
Space's variables), ``space/models.yaml``, the GGUF mapping, the datasets' constants, the Gradio pin.

    python -m space.space_card            # rewrite README.md's front matter
    python -m space.space_card --check    # exit 1 when README.md is out of date
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from codegen_lab import DEFAULT_BASE_MODEL
from codegen_lab.atomic import write_bytes_atomic
from codegen_lab.paths import REPO_ROOT

README = REPO_ROOT / "README.md"
REQUIREMENTS = REPO_ROOT / "requirements.txt"
# What a Space runs: the study's base from the Hub, the Arena on llama.cpp (its official GGUF).
SPACE_VARIABLES = {"BASE_MODEL": DEFAULT_BASE_MODEL, "ARENA_ENGINE": "llama.cpp"}
SUGGESTED_HARDWARE = "cpu-basic"  # llama.cpp answers at usable speed on 2 vCPUs
STARTUP_TIMEOUT = "1h"  # a first start downloads the base and converts the adapters to GGUF LoRAs
ADAPTER_FILES = "adapter_config.json,adapter_model.safetensors"
STYLE = {
    "title": "codegen-lora-lab",
    "emoji": "🧪",
    "colorFrom": "indigo",
    "colorTo": "green",
    "sdk": "gradio",
    "python_version": "3.11",
    "app_file": "app.py",
    "pinned": False,
    "license": "apache-2.0",
    "short_description": "Deep vs diverse LoRA for code models, judged on LiveCodeBench",
}


def gradio_version(requirements: Path = REQUIREMENTS) -> str:
    """The Gradio pin of requirements.txt: the Space's ``sdk_version`` is the version the app is tested on."""
    found = re.search(r"^gradio==(\S+)$", requirements.read_text(), re.MULTILINE)
    if found is None:
        raise ValueError(f"{requirements} pins no gradio==<version>; the Space card needs it.")
    return found.group(1)


def adapter_repos(models_config: Path) -> list[tuple[str, str]]:
    """(repo, revision) of every Hub adapter the Space offers: ``models:`` entries and ``repos:`` lists."""
    from space.catalog import hub_choices
    from space.hub_results import configured_repos

    listed = [(c.repo, c.revision or "main") for c in hub_choices(models_config)]
    return list(dict.fromkeys(listed + [(r, v or "main") for r, v in configured_repos(models_config)]))


def card_metadata(variables: dict[str, str] | None = None, models_config: Path | None = None) -> dict:
    """The front matter for a Space running with ``variables`` (default ``SPACE_VARIABLES``)."""
    from codegen_lab.hub_gguf import known_gguf
    from datasets_scripts.data import STUDY_SOURCES
    from evaluation.benchmark import HUB_DATASET
    from space.catalog import models_config as configured

    variables = variables or SPACE_VARIABLES
    base = variables["BASE_MODEL"].split("@")[0]
    gguf = known_gguf(base) if variables.get("ARENA_ENGINE") == "llama.cpp" else None
    adapters = adapter_repos(models_config or configured())
    preload = [base] + ([f"{gguf.repo} {gguf.filename}"] if gguf else [])
    preload += [repo if rev == "main" else f"{repo} {ADAPTER_FILES} {rev}" for repo, rev in adapters]
    return STYLE | {
        "sdk_version": gradio_version(),
        "models": list(dict.fromkeys([base] + ([gguf.repo] if gguf else []) + [r for r, _ in adapters])),
        "datasets": [STUDY_SOURCES["deep"], STUDY_SOURCES["diverse"], HUB_DATASET],
        "preload_from_hub": list(dict.fromkeys(preload)),
        "startup_duration_timeout": STARTUP_TIMEOUT,
        "suggested_hardware": SUGGESTED_HARDWARE,
    }


def render_readme(text: str, metadata: dict) -> str:
    """``text`` with its front matter replaced by ``metadata`` (the body is kept as it is)."""
    from huggingface_hub import SpaceCard, SpaceCardData

    card = SpaceCard(text)
    card.data = SpaceCardData(**metadata)
    return str(card)


def main(argv: list[str]) -> int:
    current = README.read_text()
    wanted = render_readme(current, card_metadata())
    if "--check" in argv:
        if current != wanted:
            print(f"{README} front matter is out of date: run `python -m space.space_card`.", file=sys.stderr)
            return 1
        return 0
    if current != wanted:
        write_bytes_atomic(README, wanted.encode())
    print(README)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
