"""The fixtures every test module may use by name: a tiny random Qwen2 model and LoRA adapters built here,
a local hub per test, the embedded model, the Space's engine on the tiny model, a results store with two
runs, and the app in a subprocess with a headless browser. Plain helpers are in tests/helpers.py."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tests run tiny models on 2 shared cores: extra OpenMP threads only spin against the judge's workers.
# Set before torch is imported, so every test and every subprocess it starts inherits it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from tests.helpers import build_tiny_adapter, build_tiny_model  # noqa: E402


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


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    """The Space's engine on the tiny model, one per module (its tests load adapters into it).

    float32 whatever the CPU: a random tiny model has near-ties between tokens, and bf16 rounds a padded
    batch differently from a single row, so "a batch equals each row alone" is only a property in float32.
    """
    import torch

    from space.engine import Engine

    return Engine(str(tiny_model_dir), max_adapters=2, dtype=torch.float32)


@pytest.fixture
def study(tmp_path):
    """A ResultsStore: two runs of three checkpoints each under outputs/, a shipped results folder, the
    LiveCodeBench reference. deep-run solves 2, 4, 3 of QIDS at steps 100-300; diverse-run 3, 5, 6."""
    from evaluation.results import partial_path, results_path
    from space.results_store import ResultsStore
    from tests.helpers import LCB_REFERENCE, solving, write_results

    outputs = tmp_path / "outputs"
    for run, arm, solved_at in (("deep-run", "deep", [2, 4, 3]), ("diverse-run", "diverse", [3, 5, 6])):
        for k, n_solved in enumerate(solved_at):
            step = 100 * (k + 1)
            name = f"{run}@step-{step:06d}"
            write_results(
                outputs / run / "results", name, solving(*range(n_solved)), run=run, step=step, arm=arm
            )
        history = [{"step": s, "loss": 2.0 / s, "epoch": s / 300} for s in range(10, 310, 10)]
        history += [{"step": 150, "eval_loss": 0.5}, {"step": 300, "eval_loss": 0.4}]
        (outputs / run / "loss_history.json").write_text(json.dumps(history))
    shipped = tmp_path / "results"
    write_results(shipped, "base-model", solving(0), arm="base", scope="public-only")
    (shipped / "notes.json").write_text(json.dumps({"not": "a results file"}))
    partial = partial_path(results_path(shipped, "half-done"))
    partial.write_text(json.dumps({"model": {"name": "half-done"}}) + "\n")
    # outputs/deep-run is also named as a results folder: its files are still read once
    return ResultsStore([shipped, outputs / "deep-run"], outputs_dir=outputs, reference=LCB_REFERENCE)


# The app in a real subprocess and a headless Chromium page (tests/app_server.py).
@pytest.fixture
def app_server():
    """Factory fixture: ``url = app_server({"BASE_MODEL": ...})``; every server started is stopped after."""
    from tests.app_server import running_app

    with contextlib.ExitStack() as stack:
        yield lambda env=None, timeout=240.0, host="127.0.0.1": stack.enter_context(
            running_app(env, timeout=timeout, host=host)
        )


@pytest.fixture
def browser_page():
    from tests.app_server import chromium_page

    with chromium_page() as page:
        yield page
