"""The study report: built from course-style results folders, run folders (with validation, loss history
and adapters), Hub repos and real smoke runs; every table number is recomputed here from the cited files."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.runs import StudyInputError
from codegen_lab import naming
from codegen_lab.hub import Hub
from codegen_lab.paths import REPO_ROOT
from evaluation.benchmark import STUDY_BENCHMARK
from model_cards.report.build import ReportArguments, write_report
from tests.helpers import COURSE_RESULTS, COURSE_VERDICTS, course_results, run_folder

LINK = re.compile(r"\[([^\]]*)\]\(([^)]*)\)")


# -- every table number of a report, recomputed from the results file it cites -------------------
def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar(b: int, c: int) -> float:
    if b + c == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(b + c, i) for i in range(min(b, c) + 1)) / 2 ** (b + c))


def table_after(markdown: str, marker: str) -> list[list[str]]:
    lines = markdown.split(f"<!-- table:{marker} -->\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def first_passed(results: dict) -> dict[str, bool]:
    return {p["question_id"]: p["samples"][0]["passed"] for p in results["problems"]}


def check_report(out: Path) -> dict:
    """Every figure exists; every table number equals what its cited results file says."""
    report = json.loads((out / "report.json").read_text())
    markdown = (out / "report.md").read_text()
    for name in report["figures"].values():
        assert (out / name).stat().st_size > 1000, name
    for target in re.findall(r"!\[[^\]]*\]\(([^)]*)\)", markdown):
        assert (out / target).is_file(), target
    cited = {}
    for row in table_after(markdown, "checkpoints"):
        label, target = LINK.fullmatch(row[2]).groups()
        results = json.loads((out / target).read_text())
        cited[label] = results
        solved = sum(first_passed(results).values())
        n = len(results["problems"])
        assert row[3:7] == [
            str(solved),
            str(n),
            f"{100 * solved / n:.1f}",
            "[{:.1f}, {:.1f}]".format(*(100 * v for v in wilson(solved, n))),
        ], row
        assert label == f"{results['model']['run']}@{results['model']['step']}"
    assert len(cited) == len(report["checkpoints"])
    for row in table_after(markdown, "outcomes"):
        problems = cited[row[0]]["problems"]
        assert sum(int(v) for v in row[1:]) == len(problems)
        assert row[1] == str(sum(p["samples"][0]["passed"] for p in problems))  # the AC column
    for row in table_after(markdown, "best"):
        results = cited[f"{row[0]}@{row[1]}"]
        solved = sum(first_passed(results).values())
        assert row[3:6] == [
            str(solved),
            str(len(results["problems"])),
            f"{100 * solved / len(results['problems']):.1f}",
        ]
    if report.get("harness"):
        for row in table_after(markdown, "harness"):
            assert row[1] == str(sum(first_passed(cited[row[0]]).values()))
    paired = report["paired"]
    if paired:
        a, b = first_passed(cited[paired["a"]]), first_passed(cited[paired["b"]])
        only_a = sorted(q for q in a if a[q] and not b[q])
        only_b = sorted(q for q in a if b[q] and not a[q])
        assert (paired["only_a"], paired["only_b"]) == (only_a, only_b)
        assert paired["mcnemar_p"] == pytest.approx(mcnemar(len(only_a), len(only_b)))
        assert f"{paired['mcnemar_p']:.4f}" in markdown and paired["sentence"] in markdown
    return report


def build(runs: list, out: Path, **kwargs) -> dict:
    write_report(ReportArguments(runs=[str(r) for r in runs], output_dir=str(out), **kwargs))
    return check_report(out)


# -- the tests ------------------------------------------------------------------------------------


def test_report_from_course_results_is_checked_and_deterministic(tmp_path):
    results = course_results(tmp_path / "results" / "course")
    report = build([results], tmp_path / "a" / "report", no_qualitative=True, reference=str(COURSE_VERDICTS))
    assert [r["name"] for r in report["runs"]] == ["deep_instruction", "diverse_instruction"]
    assert set(report["figures"]) == {"pass_at_1", "problem_matrix", "failures"}  # no loss history
    markdown = (tmp_path / "a" / "report" / "report.md").read_text()
    assert "No run has a loss history" in markdown
    assert "no validation set exists" in markdown and "would be optimistic" in markdown
    assert report["runs"][0]["best"]["step"] == 846  # the last checkpoint, not the best on test (800)
    assert report["runs"][0]["best"]["oracle_step_on_test"] == 800
    assert (
        report["paired"]["n_problems"] == 41
        and "No significant difference at n=41" in report["paired"]["sentence"]
    )
    outcomes = {k for r in report["checkpoints"] for k in r["outcomes"]}
    assert {"AC", "WA", "TLE", "RE:ValueError", "syntax error", "unextractable"} <= outcomes
    assert len(report["case_studies"]) == 3
    first = report["case_studies"][0]["sides"]
    assert first[0]["passed"] != first[1]["passed"] and first[0]["code"] in markdown
    assert "Unavailable" in markdown  # qualitative prompts skipped
    # the course verdicts were used as ours here, so the harness comparison must find full agreement
    assert report["harness"]["counts"] == {"ours fail / theirs fail": 528, "ours pass / theirs pass": 210}
    assert report["harness"]["disagreements"] == []
    write_report(
        ReportArguments(
            runs=[str(results)],
            output_dir=str(tmp_path / "b" / "report"),
            no_qualitative=True,
            reference=str(COURSE_VERDICTS),
        )
    )
    for file in sorted((tmp_path / "a" / "report").iterdir()):
        assert file.read_bytes() == (tmp_path / "b" / "report" / file.name).read_bytes(), file.name


def without_paths(value):
    """A report with the keys that name where it was written left out (the rest must be identical)."""
    if isinstance(value, dict):
        return {
            k: without_paths(v)
            for k, v in value.items()
            if k not in ("inputs", "results_file", "location", "reference")
        }
    if isinstance(value, list):
        return [without_paths(v) for v in value]
    return value


def test_shipped_course_report_matches_the_shipped_results(tmp_path):
    fresh = build([COURSE_RESULTS], tmp_path / "course", no_qualitative=True, reference=str(COURSE_VERDICTS))
    assert sum(fresh["harness"]["counts"].values()) == 738
    shipped = json.loads((REPO_ROOT / "reports" / "course" / "report.json").read_text())
    assert without_paths(shipped) == without_paths(fresh)  # the committed report is up to date


def test_every_quoted_study_number_matches_its_file():
    from model_cards.report import docs

    readmes = [REPO_ROOT / "README.md", REPO_ROOT / "reports" / "README.md"]
    assert all("<!-- generated:study:reports/course -->" in path.read_text() for path in readmes)
    assert docs.main(["--check", *map(str, readmes)]) == 0, (
        "run python -m model_cards.report.docs README.md reports/README.md"
    )


def test_report_from_run_folders_uses_validation_loss_guard_and_adapters(
    tmp_path, tiny_model_dir, tiny_adapters
):
    problems = [f"abc{k:03d}_a" for k in range(8)]
    deep = run_folder(
        tmp_path / "outputs",
        "deep-smoke",
        {10: {"abc000_a"}, 20: {"abc000_a", "abc001_a"}, 30: {"abc001_a", "abc002_a", "abc003_a"}},
        problems,
        tiny_adapters["deep"],
    )
    diverse = run_folder(
        tmp_path / "outputs",
        "diverse-smoke",
        {10: set(), 20: {"abc000_a", "abc004_a"}, 30: {"abc004_a"}},
        problems,
        tiny_adapters["diverse"],
    )
    report = build([deep, diverse], tmp_path / "report", max_new_tokens=8)
    assert set(report["figures"]) == {"loss_curves", "pass_at_1", "problem_matrix", "failures"}
    deep_entry = report["runs"][0]
    # the best on validation (step 20), not the best on test (step 30), is the reported checkpoint
    assert deep_entry["best"]["step"] == 20 and deep_entry["best"]["how"] == "validation Pass@1"
    assert deep_entry["loss"]["overfitting_onset_step"] == 20
    assert deep_entry["loss"]["lossguard"] == {
        "stopped": True,
        "stopped_at_step": 30,
        "reason": "LossGuard stopped training: rising",
    }
    assert deep_entry["regressions"]["lost"] == [{"question_id": "abc000_a", "solved_at": 20, "lost_at": 30}]
    assert report["paired"]["a"] == "deep-smoke@20" and report["paired"]["b"] == "diverse-smoke@20"
    qualitative = report["qualitative"]
    assert qualitative["available"], qualitative
    answers = qualitative["answers"][0]["answers"]
    assert (
        set(answers) == {"deep-smoke", "diverse-smoke"} and answers["deep-smoke"] != answers["diverse-smoke"]
    )
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "stopped at step 30" in markdown and "Explain how binary search works" in markdown


def test_report_from_hub_repos_matches_the_local_runs(tmp_path):
    problems = ["abc001_a", "abc002_a", "abc003_a"]
    hub = Hub.from_env()
    for name, solved in (
        ("deep-run", {10: {"abc001_a"}, 20: {"abc001_a", "abc002_a"}}),
        ("diverse-run", {10: {"abc003_a"}, 20: set()}),
    ):
        folder = run_folder(tmp_path / "outputs", name, solved, problems)
        repo = f"me/{name}"
        hub.create_repo(repo)
        for file in ("loss_history.json", "run_state.json"):
            hub.upload_file(repo, folder / file, file)
        for checkpoint in sorted(p for p in folder.iterdir() if naming.parse_checkpoint_dirname(p.name)):
            step = naming.parse_checkpoint_dirname(checkpoint.name)[0]
            branch = naming.branch_name(step)
            hub.create_branch(repo, branch)
            hub.upload_folder(repo, checkpoint, revision=branch)
            for results in sorted((folder / "results").rglob(f"*step-{step:06d}.json")):
                hub.upload_file(repo, results, results.relative_to(folder).as_posix(), revision=branch)
    local = build(sorted((tmp_path / "outputs").iterdir()), tmp_path / "local", no_qualitative=True)
    remote = build(["me/deep-run", "me/diverse-run"], tmp_path / "remote", no_qualitative=True)
    assert [r["source"] for r in remote["runs"]] == ["hub", "hub"]
    assert [(r["id"], r["pass@1"], r["validation_pass@1"]) for r in remote["checkpoints"]] == [
        (r["id"], r["pass@1"], r["validation_pass@1"]) for r in local["checkpoints"]
    ]
    assert remote["paired"]["only_a"] == local["paired"]["only_a"]
    assert remote["checkpoints"][0]["revision"] == "me/deep-run@step-000010"


def test_bad_inputs_fail_with_one_clear_message_and_leave_nothing(tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.json").write_text('{"hello": 1}')
    with pytest.raises(StudyInputError, match=r"junk holds no checkpoint folders and no results files"):
        write_report(ReportArguments(runs=[str(tmp_path / "junk")], output_dir=str(tmp_path / "out")))
    assert not (tmp_path / "out").exists()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "model_cards.report",
            "--runs",
            str(tmp_path / "nowhere.txt"),
            "--output_dir",
            str(tmp_path / "out2"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert proc.returncode != 0 and "is neither a run folder" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out2").exists()
    # a failure half-way keeps the previous report whole and leaves no temporary folder
    run = run_folder(tmp_path / "outputs", "deep-run", {10: {"abc001_a"}}, ["abc001_a", "abc002_a"])
    write_report(ReportArguments(runs=[str(run)], output_dir=str(tmp_path / "out3"), no_qualitative=True))
    before = (tmp_path / "out3" / "report.md").read_text()
    args = ReportArguments(
        runs=[str(run)], output_dir=str(tmp_path / "out3"), no_qualitative=True, reference="missing.jsonl"
    )
    with pytest.raises(StudyInputError, match="--reference missing.jsonl does not exist"):
        write_report(args)
    assert (tmp_path / "out3" / "report.md").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hub", "junk", "out3", "outputs"]


def test_cli_writes_and_pushes_the_report(tmp_path, local_hub):
    results = course_results(tmp_path / "course")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "model_cards.report",
            "--runs",
            str(results),
            "--output_dir",
            str(tmp_path / "rep"),
            "--no_qualitative",
            "--push_to_hub",
            "--hub_repo",
            "me/study-report",
            "--case_studies",
            "1",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert "No significant difference" in proc.stdout
    pushed = Hub.from_env().download("me/study-report")
    assert (pushed / "report.md").read_text() == (tmp_path / "rep" / "report.md").read_text()
    assert (pushed / "pass_at_1.png").is_file()


@pytest.mark.embedded
@pytest.mark.timeout(900)  # ~1 min per arm on an idle 2-core machine; a shared one is several times slower
def test_report_from_two_real_smoke_runs(tmp_path):
    """Both arms trained for real (embedded model, smoke recipe), judged, and reported with generated prompts."""
    runs = []
    for arm in ("deep", "diverse"):
        out = tmp_path / "outputs" / f"{arm}-smoke"
        bench = str(STUDY_BENCHMARK)
        flags = {
            "dataset": f"sample:{arm}",
            "output_dir": str(out),
            "max_steps": 1,
            "save_steps": 1,
            "eval_steps": 1,
            "logging_steps": 1,
            "max_length": 256,
            "validation_benchmark": bench,  # a slice of the test window stands in for the Hub's validation set
            "validation_release": "None",
            "validation_start_date": "2024-08-01",
            "validation_end_date": "2024-09-01",
            "validation_limit": 1,
            "test_limit": 2,
            "benchmark_test_scope": "public-only",
            "eval_max_new_tokens": 16,
            "local_hub": str(tmp_path / "hub"),
        }
        command = [
            sys.executable,
            "-m",
            "training.sft",
            "--config",
            "training/recipes/smoke.yaml",
            "--evaluate_on_save",
        ]
        command += [item for key, value in flags.items() for item in (f"--{key}", str(value))]
        proc = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs.append(out)
    report = build(runs, tmp_path / "report", max_new_tokens=12)
    assert set(report["figures"]) == {"loss_curves", "pass_at_1", "problem_matrix", "failures"}
    for run in report["runs"]:
        assert {"train", "validation", "test"} <= set(run["loss_curves"])
        assert run["best"]["how"] == "validation Pass@1"  # training.sft judged every checkpoint on validation
    tested = [r for r in report["checkpoints"] if r["results_file"]]
    assert [r["step"] for r in tested] == [run["best"]["step"] for run in report["runs"]] == [1, 1]
    assert report["paired"]["n_problems"] == 2
    assert report["qualitative"]["available"]
    assert set(report["qualitative"]["answers"][0]["answers"]) == {"deep-smoke", "diverse-smoke"}


def test_the_results_table_sets_each_engine_beside_the_other(tmp_path, monkeypatch):
    """The same model, prompt and decoding on two engines: each row says on how many problems they agree."""
    from model_cards.report import docs

    shipped = json.loads((REPO_ROOT / "results" / "qwen" / "embedded_qwen2.5-coder-1.5b.json").read_text())
    other = json.loads(json.dumps(shipped))
    other["config"]["runtime"] = {"engine": "llama.cpp", "device": "cpu", "n_seq": 4, "repack": True}
    flipped = other["problems"][0]
    flipped["n_passed"] = 0 if flipped["n_passed"] else 1
    (tmp_path / "llama-cpp").mkdir()
    (tmp_path / "base.json").write_text(json.dumps(shipped))
    (tmp_path / "llama-cpp" / "base.json").write_text(json.dumps(other))
    monkeypatch.setattr(docs, "REPO_ROOT", tmp_path)
    rows = [line.split(" | ") for line in docs.results_block(tmp_path).splitlines()[2:]]
    assert [(row[3], row[7]) for row in rows] == [
        ("transformers", "40/41 (vs llama.cpp)"),
        ("llama.cpp", "40/41 (vs transformers)"),
    ]
