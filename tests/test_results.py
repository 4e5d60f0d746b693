"""Results files: incremental writes, resume after a real kill, refusal to mix runs, listing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from codegen_lab.paths import REPO_ROOT
from evaluation.benchmark import STUDY_BENCHMARK
from evaluation.results import (
    SCHEMA,
    ResultsError,
    ResultsWriter,
    list_results,
    partial_path,
    problem_record,
    read_results,
    results_path,
)

HEADER = {
    "model": {
        "name": "m",
        "base": "b",
        "adapter": None,
        "run": None,
        "arm": "base",
        "step": None,
        "source": "local",
    },
    "benchmark": {"source": "s", "test_scope": "full", "n_problems": 3},
    "config": {"prompt_style": "study", "max_new_tokens": 8, "packages": {"torch": "x"}},
}


def sample(passed: bool) -> dict:
    tests = [{"verdict": "AC" if passed else "WA", "seconds": 0.01, "detail": ""}]
    return {"output": "print(1)", "code": "print(1)", "extraction": "whole", "passed": passed, "tests": tests}


def test_writer_appends_resumes_and_finishes(tmp_path):
    final = results_path(tmp_path, "deep-smoke@step-000020")
    assert final.name == "deep-smoke_step-000020.json"
    writer = ResultsWriter(final, HEADER)
    writer.add(problem_record("a", [sample(True)]))
    writer.add(problem_record("b", [sample(False), sample(True)]))
    # a kill in the middle of the next write leaves a torn line: it is dropped and that problem redone
    with partial_path(final).open("a") as handle:
        handle.write('{"question_id": "c", "n": 1, "sam')

    resumed = ResultsWriter(final, dict(HEADER, config=dict(HEADER["config"], packages={"torch": "y"})))
    assert set(resumed.done) == {"a", "b"}
    with pytest.raises(ResultsError, match="3 problems|1 problems are not done"):
        resumed.finish(["a", "b", "c"])
    resumed.add(problem_record("c", [sample(False)]))
    path = resumed.finish(["c", "a", "b"])
    assert not partial_path(final).exists() and not list(tmp_path.glob("*.tmp"))
    data = read_results(path)
    assert data["schema"] == SCHEMA and [p["question_id"] for p in data["problems"]] == ["c", "a", "b"]
    metrics = data["metrics"]
    assert metrics["pass@1"] == pytest.approx((0 + 1 + 0.5) / 3) and metrics["n_solved"] == 2
    low, high = metrics["pass@1_ci95"]
    assert low < 2 / 4 < high  # interval over the 4 samples
    assert metrics["pass@k"] == {"1": metrics["pass@1"]}
    # a finished file counts as done on a rerun with the same settings
    assert set(ResultsWriter(final, HEADER).done) == {"a", "b", "c"}


def test_writer_refuses_to_mix_runs(tmp_path):
    final = results_path(tmp_path, "m")
    ResultsWriter(final, HEADER).add(problem_record("a", [sample(True)]))
    other = dict(HEADER, config=dict(HEADER["config"], max_new_tokens=16))
    with pytest.raises(ResultsError, match="different run"):
        ResultsWriter(final, other)


def test_read_and_list_results(tmp_path):
    nested = tmp_path / "run" / "results"
    writer = ResultsWriter(results_path(nested, "m"), HEADER)
    writer.add(problem_record("a", [sample(True)]))
    writer.finish(["a"])
    (tmp_path / "other.json").write_text('{"not": "results"}')
    assert list_results(tmp_path) == [nested / "m.json"]
    with pytest.raises(ResultsError, match="not a results file"):
        read_results(tmp_path / "other.json")
    with pytest.raises(ResultsError, match="does not exist"):
        read_results(tmp_path / "missing.json")


def test_resume_after_kill_redoes_nothing_and_loses_nothing(tiny_model_dir, tiny_adapters, tmp_path):
    """A real CLI process is SIGKILLed mid-run; the rerun finishes only the missing problems."""
    out = tmp_path / "out"
    command = [
        sys.executable, "-m", "evaluation", "run", "--base_model", str(tiny_model_dir),
        "--adapter", f"deep={tiny_adapters['deep']}", "--preset", "study", "--limit", "12",
        "--max_new_tokens", "48", "--batch_size", "1", "--output_dir", str(out),
    ]  # fmt: skip
    partial = out / "deep.partial.jsonl"
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if partial.is_file() and len(partial.read_text().splitlines()) >= 4:  # header + 3 problems
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    process.communicate()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (out / "deep.json").exists()
    kept = [json.loads(line) for line in partial.read_text().splitlines()[1:] if line.endswith("}")]
    assert 3 <= len(kept) < 12

    rerun = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"deep: {12 - len(kept)} problems to do, {len(kept)} already done." in rerun.stderr
    assert f"Generated and judged {12 - len(kept)} of {12 - len(kept)} pending problems." in rerun.stderr
    data = read_results(out / "deep.json")
    assert len(data["problems"]) == 12 and len({p["question_id"] for p in data["problems"]}) == 12
    by_id = {p["question_id"]: p for p in data["problems"]}
    for record in kept:
        assert by_id[record["question_id"]] == record
    assert not partial.exists()

    again = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "deep: 0 problems to do, 12 already done." in again.stderr
    assert read_results(out / "deep.json") == data


def test_should_stop_keeps_finished_problems_and_a_rerun_completes(tiny_model_dir, tiny_adapters, tmp_path):
    from evaluation.benchmark import load_benchmark
    from evaluation.pipeline import EvalConfig, evaluate_models

    bench = load_benchmark(str(STUDY_BENCHMARK), limit=4)
    progress = []

    def judged() -> list[tuple[int, int, int]]:  # one entry per problem judged (steps report too)
        seen = [(p.judged, p.total, p.solved) for p in progress]
        return [v for k, v in enumerate(seen) if k == 0 or seen[k - 1] != v]

    common = dict(config=EvalConfig(max_new_tokens=8, batch_size=1), include_base=True)
    first = evaluate_models(
        str(tiny_model_dir), {"deep": str(tiny_adapters["deep"])}, bench, tmp_path, **common,
        on_progress=progress.append, should_stop=lambda: len(judged()) >= 3,
    )  # fmt: skip
    stopped_at = judged()[-1][0]
    assert first == {} and judged()[0] == (0, 8, 0) and 2 <= stopped_at < 8
    assert not list(tmp_path.glob("*.json")) and len(list(tmp_path.glob("*.partial.jsonl"))) >= 1
    progress.clear()
    second = evaluate_models(
        str(tiny_model_dir), {"deep": str(tiny_adapters["deep"])}, bench, tmp_path, **common,
        on_progress=progress.append,
    )  # fmt: skip
    assert (
        set(second) == {"tiny-qwen2", "deep"} and judged()[0][0] == stopped_at and judged()[-1][:2] == (8, 8)
    )
    assert [len(read_results(path)["problems"]) for path in second.values()] == [4, 4]
    assert not list(tmp_path.glob("*.partial.jsonl"))


def test_shipped_course_results_are_complete_results_files():
    files = list_results(REPO_ROOT / "results" / "course")
    assert len(files) == 18
    for path in files:
        data = read_results(path)
        model = data["model"]
        assert model["source"] == "reference" and model["arm"] in {"deep", "diverse"} and model["step"] >= 100
        assert data["config"]["prompt_style"] == "course" and data["benchmark"]["test_scope"] == "public-only"
        assert data["metrics"]["n_problems"] == 41 and len(data["problems"]) == 41
        sample = data["problems"][0]["samples"][0]
        assert sample["output"] and set(sample) == {"output", "code", "extraction", "passed", "tests"}
