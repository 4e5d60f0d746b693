"""Inputs for the study report's tests, in the documented formats: results files, course-style results
built from the shipped course generations, and run folders as training.sft writes them; plus the check
that every table number of a report equals what its cited results file says."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from codegen_lab import naming
from model_cards.report.build import ReportArguments, write_report
from tests.conftest import COURSE_VERDICTS, course_generations

COURSE = COURSE_VERDICTS
LINK = re.compile(r"\[([^\]]*)\]\(([^)]*)\)")


# -- inputs ---------------------------------------------------------------------------------------
def sample(
    passed: bool, verdict: str = "WA", detail: str = "", extraction: str = "whole", code: str = "print(1)"
):
    tests = [{"verdict": "AC", "seconds": 0.01, "detail": ""}]
    if not passed:
        tests.append({"verdict": verdict, "seconds": 0.02, "detail": detail})
    return {"output": code, "code": code, "extraction": extraction, "passed": passed, "tests": tests}


def write_results(path: Path, run: str, step: int, samples: dict[str, dict], split: str = "test") -> Path:
    """A results file in the documented schema (metrics block as evaluation.results writes it)."""
    n = sum(s["passed"] for s in samples.values())
    benchmark = {"source": "bench.jsonl", "revision": "sha256:0123", "preset": "study", "filters": {}}
    benchmark |= {"test_scope": "public-only", "n_problems": len(samples), "n_tests": 2 * len(samples)}
    if split == "validation":
        benchmark["preset"] = "validation"
    data = {
        "schema": "codegen-lora-lab/results/v1",
        "model": {
            "name": f"{run}@{naming.branch_name(step)}",
            "base": "base-model",
            "adapter": None,
            "run": run,
        }
        | {"arm": naming.arm_of(run), "step": step, "source": "local"},
        "benchmark": benchmark,
        "config": {"prompt_style": "study", "sampling": {"n": 1, "temperature": 0.0, "top_p": 1.0}}
        | {"max_new_tokens": 64, "time_limit": 6.0, "judge_version": "test", "packages": {}},
        "metrics": {"pass@1": n / len(samples), "n_problems": len(samples), "n_solved": n},
        "problems": [
            {
                "question_id": q,
                "n": 1,
                "n_passed": int(s["passed"]),
                "pass@1": float(s["passed"]),
                "samples": [s],
            }
            for q, s in samples.items()
        ],
        "created_at": "2025-01-01T00:00:00+00:00",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))
    return path


def course_results(out: Path) -> Path:
    """The 738 course generations as results files, with the course harness's verdicts as ours.

    A few answers are rewritten (deterministically) into the other failure kinds the report tells apart.
    """
    rows = course_generations()
    by_checkpoint: dict[str, dict[str, dict]] = {}
    for i, row in enumerate(rows):
        results = row["course_test_results"]
        verdict = "TLE" if results["timeout"] else "RE" if results["error"] else "WA"
        s = sample(row["course_passed"], verdict, "ValueError" if verdict == "RE" else "")
        s["output"] = s["code"] = row["output"]
        s["extraction"] = "fenced" if "```" in row["output"] else "whole"
        if not row["course_passed"] and i % 37 == 0:
            s |= {"code": "", "extraction": "none"}
        elif not row["course_passed"] and i % 41 == 0:
            s["tests"][-1] = {"verdict": "RE", "seconds": 0.01, "detail": "SyntaxError: invalid syntax"}
            s["extraction"] = "trimmed"
        by_checkpoint.setdefault(row["checkpoint"], {})[row["question_id"]] = s
    for checkpoint, samples in by_checkpoint.items():
        run = checkpoint.split("_checkpoint")[0]
        step = naming.parse_checkpoint_dirname(checkpoint)[0]
        write_results(out / f"{run}_step-{step:06d}.json", run, step, samples)
    return out


def run_folder(root: Path, name: str, solved_by_step: dict[int, set[str]], problems: list[str], adapter=None):
    """A training run folder as training.sft writes it: checkpoints, loss history, run state, results."""
    run = root / name
    for i, (step, solved) in enumerate(sorted(solved_by_step.items())):
        checkpoint = run / naming.checkpoint_dirname(step, i + 1)
        checkpoint.mkdir(parents=True)
        if adapter is not None:
            for file in adapter.iterdir():
                (checkpoint / file.name).write_bytes(file.read_bytes())
        test = write_results(
            run / "results" / f"{name}_step-{step:06d}.json",
            name,
            step,
            {q: sample(q in solved) for q in problems},
        )
        # validation: the last checkpoint is the worst, the middle one the best
        val_solved = {0: 1, 1: 3, 2: 0}[i % 3]
        validation = write_results(
            run / "results" / "validation" / f"{name}_step-{step:06d}.json",
            name,
            step,
            {f"val_{k}": sample(k < val_solved) for k in range(4)},
            split="validation",
        )
        metrics = {
            "split": "test",
            "metrics": json.loads(test.read_text())["metrics"],
            "results_file": test.relative_to(run).as_posix(),
            "validation": {"metrics": json.loads(validation.read_text())["metrics"]},
        }
        (checkpoint / "metrics.json").write_text(json.dumps(metrics))
    steps = sorted(solved_by_step)
    history = {
        "train": [
            {"step": s, "epoch": 1.0, "loss": 1.0 - 0.1 * k} for k, s in enumerate(range(5, steps[-1] + 1, 5))
        ],
        "validation": [
            {"step": s, "epoch": 1.0, "loss": v} for s, v in zip(steps, [0.9, 0.7, 0.8], strict=False)
        ],
        "test": [
            {"step": s, "epoch": 1.0, "loss": v + 0.05} for s, v in zip(steps, [0.9, 0.7, 0.8], strict=False)
        ],
    }
    (run / "loss_history.json").write_text(json.dumps(history))
    state = {
        "stopped_early": True,
        "stop_step": steps[-1],
        "stop_reason": "LossGuard stopped training: rising",
    }
    (run / "run_state.json").write_text(json.dumps(state))
    return run


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
