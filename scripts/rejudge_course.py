"""Re-judge the study's 738 published generations (18 checkpoints x 41 problems) into results files.

    python scripts/rejudge_course.py                      # writes results/course/<checkpoint>.json

The course's own harness verdicts are not trusted; every raw output goes through our extraction and
sandboxed judge on the public tests (all the shared benchmark has), one results file per checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from codegen_lab import DEFAULT_BASE_MODEL  # noqa: E402
from codegen_lab.naming import arm_of, parse_checkpoint_dirname, slugify  # noqa: E402
from evaluation.benchmark import STUDY_BENCHMARK, STUDY_PRESET, load_benchmark  # noqa: E402
from evaluation.judge import JUDGE_VERSION  # noqa: E402
from evaluation.rejudge import rejudge  # noqa: E402
from evaluation.results import build_results, package_versions, problem_record, write_json_atomic  # noqa: E402

GENERATIONS = REPO_ROOT.parent / "shared" / "reference" / "course_generations.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--generations", type=Path, default=GENERATIONS)
    parser.add_argument("--benchmark", type=Path, default=STUDY_BENCHMARK)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "results" / "course")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    benchmark = load_benchmark(str(args.benchmark), STUDY_PRESET, test_scope="public-only")
    order = [p.question_id for p in benchmark.problems]
    source_rows = [json.loads(line) for line in args.generations.read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        generations = Path(tmp) / "generations.jsonl"
        generations.write_text(
            "".join(
                json.dumps(
                    {
                        "checkpoint": r["checkpoint"],
                        "question_id": r["question_id"],
                        "output": r["model_output_raw"],
                    }
                )
                + "\n"
                for r in source_rows
            )
        )
        judged = rejudge(args.benchmark, generations, Path(tmp) / "verdicts.jsonl", workers=args.workers)

    course_verdict = {(r["checkpoint"], r["question_id"]): r["course_passed"] for r in source_rows}
    by_checkpoint: dict[str, dict[str, dict]] = defaultdict(dict)
    for row in judged:
        sample = {key: row[key] for key in ("output", "code", "extraction", "passed", "tests")}
        by_checkpoint[row["checkpoint"]][row["question_id"]] = problem_record(row["question_id"], [sample])
    config = {
        "prompt_style": "course",
        "sampling": {"n": 1, "temperature": 0.0, "top_p": 1.0},
        "max_new_tokens": None,
        "time_limit": 6.0,
        "judge_version": JUDGE_VERSION,
        "packages": package_versions(),
    }
    print(f"{'checkpoint':<50} {'ours':>6} {'course':>7}")
    for checkpoint in sorted(by_checkpoint, key=lambda c: (arm_of(c), parse_checkpoint_dirname(c))):
        step, _ = parse_checkpoint_dirname(checkpoint)
        model = {
            "name": checkpoint,
            "base": DEFAULT_BASE_MODEL,
            "adapter": None,
            "run": checkpoint.split("_checkpoint")[0],
            "arm": arm_of(checkpoint),
            "step": step,
            "source": "reference",
        }
        header = {"model": model, "benchmark": benchmark.provenance, "config": config}
        data = build_results(header, [by_checkpoint[checkpoint][q] for q in order])
        write_json_atomic(args.out / f"{slugify(checkpoint)}.json", data)
        course = sum(course_verdict[(checkpoint, q)] for q in order)
        print(f"{checkpoint:<50} {data['metrics']['n_solved']:>3}/41 {course:>4}/41")


if __name__ == "__main__":
    main()
