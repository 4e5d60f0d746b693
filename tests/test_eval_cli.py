"""`python -m evaluation`: instant help, one-line errors, end-to-end runs on the tiny and embedded models."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from codegen_lab import BASE_ADAPTER
from codegen_lab.paths import REPO_ROOT
from evaluation.benchmark import STUDY_BENCHMARK
from evaluation.results import read_results
from tests.helpers import build_tiny_adapter, sample, write_results

BENCH = str(STUDY_BENCHMARK)


def cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evaluation", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_help_is_instant_and_imports_nothing_heavy():
    probe = "import sys; from evaluation.cli import make_parser; make_parser('run'); print(sorted(m for m in ('torch', 'peft') if m in sys.modules))"
    assert (
        subprocess.run(
            [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True
        ).stdout.strip()
        == "[]"
    )
    for command in ([], ["run"], ["rejudge"], ["compare"]):
        result = cli(*command, "--help")
        assert result.returncode == 0, result.stderr
    assert "--base_model" in cli("run", "--help").stdout
    assert "--generations" in cli("rejudge", "--help").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--benchmark", "nowhere/bench.jsonl"], "does not exist"),
        (["--benchmark", BENCH, "--preset", "nope"], "Unknown benchmark preset"),
        (["--benchmark", BENCH, "--n", "3"], "identical samples"),
        (["--benchmark", BENCH, "--adapter", "x=/no/such/adapter"], "neither a folder nor a Hub id"),
    ],
)
def test_user_mistakes_give_one_line_and_a_nonzero_exit(tiny_model_dir, tmp_path, args, message):
    result = cli(
        "run",
        "--base_model",
        str(tiny_model_dir),
        "--output_dir",
        str(tmp_path / "out"),
        "--limit",
        "1",
        *args,
    )
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not list((tmp_path / "out").glob("*.json"))


def test_mixed_adapter_batches_match_one_adapter_at_a_time(tiny_model_dir, tiny_adapters):
    import torch

    from codegen_lab.models import load_model
    from codegen_lab.prompts import build_messages
    from evaluation.benchmark import load_benchmark
    from evaluation.generate import Request, Sampling, end_of_turn_ids, generate

    # float32 on every CPU: in bf16 a padded batch rounds differently from a single row (near-ties)
    adapters = {k: str(v) for k, v in tiny_adapters.items()}
    model, tokenizer = load_model(str(tiny_model_dir), adapters, dtype=torch.float32)
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") in end_of_turn_ids(
        model.generation_config, tokenizer
    )
    problems = load_benchmark(BENCH, limit=3).problems
    requests = [
        Request(build_messages(p.question_content, style=style), adapter)
        for p in problems
        for adapter, style in ((BASE_ADAPTER, "study"), ("deep", "lcb"), ("diverse", "study"))
    ]
    together = generate(model, tokenizer, requests, max_new_tokens=12, batch_size=9)
    alone = generate(model, tokenizer, requests, max_new_tokens=12, batch_size=1)
    assert together == alone
    # the adapters really change what is generated
    assert together[0] != together[2] and together[0] != together[1]
    sampled = generate(
        model, tokenizer, requests[:2], sampling=Sampling(n=3, temperature=1.0, top_p=0.95), max_new_tokens=8
    )
    assert [len(s) for s in sampled] == [3, 3] and len(set(sampled[0])) > 1


def test_run_writes_one_results_file_per_model(tiny_model_dir, tiny_adapters, tmp_path):
    out = tmp_path / "out"
    result = cli(
        "run", "--base_model", str(tiny_model_dir), "--adapter", str(tiny_adapters["deep"]),
        f"diverse={tiny_adapters['diverse']}", "--include_base", "--benchmark", BENCH,
        "--preset", "study", "--limit", "3", "--n", "2", "--temperature", "0.8", "--top_p", "0.95",
        "--max_new_tokens", "16", "--prompt_style", "lcb", "--test_scope", "public-only", "--output_dir", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    files = sorted(p.name for p in out.glob("*"))
    assert files == ["deep.json", "diverse.json", "tiny-qwen2.json"]
    for name in files:
        data = read_results(out / name)
        assert [p["question_id"] for p in data["problems"]] == ["abc365_a", "abc365_b", "abc366_a"]
        assert all(p["n"] == 2 and len(p["samples"]) == 2 for p in data["problems"])
        sample = data["problems"][0]["samples"][0]
        assert set(sample) == {"output", "code", "extraction", "passed", "tests"}
        assert data["config"]["sampling"] == {"n": 2, "temperature": 0.8, "top_p": 0.95}
        assert data["config"]["prompt_style"] == "lcb" and data["config"]["judge_version"]
        assert data["config"]["semantics"] == "lcb"  # the grader's import block, as LiveCodeBench runs it
        isolation = data["config"]["sandbox"]["isolation"]  # which sandbox judged it, in every file
        assert isolation == ("bwrap-root" if os.geteuid() == 0 else "bwrap-userns")
        assert data["benchmark"]["test_scope"] == "public-only" and data["benchmark"]["n_problems"] == 3
        assert "pass@1 " in result.stdout
    deep = read_results(out / "deep.json")["model"]
    assert (
        deep["adapter"] == str(tiny_adapters["deep"]) and deep["arm"] == "deep" and deep["source"] == "local"
    )
    assert read_results(out / "tiny-qwen2.json")["model"]["arm"] == "base"


def make_results(directory, name: str, passes: list[bool]):
    return write_results(
        directory, name, {f"p{i:02d}": sample(ok) for i, ok in enumerate(passes)}, arm="other"
    )


def test_compare_prints_intervals_differences_and_the_paired_test(tmp_path):
    a = make_results(tmp_path, "deep", [True] * 4 + [False] * 16)
    b = make_results(tmp_path, "diverse", [True] * 4 + [True] * 8 + [False] * 8)
    result = cli("compare", "--results", str(a), str(b), "--resamples", "2000")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "A deep: pass@1 0.200" in out and "B diverse: pass@1 0.600" in out and "95% CI [" in out
    assert (
        "Problems where they differ (8 of 20)" in out and "p04" in out and "p00" not in out.split("differ")[1]
    )
    assert "Exact McNemar: A-only 0, B-only 8, p = 0.0078" in out
    assert "Paired bootstrap" in out
    missing = cli("compare", "--results", str(a), str(tmp_path / "none.json"))
    assert (
        missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    )


@pytest.mark.embedded
def test_embedded_model_with_a_lora_adapter_end_to_end(embedded_dir, tmp_path):
    adapter = build_tiny_adapter(embedded_dir, tmp_path / "smoke-run" / "checkpoint-step-10-epoch-1", seed=3)
    out = tmp_path / "results"
    result = cli(
        "run", "--base_model", "embedded:smollm2", "--adapter", str(adapter), "--include_base",
        "--benchmark", BENCH, "--preset", "study", "--limit", "2", "--max_new_tokens", "64",
        "--batch_size", "4", "--output_dir", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    base = read_results(out / "embedded_smollm2.json")
    tuned = read_results(out / "smoke-run_step-000010.json")
    assert tuned["model"] | {"adapter": None} == {
        "name": "smoke-run@step-000010", "base": "embedded:smollm2", "adapter": None, "run": "smoke-run",
        "arm": "other", "step": 10, "source": "local",
    }  # fmt: skip
    for data in (base, tuned):
        assert data["metrics"]["n_problems"] == 2 and data["benchmark"]["n_tests"] == 6
        for problem in data["problems"]:
            sample = problem["samples"][0]
            assert sample["output"].strip(), "the model generated nothing"
            assert sample["extraction"] in {"fenced", "whole", "trimmed", "none"}
            # whatever was extracted was judged: a verdict per test up to the first failure
            if sample["code"]:
                assert sample["tests"] and sample["tests"][0]["verdict"] in {
                    "AC",
                    "WA",
                    "TLE",
                    "RE",
                    "MLE",
                    "OLE",
                }
    assert [p["samples"][0]["output"] for p in base["problems"]] != [
        p["samples"][0]["output"] for p in tuned["problems"]
    ]
    print(json.dumps({"base": base["metrics"], "tuned": tuned["metrics"]}))
