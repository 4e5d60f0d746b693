"""`python -m evaluation rejudge`: copied fields, extraction, grouping, bad input, resume after a kill."""

import json
import subprocess
import sys
import time

import pytest

from codegen_lab.paths import REPO_ROOT
from evaluation.rejudge import RejudgeArguments, rejudge

PROBLEM = {
    "question_title": "Sum",
    "question_content": "Print A+B.",
    "platform": "atcoder",
    "question_id": "t_a",
    "contest_id": "t",
    "contest_date": "2024-08-04T00:00:00",
    "starter_code": "",
    "difficulty": "easy",
    "public_test_cases": json.dumps([{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]),
    "private_test_cases": json.dumps([{"input": "5 5\n", "output": "10\n", "testtype": "stdin"}]),
    "metadata": "{}",
}
GOOD = "a, b = map(int, input().split())\nprint(a + b)"


@pytest.fixture
def bench(tmp_path):
    path = tmp_path / "bench.jsonl"
    path.write_text(json.dumps(PROBLEM) + "\n")
    return path


def write_rows(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def rejudge_command(bench, gens, out, *extra: str) -> list[str]:
    """The CLI as a user types it, run in a real subprocess."""
    command = [sys.executable, "-m", "evaluation", "rejudge", "--benchmark", str(bench)]
    return [*command, "--generations", str(gens), "--output_file", str(out), *extra]


def test_rejudge_rows(bench, tmp_path, capsys):
    gens = write_rows(
        tmp_path / "gens.jsonl",
        [
            {"question_id": "t_a", "ckpt": "x", "code": GOOD},
            {"question_id": "t_a", "ckpt": "x", "output": f"Here you go:\n```python\n{GOOD}\n```\nDone."},
            {"question_id": "t_a", "ckpt": "y", "output": "I don't know."},
            {"question_id": "t_a", "ckpt": "y", "output": "print(3)"},
        ],
    )
    out = tmp_path / "out" / "verdicts.jsonl"
    rows = rejudge(RejudgeArguments(str(bench), workers=2, time_limit=2.0, group_by="ckpt"), gens, out)
    assert [json.loads(line) for line in out.read_text().splitlines()] == rows
    assert [(r["extraction"], r["passed"]) for r in rows] == [
        ("given", True),
        ("fenced", True),
        ("none", False),
        ("whole", False),
    ]
    assert rows[0]["ckpt"] == "x" and rows[1]["code"] == GOOD + "\n"
    assert [t["verdict"] for t in rows[3]["tests"]] == ["AC", "WA"]  # public + private tests
    assert set(rows[0]["tests"][0]) == {"verdict", "seconds", "detail"}
    printed = capsys.readouterr().out
    assert "x  1.000  2/2" in printed and "y  0.000  0/2" in printed
    assert not (tmp_path / "out" / "verdicts.jsonl.partial").exists()


def test_bad_input_names_the_row(bench, tmp_path):
    gens = write_rows(tmp_path / "gens.jsonl", [{"question_id": "t_a", "code": GOOD}, {"question_id": "zz"}])
    done = subprocess.run(
        rejudge_command(bench, gens, tmp_path / "v.jsonl"), cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "line 2" in done.stdout + done.stderr and "'zz'" in done.stdout + done.stderr
    assert not (tmp_path / "v.jsonl").exists()


def test_resume_after_kill(bench, tmp_path):
    slow = "import time\ntime.sleep(0.4)\n" + GOOD
    gens = write_rows(
        tmp_path / "gens.jsonl", [{"question_id": "t_a", "i": i, "code": slow} for i in range(6)]
    )
    out = tmp_path / "v.jsonl"
    partial = tmp_path / "v.jsonl.partial"
    command = rejudge_command(bench, gens, out, "--workers", "1", "--time_limit", "5")
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and (not partial.exists() or len(partial.read_text().splitlines()) < 2):
        time.sleep(0.1)
    process.kill()
    process.wait()
    before = [json.loads(line) for line in partial.read_text().splitlines()]
    assert 2 <= len(before) < 6 and not out.exists()
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    after = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["i"] for row in after] == list(range(6)) and all(row["passed"] for row in after)
    for row in before:  # finished rows were kept as they were, not judged again
        assert after[row["i"]]["tests"] == row["tests"]


def test_results_files_are_judged_again_in_place(tmp_path):
    """What a judge change needs: the shipped samples judged again, the generations kept as they are."""
    from tests.helpers import COURSE_RESULTS

    shipped = COURSE_RESULTS / "deep_instruction_checkpoint-step-100-epoch-1.json"
    copy = tmp_path / "course" / shipped.name
    copy.parent.mkdir()
    data = json.loads(shipped.read_text())
    data["config"]["judge_version"] = "an-older-judge"
    data["problems"][0]["samples"][0]["passed"] = not data["problems"][0]["samples"][0][
        "passed"
    ]  # a stale verdict
    copy.write_text(json.dumps(data))
    done = subprocess.run(
        [sys.executable, "-m", "evaluation", "rejudge", "--results", str(tmp_path / "course")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    fresh, original = json.loads(copy.read_text()), json.loads(shipped.read_text())
    assert fresh["config"]["judge_version"] == original["config"]["judge_version"] != "an-older-judge"
    assert [p["samples"][0]["passed"] for p in fresh["problems"]] == [
        p["samples"][0]["passed"] for p in original["problems"]
    ]
    assert [p["samples"][0]["output"] for p in fresh["problems"]] == [
        p["samples"][0]["output"] for p in original["problems"]
    ]
    assert fresh["metrics"] == original["metrics"] and fresh["benchmark"]["test_scope"] == "public-only"
    missing = subprocess.run(
        [sys.executable, "-m", "evaluation", "rejudge", "--results", str(tmp_path / "nowhere")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (
        missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    )
