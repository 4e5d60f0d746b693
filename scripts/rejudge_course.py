"""Re-judge the study's 738 published generations (18 checkpoints x 41 problems) into results files.

    python scripts/rejudge_course.py --generations ../shared/reference/course_generations.jsonl
    python scripts/rejudge_course.py --generations ... --semantics plain --output_dir /tmp/course-plain

The course's own harness verdicts are not trusted; every raw output goes through our extraction and
sandboxed judge on the public tests, one results file per checkpoint (results/course/ ships them, so
only a judge change needs this again; ``python -m evaluation rejudge --results results/course`` re-judges
the shipped files in place without the generations file).
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from codegen_lab import DEFAULT_BASE_MODEL  # noqa: E402
from codegen_lab.atomic import write_json_atomic  # noqa: E402
from codegen_lab.naming import arm_of, parse_checkpoint_dirname, slugify  # noqa: E402
from codegen_lab.paths import REPO_ROOT  # noqa: E402
from evaluation.benchmark import STUDY_PRESET, load_benchmark  # noqa: E402
from evaluation.pipeline import EvalConfig  # noqa: E402
from evaluation.rejudge import RejudgeArguments, rejudge  # noqa: E402
from evaluation.results import build_results, problem_record  # noqa: E402


@dataclass
class CourseArguments(RejudgeArguments):
    output_dir: str = field(default=str(REPO_ROOT / "results" / "course"), metadata={"help": "results files"})
    test_scope: str = field(default="public-only", metadata={"choices": ["full", "public-only"]})


def main(args: CourseArguments) -> None:
    if not args.generations:
        raise ValueError(
            "--generations: the course's generations JSONL (checkpoint, question_id, model_output_raw)"
        )
    source_rows = [
        json.loads(line) for line in Path(args.generations).read_text().splitlines() if line.strip()
    ]
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
        judged = rejudge(args, generations, Path(tmp) / "verdicts.jsonl")
    by_checkpoint: dict[str, dict[str, dict]] = defaultdict(dict)
    for row in judged:
        sample = {key: row[key] for key in ("output", "code", "extraction", "passed", "tests")}
        by_checkpoint[row["checkpoint"]][row["question_id"]] = problem_record(row["question_id"], [sample])
    write_checkpoints(
        args, by_checkpoint, {(r["checkpoint"], r["question_id"]): r["course_passed"] for r in source_rows}
    )


def write_checkpoints(args: CourseArguments, by_checkpoint: dict, course_verdict: dict) -> None:
    """One results file per checkpoint, printed next to the course harness's own count."""
    benchmark = load_benchmark(args.benchmark, STUDY_PRESET, test_scope=args.test_scope)
    order = [p.question_id for p in benchmark.problems]
    config = EvalConfig(time_limit=args.time_limit, semantics=args.semantics, sandbox=args.sandbox).record()
    config |= {"prompt_style": "course", "max_new_tokens": None}
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
        write_json_atomic(Path(args.output_dir) / f"{slugify(checkpoint)}.json", data)
        course = sum(course_verdict[(checkpoint, q)] for q in order)
        print(f"{checkpoint:<50} {data['metrics']['n_solved']:>3}/41 {course:>4}/41")


if __name__ == "__main__":
    from transformers import HfArgumentParser

    main(*HfArgumentParser(CourseArguments).parse_args_into_dataclasses())
