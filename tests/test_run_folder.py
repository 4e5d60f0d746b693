"""The run folder's one module: metrics.json and the candidate list round-trip, and every Hub reader finds a
run repo's checkpoints by the same rule."""

from __future__ import annotations

import json

from analysis.runs import load_hub_run, load_runs
from codegen_lab import run_folder
from codegen_lab.hub import Hub
from codegen_lab.naming import checkpoint_dirname
from codegen_lab.selection import Candidate
from space.catalog import branch_choices
from space.hub_results import read_hub_repo
from tests.helpers import solving, write_results
from training.checkpoint_eval import best_checkpoint


def block(pass_at_1: float, results_file: str) -> dict:
    return {
        "metrics": {"pass@1": pass_at_1, "n_problems": 10},
        "benchmark": {"n_problems": 10},
        "results_file": results_file,
    }


def test_metrics_and_candidates_round_trip_through_the_run_folder(tmp_path):
    run = tmp_path / "deep-run"
    # steps 2, 10, 30: a lexical sort would put 10 before 2; step 10 wins on validation, step 30 on test
    for step, epoch, validation in ((2, 1, 0.2), (10, 1, 0.6), (30, 2, 0.4)):
        checkpoint = run / checkpoint_dirname(step, epoch)
        checkpoint.mkdir(parents=True)
        run_folder.write_metrics(
            checkpoint, "validation", block(validation, f"results/validation/{step}.json")
        )
    last = run / checkpoint_dirname(30, 2)
    written = run_folder.write_metrics(last, "test", block(0.9, "results/30.json"))
    history = {"validation": [{"step": 2, "loss": 0.5}, {"step": 10, "loss": 0.7}, {"step": 30, "loss": 0.3}]}
    (run / run_folder.LOSS_HISTORY).write_text(json.dumps(history))

    read = run_folder.read_metrics(last)
    assert read == written and read["split"] == "test" and read["metrics"]["pass@1"] == 0.9
    assert read["validation"]["metrics"]["pass@1"] == 0.4  # the test run kept the number it was chosen by
    assert [(e["split"], e["metrics"]["pass@1"]) for e in run_folder.evaluations(read)] == [
        ("validation", 0.4),
        ("test", 0.9),
    ]
    assert run_folder.validation_evaluation(read)["results_file"] == "results/validation/30.json"
    assert run_folder.reported_test_metrics(read)["pass@1"] == 0.9
    assert run_folder.reported_test_metrics(run_folder.read_metrics(run / checkpoint_dirname(2, 1))) == {}

    candidates = run_folder.candidates(run)
    assert (
        [p.name for p in candidates]
        == [p.name for p in run_folder.list_checkpoints(run)]
        == [
            "checkpoint-step-2-epoch-1",
            "checkpoint-step-10-epoch-1",
            "checkpoint-step-30-epoch-2",
        ]
    )
    assert list(candidates.values()) == [
        Candidate(2, 0.2, 0.5),
        Candidate(10, 0.6, 0.7),
        Candidate(30, 0.4, 0.3),
    ]
    best, why = best_checkpoint(run)
    assert best.name == "checkpoint-step-10-epoch-1" and why == "highest validation Pass@1 (0.600)"

    # a copy judged again (a demo adapter) drops the validation block; the run state merges fields
    copy = tmp_path / "demo"
    copy.mkdir()
    (copy / run_folder.METRICS).write_text(json.dumps(read))
    assert (
        run_folder.write_metrics(copy, "test", block(0.5, "x.json"), keep_validation=False)["validation"]
        is None
    )
    run_folder.update_run_state(run, stopped_early=True)
    assert run_folder.update_run_state(run, best_checkpoint=best.name) == {
        "stopped_early": True,
        "best_checkpoint": "checkpoint-step-10-epoch-1",
    }


def push_run(hub: Hub, tmp_path, repo: str, steps: list[int], main_only: bool = False) -> None:
    """A run repo as the trainer leaves it: a results file and metrics.json per checkpoint branch, then main
    a copy of the last one; plus a branch that is no checkpoint (the job code's)."""
    hub.create_repo(repo)
    run = repo.split("/")[1]
    branches = ["main"] if main_only else [f"step-{step:06d}" for step in steps]
    for branch in {*branches, "code-0123456789ab"} - {"main"}:
        hub.create_branch(repo, branch)
    for step, branch in zip(steps, branches, strict=True):
        results = write_results(
            tmp_path / branch, f"{run}@{branch}", solving(*range(step)), run=run, step=step
        )
        data = json.loads(results.read_text())
        metrics = {"split": "test", "metrics": data["metrics"], "benchmark": data["benchmark"]}
        for revision in dict.fromkeys([branch, "main"] if branch == branches[-1] else [branch]):
            hub.upload_file(repo, results, f"results/{results.name}", revision=revision)
            hub.upload_file(repo, json.dumps(metrics), run_folder.METRICS, revision=revision)
    stray = write_results(tmp_path / "code", f"{run}@code", solving(0), run=run, step=99)
    hub.upload_file(repo, stray, f"results/{stray.name}", revision="code-0123456789ab")


def hub_readers(hub: Hub, repo: str, tmp_path) -> dict[str, list]:
    """What the leaderboard, the Arena's lists and the report each take for the run's checkpoints."""
    models = tmp_path / f"{repo.replace('/', '_')}.yaml"
    models.write_text(f"repos: [{repo}]\n")
    return {
        "leaderboard": [row.origin.split("/results/")[0] for row in read_hub_repo(hub, repo)],
        "arena": [choice.spec for choice in branch_choices(models, hub)],
        "report": [c.revision for (run,) in [load_runs([repo], hub)] for c in run.checkpoints],
    }


def test_every_hub_reader_takes_a_run_repos_checkpoints_by_one_rule(tmp_path):
    hub = Hub.from_env()
    push_run(hub, tmp_path, "me/deep-run", [1, 2])
    assert run_folder.run_branches(hub, "me/deep-run") == ["step-000001", "step-000002"]
    expected = ["me/deep-run@step-000001", "me/deep-run@step-000002"]  # not main's copy, not the code branch
    assert hub_readers(hub, "me/deep-run", tmp_path) == {
        "leaderboard": expected,
        "arena": expected,
        "report": expected,
    }
    assert [row.step for row in read_hub_repo(hub, "me/deep-run")] == [1, 2]

    push_run(hub, tmp_path, "me/one-adapter", [3], main_only=True)  # a single adapter pushed to main
    assert run_folder.run_branches(hub, "me/one-adapter") == ["main"]
    expected = ["me/one-adapter@main"]
    assert hub_readers(hub, "me/one-adapter", tmp_path) == {
        "leaderboard": expected,
        "arena": expected,
        "report": expected,
    }

    assert run_folder.run_branches(hub, "me/deep-run", "step-000002") == ["step-000002"]
    assert [row.step for row in read_hub_repo(hub, "me/deep-run", "step-000002")] == [2]


def test_hub_results_files_are_the_ones_under_results(tmp_path):
    hub = Hub.from_env()
    hub.create_repo("me/run")
    hub.create_branch("me/run", "step-000005")
    results = write_results(tmp_path, "run@step-000005", solving(0), run="run", step=5)
    hub.upload_file("me/run", results, "results.json", revision="step-000005")  # beside results/, not in it
    hub.upload_file("me/run", json.dumps({"not": "results"}), "results/other.json", revision="step-000005")
    (checkpoint,) = run_folder.hub_checkpoints(hub, "me/run")
    assert [path for _, path in checkpoint.results_candidates()] == ["results/other.json"]
    assert read_hub_repo(hub, "me/run") == []
    assert [(c.step, c.test) for c in load_hub_run("me/run", hub).checkpoints] == [(5, None)]
