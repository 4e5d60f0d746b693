"""Every number of the study report, computed from the runs' results files into one plain dict.

Per-problem outcomes use the first (greedy) sample of each problem, so a checkpoint is a vector of
solved/unsolved over the same problems, which is what the paired test and the matrix compare.
"""

from __future__ import annotations

import os
from collections import Counter

from analysis import compare
from analysis.runs import Checkpoint, Run
from codegen_lab import naming, run_folder
from codegen_lab.selection import BY_LOSS, BY_PASS, Candidate, best_step

REPORT_SCHEMA = "codegen-lora-lab/report/v1"
# A validation loss this much above its minimum at the last evaluation counts as turning up.
OVERFIT_TOLERANCE = 0.005
SYNTAX_ERRORS = ("SyntaxError", "IndentationError", "TabError")


def link(path: str | None, out_dir: str) -> str | None:
    """A results file as the report cites it: relative to the report folder, or a Hub address."""
    if path is None or "://" in path:
        return path
    return os.path.relpath(path, out_dir)


def solved_map(checkpoint: Checkpoint) -> dict[str, int]:
    """{question id: 1 if the first sample passed else 0} of a checkpoint's test results."""
    return {
        p["question_id"]: int(bool(p["samples"]) and bool(p["samples"][0]["passed"]))
        for p in checkpoint.test.results["problems"]
    }


def sample_outcome(sample: dict) -> str:
    """One answer's category: AC, WA, TLE, MLE, OLE, syntax error, RE:<exception>, empty, unextractable."""
    if not sample.get("output", "").strip() and not sample.get("code", "").strip():
        return "empty answer"
    if sample.get("extraction") == "none" or not sample.get("code", "").strip():
        return "unextractable"  # no fenced block and the text does not parse as Python
    if sample["passed"]:
        return "AC"
    failed = next((t for t in sample["tests"] if t["verdict"] != "AC"), None)
    if failed is None:
        return "no verdict"
    if failed["verdict"] == "RE":
        detail = failed.get("detail") or "unknown"
        return "syntax error" if detail.split(":")[0] in SYNTAX_ERRORS else f"RE:{detail.split(':')[0]}"
    return failed["verdict"]


def answer_style(sample: dict) -> str:
    """How the answer was written, from the extraction rule: clean code, fenced, prose around code, none."""
    return {
        "whole": "clean code",
        "fenced": "fenced",
        "trimmed": "prose + code",
        "none": "no parseable code",
    }.get(sample.get("extraction", ""), sample.get("extraction") or "unknown")


def checkpoint_row(checkpoint: Checkpoint, out_dir: str) -> dict:
    """Pass@1 with its Wilson interval, failure anatomy and provenance of one checkpoint."""
    from evaluation.metrics import wilson_interval

    row = {"id": checkpoint.id, "run": checkpoint.run, "arm": checkpoint.arm}
    row |= {"step": checkpoint.step, "epoch": checkpoint.epoch, "revision": checkpoint.revision}
    if checkpoint.test is None:  # metrics.json only: a test number is reported, but cannot be recomputed
        metrics = run_folder.reported_test_metrics(checkpoint.metrics)
        row |= {"n_problems": metrics.get("n_problems"), "n_solved": metrics.get("n_solved")}
        row |= {"pass@1": metrics.get("pass@1"), "ci95": metrics.get("pass@1_ci95"), "results_file": None}
        row["per_problem"] = False
        return row
    results = checkpoint.test.results
    problems = results["problems"]
    samples = [s for p in problems for s in p["samples"]]
    n_passed = sum(bool(s["passed"]) for s in samples)
    n_solved = sum(solved_map(checkpoint).values())
    low, high = wilson_interval(n_passed, len(samples))
    row |= {
        "n_problems": len(problems),
        "n_solved": n_solved,
        "pass@1": sum(p["n_passed"] / p["n"] for p in problems) / len(problems),
        "ci95": [low, high],
        "results_file": link(checkpoint.test.origin, out_dir),
        "per_problem": True,
        "outcomes": dict(sorted(Counter(sample_outcome(s) for s in samples).items())),
        "answer_styles": dict(sorted(Counter(answer_style(s) for s in samples).items())),
        "benchmark": {k: results["benchmark"].get(k) for k in ("source", "revision", "preset", "test_scope")},
        "config": {
            k: results["config"].get(k)
            for k in ("prompt_style", "sampling", "max_new_tokens", "time_limit", "judge_version")
        },
        "model": {k: results["model"].get(k) for k in ("name", "base", "adapter", "source")},
    }
    if checkpoint.validation is not None:
        validation = checkpoint.validation.results["problems"]
        row["validation_pass@1"] = sum(p["n_passed"] / p["n"] for p in validation) / len(validation)
        row["validation_file"] = link(checkpoint.validation.origin, out_dir)
    elif reported := run_folder.validation_evaluation(checkpoint.metrics):
        row["validation_pass@1"] = reported["metrics"]["pass@1"]
        row["validation_file"] = reported.get("results_file")
    return row


def loss_summary(run: Run) -> dict:
    """Overfitting onset (validation minimum followed by a rise) and where LossGuard stopped."""
    summary: dict = {"has_loss_history": bool(run.loss_history)}
    validation = run.loss_history.get("validation", [])
    if validation:
        best_step, best_loss = min(validation, key=lambda p: (p[1], p[0]))
        last_step, last_loss = validation[-1]
        turned_up = last_step != best_step and last_loss > best_loss * (1 + OVERFIT_TOLERANCE)
        summary |= {"min_validation_loss": best_loss, "min_validation_step": best_step}
        summary |= {
            "last_validation_loss": last_loss,
            "overfitting_onset_step": best_step if turned_up else None,
        }
    state = run.run_state or {}
    summary["lossguard"] = {
        "stopped": bool(state.get("stopped_early")),
        "stopped_at_step": state.get("stop_step"),
        "reason": state.get("stop_reason"),
    }
    return summary


def trainer_best_step(run: Run) -> int | None:
    """The step of the best checkpoint the trainer recorded in its run state, if it did."""
    best = (run.run_state or {}).get("best_checkpoint")
    parsed = naming.parse_checkpoint_dirname(str(best).rstrip("/").split("/")[-1]) if best else None
    return parsed[0] if parsed else None


def select_best(run: Run, rows: list[dict]) -> dict:
    """The checkpoint of a run to report: chosen on validation, never silently on the test set."""
    scored = [r for r in rows if r["pass@1"] is not None]
    if not scored:
        return {"step": None, "how": "no checkpoint has results"}
    validation_loss = dict(run.loss_history.get("validation", []))
    candidates = [
        Candidate(r["step"], r.get("validation_pass@1"), validation_loss.get(r["step"])) for r in scored
    ]
    step, measure = best_step(candidates)  # validation Pass@1 first, else validation loss
    trainer_step = trainer_best_step(run)
    by_step = {r["step"]: r for r in scored}
    if measure == BY_PASS:
        best = by_step[step]
        how, note = "validation Pass@1", "chosen on the validation set; its test score is reported once"
    elif trainer_step in by_step:  # the trainer's own choice beats a loss-only pick made here
        best = by_step[trainer_step]
        reason = (run.run_state or {}).get("best_reason") or f"see {run_folder.RUN_STATE}"
        how, note = f"trainer's choice ({run_folder.RUN_STATE})", f"chosen by the trainer ({reason})"
    elif measure == BY_LOSS:
        best = by_step[step]
        how, note = "validation loss", "chosen on the lowest validation loss; its test score is reported once"
    else:
        best = scored[-1]
        how = "last checkpoint (no validation set)"
        note = (
            "no validation set exists for this run, so the last checkpoint is reported; picking the best "
            "checkpoint on the test set would be optimistic"
        )
    oracle = max(scored, key=lambda r: (r["pass@1"], -r["step"]))
    return {
        "step": best["step"],
        "id": best["id"],
        "how": how,
        "note": note,
        "test_pass@1": best["pass@1"],
        "test_ci95": best["ci95"],
        "n_solved": best["n_solved"],
        "n_problems": best["n_problems"],
        "oracle_step_on_test": oracle["step"],
        "oracle_pass@1_on_test": oracle["pass@1"],
    }


def paired_comparison(a: Checkpoint, b: Checkpoint) -> dict:
    """analysis.compare's paired comparison of two checkpoints' first samples, with their arms."""
    result = compare.paired_comparison(solved_map(a), solved_map(b), a.id, b.id)
    return {"a": a.id, "b": b.id, "arm_a": a.arm, "arm_b": b.arm} | result


def problem_matrix(runs: list[Run]) -> dict:
    """Problems × checkpoints: 1 solved, 0 not, None where a checkpoint did not attempt the problem."""
    return compare.problem_matrix({c.id: solved_map(c) for run in runs for c in run.judged()})


def regressions(run: Run) -> dict:
    """Forgetting: problems solved at one checkpoint and lost at the next one, and lost by the end."""
    checkpoints = run.judged()
    maps = [solved_map(c) for c in checkpoints]
    lost, gained = [], []
    for before, after, m0, m1 in zip(checkpoints, checkpoints[1:], maps, maps[1:], strict=False):
        for q in sorted(set(m0) & set(m1)):
            if m0[q] and not m1[q]:
                lost.append({"question_id": q, "solved_at": before.step, "lost_at": after.step})
            elif m1[q] and not m0[q]:
                gained.append({"question_id": q, "unsolved_at": before.step, "solved_at": after.step})
    ever = sorted({q for m in maps for q, ok in m.items() if ok})
    final = maps[-1] if maps else {}
    return {
        "lost": lost,
        "gained": gained,
        "ever_solved": len(ever),
        "always_solved": sorted(q for q in ever if all(m.get(q) for m in maps)),
        "forgotten_by_last": sorted(q for q in ever if not final.get(q)),
    }


def case_studies(
    a: Run, best_a: Checkpoint, b: Run, best_b: Checkpoint, count: int, chosen: list[str]
) -> list:
    """Problems where the arms differ most (solve-rate gap over all checkpoints, then the best ones)."""

    def rate(run: Run) -> Counter:
        counts = Counter()
        scored = run.judged()
        for c in scored:
            counts.update({q: ok / len(scored) for q, ok in solved_map(c).items()})
        return counts

    rate_a, rate_b = rate(a), rate(b)
    solved_a, solved_b = solved_map(best_a), solved_map(best_b)
    shared = sorted(set(solved_a) & set(solved_b))
    if not chosen:
        ranked = sorted(
            shared,
            key=lambda q: (-(solved_a[q] != solved_b[q]), -abs(rate_a[q] - rate_b[q]), q),
        )
        chosen = ranked[:count]
    studies = []
    for q in chosen:
        sides = []
        for run, checkpoint, rates in ((a, best_a, rate_a), (b, best_b, rate_b)):
            problem = next((p for p in checkpoint.test.results["problems"] if p["question_id"] == q), None)
            sample = problem["samples"][0] if problem and problem["samples"] else None
            sides.append(
                {
                    "run": run.name,
                    "checkpoint": checkpoint.id,
                    "solve_rate_over_checkpoints": rates[q],
                    "passed": bool(sample and sample["passed"]),
                    "outcome": sample_outcome(sample) if sample else "not attempted",
                    "extraction": sample.get("extraction") if sample else None,
                    "verdicts": [
                        t["verdict"] + (f" ({t['detail']})" if t.get("detail") else "")
                        for t in sample["tests"]
                    ]
                    if sample
                    else [],
                    "code": sample.get("code", "") if sample else "",
                }
            )
        studies.append({"question_id": q, "sides": sides})
    return studies


def harness_comparison(runs: list[Run], reference: str) -> dict:
    """Our verdicts against another harness's (rows with checkpoint, question_id, course_passed)."""
    import json
    from pathlib import Path

    theirs = {}
    for line in Path(reference).read_text().splitlines():
        row = json.loads(line)
        parsed = naming.parse_checkpoint_dirname(row["checkpoint"])
        run = row["checkpoint"][: row["checkpoint"].index("checkpoint-")].rstrip("_")
        theirs[(run, parsed[0], row["question_id"])] = row
    counts, per_checkpoint, disagreements = Counter(), [], {}
    for run in runs:
        for c in run.judged():
            ours_passed = their_passed = 0
            for problem in c.test.results["problems"]:
                row = theirs.get((run.name, c.step, problem["question_id"]))
                if row is None or not problem["samples"]:
                    continue
                sample = problem["samples"][0]
                ours, course = bool(sample["passed"]), bool(row["course_passed"])
                ours_passed, their_passed = ours_passed + ours, their_passed + course
                counts[f"ours {'pass' if ours else 'fail'} / theirs {'pass' if course else 'fail'}"] += 1
                if ours != course:
                    entry = disagreements.setdefault(
                        problem["question_id"],
                        {
                            "question_id": problem["question_id"],
                            "ours": sample_outcome(sample),
                            "theirs_passed": course,
                            "theirs_tests": row.get("course_test_results"),
                            "checkpoints": [],
                        },
                    )
                    entry["checkpoints"].append(c.id)
            per_checkpoint.append({"id": c.id, "ours": ours_passed, "theirs": their_passed})
    return {
        "reference": reference,
        "counts": dict(sorted(counts.items())),
        "per_checkpoint": per_checkpoint,
        "disagreements": sorted(
            disagreements.values(), key=lambda d: (-len(d["checkpoints"]), d["question_id"])
        ),
    }
