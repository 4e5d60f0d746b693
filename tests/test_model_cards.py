"""Model cards: valid YAML metadata read back by huggingface_hub, model-index values, run tables."""

from __future__ import annotations

import pytest
from huggingface_hub import ModelCard, metadata_load

from model_cards.card import render_adapter_card, render_run_card

STUDY_FILTERS = {
    "release": "release_v5",
    "platform": "atcoder",
    "difficulty": "easy",
    "start_date": "2024-08-01",
}
ARGS = {
    "learning_rate": 1e-4,
    "lora_r": 32,
    "lora_alpha": 64,
    "lora_target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "per_device_train_batch_size": 1,
    "gradient_accumulation_steps": 16,
    "lr_scheduler_type": "cosine",
    "max_length": 1024,
}


def metrics_json(pass1: float, low: float, high: float, solved: int, scope: str = "full") -> dict:
    """A checkpoint's metrics.json: the results file's metrics and benchmark blocks."""
    return {
        "metrics": {"pass@1": pass1, "pass@1_ci95": [low, high], "n_problems": 41, "n_solved": solved},
        "benchmark": {
            "source": "../shared/benchmarks/lcb_v5_atcoder_easy_2408_2502.jsonl",
            "revision": "sha256:abc",
            "preset": "study",
            "filters": STUDY_FILTERS,
            "test_scope": scope,
            "n_problems": 41,
            "n_tests": 118,
        },
        "results_file": "results/deep-study_step-000300.json",
    }


def read_back(text: str, tmp_path):
    """The card's metadata as huggingface_hub parses it, from text and from a README.md file."""
    path = tmp_path / "README.md"
    path.write_text(text)
    return ModelCard(text).data, metadata_load(path)


def test_adapter_card_model_index_round_trips(tmp_path):
    text = render_adapter_card(
        base_model="Qwen/Qwen2.5-Coder-1.5B-Instruct",
        dataset="Naholav/CodeGen-Deep-5K",
        training_args=ARGS,
        step=300,
        epoch=1,
        repo_id="someone/deep-study-lora",
        run_name="deep-study",
        evaluations=metrics_json(0.1220, 0.0532, 0.2552, 5, scope="public-only"),
        train_command="python -m training.sft --config training/recipes/deep.yaml",
    )
    data, meta = read_back(text, tmp_path)
    assert data.base_model == "Qwen/Qwen2.5-Coder-1.5B-Instruct" and data.library_name == "peft"
    assert data.license == "apache-2.0" and data.datasets == ["Naholav/CodeGen-Deep-5K"]
    assert "arm-deep" in data.tags and "lora" in data.tags
    (result,) = data.eval_results
    assert (result.task_type, result.dataset_name) == ("text-generation", "LiveCodeBench")
    assert (result.dataset_type, result.dataset_config) == (
        "livecodebench/code_generation_lite",
        "release_v5",
    )
    assert result.dataset_split == "atcoder easy 2024-08-01.."
    assert result.metric_type == "pass@1" and result.metric_value == pytest.approx(0.122)
    assert result.metric_args == {
        "ci95_low": 0.0532,
        "ci95_high": 0.2552,
        "test_scope": "public-only",
        "n_problems": 41,
        "n_solved": 5,
    }
    assert "public-only" in result.metric_name and "0.053-0.255" in result.metric_name
    index = meta["model-index"][0]
    assert index["name"] == "deep-study @ step 300"
    assert index["results"][0]["metrics"][0]["value"] == pytest.approx(0.122)
    body = text.split("---", 2)[2]
    assert (
        'AutoPeftModelForCausalLM.from_pretrained("someone/deep-study-lora", revision="step-000300")' in body
    )
    assert 'AutoTokenizer.from_pretrained("Qwen/Qwen2.5-Coder-1.5B-Instruct")' in body
    assert meta["base_model_relation"] == "adapter" and "GGUF" not in body  # a Hub base needs no provenance
    assert "training/recipes/deep.yaml" in body and "![Training curves" in body and "loss_curves.png" in body
    for key, value in (
        ("lora_alpha", "64"),
        ("gradient_accumulation_steps", "16"),
        ("learning_rate", "0.0001"),
    ):
        assert f"| `{key}` | `{value}` |" in body
    assert "| 0.122 | [0.053, 0.255] | 5 |" in body and "## Limitations" in body


def test_adapter_card_without_evaluation_or_hub_ids(tmp_path):
    local_base = tmp_path / "my-base"
    local_base.mkdir()
    text = render_adapter_card(
        base_model=str(local_base), dataset="sample:diverse", training_args={"seed": 42}, step=20
    )
    data, meta = read_back(text, tmp_path)
    assert data.base_model is None and data.datasets is None and data.eval_results is None
    assert "model-index" not in meta and "base_model_relation" not in meta and "Not evaluated yet." in text
    assert f'AutoTokenizer.from_pretrained("{local_base}")' in text  # a folder is named as it is


@pytest.mark.parametrize(
    ("alias", "hub_id", "gguf"),
    [
        ("embedded:smollm2", "HuggingFaceTB/SmolLM2-135M-Instruct", "SmolLM2-135M-Instruct.Q4_1.gguf"),
        (
            "embedded:qwen2.5-coder-1.5b",
            "Qwen/Qwen2.5-Coder-1.5B-Instruct",
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        ),
    ],
)
def test_embedded_bases_are_cited_by_their_hub_id_with_the_gguf_they_came_from(alias, hub_id, gguf, tmp_path):
    adapter = render_adapter_card(base_model=alias, dataset="sample:deep", training_args={}, step=5)
    run = render_run_card(
        run_name="deep-smoke", base_model=alias, dataset="sample:deep", training_args={}, checkpoints=[]
    )
    for text in (adapter, run):
        data, meta = read_back(text, tmp_path)
        assert data.base_model == hub_id and meta["base_model_relation"] == "adapter"
        body = text.split("---", 2)[2]
        assert f"**{hub_id}**" in body and f"`{gguf}`" in body and f"`{alias}`" in body
        assert f'AutoTokenizer.from_pretrained("{hub_id}")' in body
        assert 'from_pretrained("embedded:' not in body


def test_adapter_card_with_validation_and_test_results(tmp_path):
    validation = metrics_json(0.25, 0.1, 0.5, 2)
    validation["benchmark"]["filters"] = {
        "platform": "atcoder",
        "start_date": "2024-01-01",
        "end_date": "2024-07-31",
    }
    test = metrics_json(0.1463, 0.0688, 0.2852, 6)
    text = render_adapter_card(
        base_model="Qwen/Qwen2.5-Coder-1.5B-Instruct",
        dataset="Naholav/CodeGen-Diverse-5K",
        training_args=ARGS,
        step=900,
        repo_id="someone/diverse",
        evaluations=[validation, test],
    )
    data, _ = read_back(text, tmp_path)
    assert [r.dataset_split for r in data.eval_results] == [
        "atcoder 2024-01-01..2024-07-31",
        "atcoder easy 2024-08-01..",
    ]
    assert [r.metric_value for r in data.eval_results] == [0.25, 0.1463]
    assert "arm-diverse" in data.tags


def test_run_card_lists_checkpoints_and_picks_best_on_validation(tmp_path):
    checkpoints = [
        {
            "step": 100,
            "epoch": 0.33,
            "train_loss": 0.81,
            "eval_loss": 0.74,
            **metrics_json(0.07, 0.02, 0.19, 3),
        },
        # Lowest validation loss, though not the highest test Pass@1: the best must be chosen on validation.
        {
            "step": 200,
            "epoch": 0.67,
            "train_loss": 0.62,
            "eval_loss": 0.58,
            **metrics_json(0.10, 0.04, 0.23, 4),
        },
        {
            "step": 300,
            "epoch": 1.0,
            "train_loss": 0.55,
            "eval_loss": 0.61,
            **metrics_json(0.17, 0.09, 0.31, 7),
        },
        {"step": 400, "epoch": 1.33, "train_loss": 0.50, "eval_loss": None},
    ]
    text = render_run_card(
        run_name="deep-study",
        base_model="Qwen/Qwen2.5-Coder-1.5B-Instruct",
        dataset="Naholav/CodeGen-Deep-5K",
        training_args=ARGS,
        checkpoints=list(reversed(checkpoints)),
        repo_id="someone/deep-study",
        stop_reason="eval loss rose on 3 consecutive evaluations",
    )
    data, meta = read_back(text, tmp_path)
    assert meta["model-index"][0]["name"] == "deep-study"
    (result,) = data.eval_results
    assert result.metric_value == pytest.approx(0.10) and result.metric_args["n_solved"] == 4
    rows = [line for line in text.splitlines() if line.startswith("| ") and "tree/step-" in line]
    assert [row.split(" | ")[0] for row in rows] == ["| 100", "| 200 **(best)**", "| 300", "| 400"]
    assert "[`step-000200`](https://huggingface.co/someone/deep-study/tree/step-000200)" in rows[1]
    assert "0.170 [0.090, 0.310]" in rows[2] and rows[3].endswith("| - | - |")
    assert "**step 200**" in text and 'revision="step-000200"' in text
    assert "eval loss rose on 3 consecutive evaluations" in text


def test_run_card_explicit_best_and_main(tmp_path):
    checkpoints = [{"step": 20, "epoch": 1, "train_loss": 2.1, "eval_loss": 2.3}, {"step": 40, "epoch": 2}]
    text = render_run_card(
        run_name="diverse-smoke",
        base_model="embedded:smollm2",
        dataset="sample:diverse",
        training_args={"max_steps": 40},
        checkpoints=checkpoints,
        best_step=40,
        main_step=40,
    )
    data, meta = read_back(text, tmp_path)
    assert data.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct" and "model-index" not in meta
    assert 'from_pretrained("your-username/diverse-smoke", revision="step-000040")' in text
    assert "| 40 **(best)** | 2 |" in text and "`main` holds the adapter of step 40" in text


def with_role(evaluation: dict, role: str, validation: dict | None = None) -> dict:
    """metrics.json as training writes it: the latest block, its role, and the validation block."""
    return {"split": role, **evaluation, "validation": validation if role == "test" else evaluation}


def test_cards_read_training_metrics_with_validation_and_test_blocks(tmp_path):
    validation = metrics_json(0.20, 0.10, 0.35, 8)
    final = with_role(metrics_json(0.1463, 0.0688, 0.2852, 6), "test", validation)
    text = render_adapter_card(
        base_model="Qwen/Qwen2.5-Coder-1.5B-Instruct",
        dataset="Naholav/CodeGen-Deep-5K",
        training_args=ARGS,
        step=200,
        evaluations=final,
    )
    data, _ = read_back(text, tmp_path)
    assert [(r.metric_args["role"], r.metric_value) for r in data.eval_results] == [
        ("validation", 0.2),
        ("test", 0.1463),
    ]
    assert data.eval_results[1].metric_name == "Pass@1 (test, full tests, 95% CI 0.069-0.285)"
    assert "| validation | LiveCodeBench release_v5" in text and "| test | LiveCodeBench release_v5" in text

    checkpoints = [
        # Best validation loss, but a lower validation Pass@1.
        {
            "step": 100,
            "epoch": 1,
            "eval_loss": 0.50,
            **with_role(metrics_json(0.10, 0.03, 0.2, 4), "validation"),
        },
        {"step": 200, "epoch": 2, "eval_loss": 0.55, **final},
        # Highest test Pass@1, which must not decide.
        {
            "step": 300,
            "epoch": 3,
            "eval_loss": 0.60,
            **with_role(metrics_json(0.4, 0.2, 0.6, 16), "test", {}),
        },
    ]
    run = render_run_card(
        run_name="deep-study",
        base_model="Qwen/Qwen2.5-Coder-1.5B-Instruct",
        dataset="Naholav/CodeGen-Deep-5K",
        training_args=ARGS,
        checkpoints=checkpoints,
        repo_id="someone/deep-study",
    )
    assert "| 200 **(best)** |" in run and "validation: 0.200 [0.100, 0.350]<br>test: 0.146" in run
    run_data, _ = read_back(run, tmp_path)
    assert [r.metric_value for r in run_data.eval_results] == [0.2, 0.1463]
