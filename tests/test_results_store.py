"""The leaderboard's store: local results files, run folders, the Hub, the LiveCodeBench reference."""

from __future__ import annotations

import json
import math

import pytest

from analysis.runs import StudyInputError
from codegen_lab.hub import Hub
from space.results_store import (
    REFERENCE_SOURCE,
    ResultsStore,
    filter_rows,
    problem_matrix,
    step_series,
    table,
)
from tests.helpers import COURSE_RESULTS, LCB_REFERENCE, QIDS, solving, write_results


def test_local_runs_shipped_results_and_reference_become_rows(study):
    rows = {row.key: row for row in study.rows()}
    assert (
        len(rows) == 6 + 1 + 16
    )  # checkpoints, base, LiveCodeBench models; notes.json and the partial skipped
    deep = rows["deep-run@step-000200"]
    assert (deep.run, deep.arm, deep.step, deep.source, deep.test_scope) == (
        "deep-run",
        "deep",
        200,
        "local",
        "full",
    )
    assert deep.pass_at_1 == pytest.approx(0.4) and deep.n_problems == 10
    assert deep.ci95[0] < 0.4 < deep.ci95[1]
    assert deep.sampling == "greedy, n=1" and deep.prompt_style == "study"
    assert rows["base-model"].test_scope == "public-only"


def test_reference_models_are_the_lcb_leaderboard_means(study):
    reference = {row.key: row for row in study.rows() if row.source == REFERENCE_SOURCE}
    assert len(reference) == 16
    assert reference["Claude-3-Haiku"].pass_at_1 == pytest.approx(0.510, abs=5e-4)
    assert reference["GPT-4O-2024-08-06"].pass_at_1 == pytest.approx(0.783, abs=5e-4)
    assert reference["DeepSeek-V3"].pass_at_1 == pytest.approx(0.880, abs=5e-4)
    assert max(r.pass_at_1 for r in reference.values()) == pytest.approx(40 / 41, abs=5e-4)
    haiku = reference["Claude-3-Haiku"]
    assert (haiku.test_scope, haiku.sampling, haiku.n_problems, haiku.ci95) == ("full", "n=10", 41, None)
    assert len(haiku.problems) == 41 and haiku.problems["abc375_b"] == 0.0


def test_table_filters_and_search(study):
    frame = table(study.rows())
    assert list(frame["Pass@1 (%)"]) == sorted(frame["Pass@1 (%)"], reverse=True)
    assert frame.loc[frame["Model"] == "deep-run@step-000300", "Pass@1 (%)"].item() == 30.0
    rows = study.rows()
    assert {r.key for r in filter_rows(rows, ["deep"])} == {f"deep-run@step-{s:06d}" for s in (100, 200, 300)}
    assert [r.key for r in filter_rows(rows, None, "public-only")] == ["base-model"]
    assert [r.key for r in filter_rows(rows, ["deep", "diverse"], "full", "DIVERSE 000300")] == [
        "diverse-run@step-000300"
    ]
    assert {r.key for r in filter_rows(rows, search="gpt-4o")} == {
        "GPT-4O-2024-08-06",
        "GPT-4O-mini-2024-07-18",
    }
    assert filter_rows(rows, ["base"], "full") == []
    assert table([]).empty


def test_problem_matrix_and_step_series(study):
    rows = filter_rows(study.rows(), ["deep", "base"])
    matrix = problem_matrix(rows)
    assert (len(matrix["problems"]), len(matrix["columns"])) == (10, 4)
    assert matrix["problems"] == sorted(QIDS)
    column = matrix["columns"].index("deep-run@step-000200")
    assert sum(cells[column] for cells in matrix["solved"]) == 4
    assert (
        matrix["solved"][matrix["problems"].index("abc365_b")][
            matrix["columns"].index("deep-run@step-000100")
        ]
        == 1.0
    )
    assert problem_matrix([]) == {"columns": [], "problems": [], "solved": []}
    series = step_series(study.rows())
    assert series == {
        "deep-run (full)": [(100, 0.2), (200, 0.4), (300, 0.3)],
        "diverse-run (full)": [(100, 0.3), (200, 0.5), (300, 0.6)],
    }


def test_paired_comparison_of_two_rows(study):
    # deep@200 solves problems 0-3, diverse@300 solves 0-5: B-only = 2, A-only = 0.
    result = study.compare("deep-run@step-000200", "diverse-run@step-000300")
    assert (len(result["only_a"]), len(result["only_b"]), result["n_problems"]) == (0, 2, 10)
    assert result["mcnemar_p"] == pytest.approx(0.5)  # 2 * (1/2)^2, the exact two-sided binomial tail
    vs_reference = study.compare("diverse-run@step-000300", "Claude-3-Haiku")
    assert vs_reference["mcnemar_p"] is None and vs_reference["n_problems"] == 10  # fractions: bootstrap
    with pytest.raises(StudyInputError, match="no-such-row"):
        study.compare("no-such-row", "base-model")


def test_rows_are_cached_until_refresh(study, tmp_path):
    before = len(study.rows())
    write_results(tmp_path / "results", "late-model", solving(1, 2))
    assert len(study.rows()) == before
    assert "late-model" in {row.key for row in study.refresh()}


def test_loss_history_of_a_run(study):
    assert study.runs() == ["deep-run", "diverse-run"]
    series = study.loss_history("deep-run")
    assert set(series) == {"train", "validation"}  # a Trainer log_history, read as the curves it holds
    assert series["train"][0] == (10, 0.2) and len(series["train"]) == 30
    assert series["validation"] == [(150, 0.5), (300, 0.4)]
    from codegen_lab.loss_history import TEST_LOSS, VALIDATION_LOSS, loss_curves, loss_history

    log_history = [
        {"step": 10, "epoch": 0.5, "loss": 1.2},
        {"step": 20, "epoch": 1.0, "loss": 0.9},
        {"step": 20, "epoch": 1.0, VALIDATION_LOSS: 1.1},
        {"step": 20, "epoch": 1.0, TEST_LOSS: 1.3},
    ]
    written_by_training = json.loads(json.dumps(loss_history(log_history)))
    assert loss_curves(written_by_training) == {
        "train": [(10, 1.2), (20, 0.9)],
        "validation": [(20, 1.1)],
        "test": [(20, 1.3)],
    }
    with pytest.raises(StudyInputError, match="no-run"):
        study.loss_history("no-run")


def test_same_model_from_two_places_gets_distinct_keys(tmp_path):
    write_results(tmp_path / "a", "deep-run@step-000100", solving(0))
    write_results(tmp_path / "b", "deep-run@step-000100", solving(0, 1), scope="public-only")
    keys = sorted(row.key for row in ResultsStore([tmp_path / "a", tmp_path / "b"]).rows())
    assert keys == [
        "deep-run@step-000100 (local, study, full)",
        "deep-run@step-000100 (local, study, public-only)",
    ]


def test_validation_results_of_a_run_are_their_own_series(tmp_path):
    """Training writes validation results to <run>/results/validation/ under the same model names."""
    run = tmp_path / "outputs" / "deep-smoke"
    for step, n_solved in ((10, 1), (20, 3)):
        name = f"deep-smoke@step-{step:06d}"
        write_results(
            run / "results", name, solving(*range(n_solved)), run="deep-smoke", step=step, arm="deep"
        )
        path = write_results(
            run / "results" / "validation", name, solving(*range(n_solved + 2)), run="deep-smoke", step=step
        )
        data = json.loads(path.read_text())
        data["benchmark"] |= {
            "preset": None,
            "filters": {"start_date": "2024-04-01", "end_date": "2024-08-01"},
        }
        path.write_text(json.dumps(data))
    rows = ResultsStore([], outputs_dir=tmp_path / "outputs").rows()
    assert len({row.key for row in rows}) == 4
    assert step_series(rows) == {
        "deep-smoke (full)": [(10, 0.1), (20, 0.3)],
        "deep-smoke (full) [2024-04-01..2024-08-01]": [(10, 0.3), (20, 0.5)],
    }
    assert [r.key for r in filter_rows(rows, search="2024-04-01 000020")] == [
        "deep-smoke@step-000020 (local, 2024-04-01..2024-08-01, full)"
    ]


MODEL_CARD = """---
model-index:
- name: deep-hub
  results:
  - task:
      type: text-generation
    dataset:
      name: LiveCodeBench v5 AtCoder easy
      type: livecodebench/code_generation_lite
    metrics:
    - type: pass@1
      value: 12.2
---
# deep-hub
"""


def test_configured_hub_repo_is_read_per_branch(tmp_path, local_hub):
    hub = Hub.from_env()
    hub.create_repo("me/deep-hub")
    for step in (100, 200, 300):
        hub.create_branch("me/deep-hub", f"step-{step:06d}")
    results = write_results(
        tmp_path / "r", "deep-hub@step-000100", solving(0, 1, 2), run="deep-hub", step=100
    )
    hub.upload_file("me/deep-hub", results, "results/deep-hub_step-000100.json", revision="step-000100")
    metrics = json.loads(results.read_text())
    metrics = {"metrics": {**metrics["metrics"], "pass@1": 0.5}, "benchmark": metrics["benchmark"]}
    hub.upload_file("me/deep-hub", json.dumps(metrics), "metrics.json", revision="step-000200")
    hub.upload_file("me/deep-hub", MODEL_CARD, "README.md", revision="step-000300")
    config = tmp_path / "models.yaml"
    config.write_text("repos:\n  - me/deep-hub\n  - repo: me/missing\n    revision: main\n")

    store = ResultsStore([], models_config=config)
    rows = {row.step: row for row in store.rows()}
    assert sorted(rows) == [100, 200, 300]
    assert {row.source for row in rows.values()} == {"Hub"}
    assert rows[100].pass_at_1 == pytest.approx(0.3) and len(rows[100].problems) == 10
    assert (
        rows[200].pass_at_1 == 0.5 and rows[200].key == "me/deep-hub@step-000200" and rows[200].arm == "deep"
    )
    assert rows[300].pass_at_1 == pytest.approx(0.122) and math.isclose(rows[300].n_problems, 0)
    assert len(store.errors) == 1 and "me/missing" in store.errors[0]


def test_shipped_results_appear_in_the_default_store():
    course = COURSE_RESULTS
    rows = ResultsStore.from_env().rows()
    study_rows = [r for r in rows if r.arm in ("deep", "diverse") and str(course) in r.origin]
    assert len(study_rows) == 18
    assert {r.arm for r in study_rows} == {"deep", "diverse"}
    assert all(len(r.problems) == 41 and r.step for r in study_rows)
    assert sum(r.source == REFERENCE_SOURCE for r in rows) == 16


@pytest.mark.parametrize("text", ["repos: [me/a\n  - broken", "repos:\n  - {name: no-repo-key}\n"])
def test_a_bad_models_config_is_reported_and_the_rest_still_loads(tmp_path, text):
    config = tmp_path / "models.yaml"
    config.write_text(text)
    store = ResultsStore([], models_config=config, reference=LCB_REFERENCE)
    assert len(store.rows()) == 16
    assert len(store.errors) == 1 and str(config) in store.errors[0]
