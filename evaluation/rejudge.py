"""Judge existing generations again with the sandboxed judge: JSONL rows, or whole results files.

    python -m evaluation rejudge --generations GENS.jsonl --output_file VERDICTS.jsonl --group_by checkpoint
    python -m evaluation rejudge --results results/course results/demo     # in place, after a judge change

Generations: each input row has `question_id` and either `code` (run as is, extraction "given") or
`output` (raw model text, extracted; the extracted `code` is added). The output row is the input row
plus `passed`, `extraction` and `tests` ([{verdict, seconds, detail}]). Rows are appended to
`<output_file>.partial` as they finish, so a killed run resumes without redoing them; the finished file
is written in input order and renamed into place at the end.

Results files: every sample's raw output is extracted and judged again, the file's benchmark, judge
and sandbox records are updated, and it is rewritten atomically (the generations are kept as they are).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from codegen_lab.atomic import write_text_atomic
from evaluation.benchmark import STUDY_BENCHMARK, count_tests

ADDED = ("passed", "extraction", "tests")


@dataclass
class RejudgeArguments:
    benchmark: str = field(
        default=str(STUDY_BENCHMARK), metadata={"help": "benchmark JSONL/parquet or Hub id"}
    )
    generations: str | None = field(
        default=None, metadata={"help": "JSONL rows: question_id and code or output"}
    )
    output_file: str | None = field(default=None, metadata={"help": "verdicts JSONL (resumes from .partial)"})
    results: list[str] = field(
        default_factory=list, metadata={"help": "results files or folders, rejudged in place"}
    )
    test_scope: str = field(default="full", metadata={"choices": ["full", "public-only"]})
    workers: int = field(default=2, metadata={"help": "parallel sandboxed judge workers"})
    time_limit: float = field(default=6.0, metadata={"help": "seconds per test"})
    semantics: str = field(default="lcb", metadata={"choices": ["lcb", "plain"]})
    sandbox: str | None = field(default=None, metadata={"help": "bwrap (default) or rlimit (opt in, weaker)"})
    group_by: str | None = field(
        default=None, metadata={"help": "print pass@1 per value of this input field"}
    )


def main(args: RejudgeArguments) -> int:
    if bool(args.generations) == bool(args.results):
        raise ValueError("rejudge takes --generations (with --output_file) or --results, one of the two.")
    if args.results:
        for path in rejudge_results(args):
            print(path)
        return 0
    if not args.output_file:
        raise ValueError("--generations needs --output_file for the verdicts.")
    rejudge(args, args.generations, args.output_file)
    return 0


def judge_settings(args: RejudgeArguments) -> dict:
    return {
        "time_limit": args.time_limit,
        "workers": args.workers,
        "sandbox": args.sandbox,
        "semantics": args.semantics,
    }


def row_key(row: dict) -> str:
    """The input row a (possibly output) row came from, as canonical JSON."""
    source = {k: v for k, v in row.items() if k not in ADDED}
    if row.get("extraction") not in (None, "given"):
        source.pop("code", None)
    return json.dumps(source, sort_keys=True)


def read_generations(path: str | Path, problems: dict) -> list[dict]:
    if not Path(path).is_file():
        raise ValueError(f"generations file {path} does not exist")
    rows = []
    with open(path) as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path} line {number}: not JSON ({error.msg})") from None
            qid = row.get("question_id") if isinstance(row, dict) else None
            if qid is None:
                raise ValueError(f"{path} line {number}: no question_id")
            if qid not in problems:
                raise ValueError(f"{path} line {number}: question_id {qid!r} is not in the benchmark")
            if not isinstance(row.get("code", row.get("output")), str):
                raise ValueError(f"{path} line {number} ({qid}): needs a string `code` or `output`")
            rows.append(row)
    return rows


def read_finished(*paths: Path) -> list[dict]:
    """Complete rows already judged; a torn last line (killed mid-write) is ignored."""
    rows = []
    for path in paths:
        if path.is_file():
            for line in path.read_text().splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(row, dict) and all(key in row for key in ADDED):
                    rows.append(row)
    return rows


def write_atomic(path: Path, rows: list[dict]) -> None:
    write_text_atomic(path, "".join(json.dumps(row) + "\n" for row in rows))


def load_problems(args: RejudgeArguments) -> dict:
    from evaluation.benchmark import load_benchmark

    return {p.question_id: p for p in load_benchmark(args.benchmark, test_scope=args.test_scope).problems}


def rejudge(args: RejudgeArguments, generations_path: str | Path, out_path: str | Path) -> list[dict]:
    """Judge every generation not judged yet; returns all output rows in input order."""
    from tqdm import tqdm

    from evaluation.grading import Answer, grade

    problems = load_problems(args)
    rows = read_generations(generations_path, problems)
    out, partial = Path(out_path), Path(str(out_path) + ".partial")
    out.parent.mkdir(parents=True, exist_ok=True)
    done: dict[str, list[dict]] = defaultdict(list)
    for row in read_finished(out, partial):
        done[row_key(row)].append(row)
    write_atomic(partial, [r for same in done.values() for r in same])  # drops a torn tail before appending
    budget = {key: len(value) for key, value in done.items()}
    pending = []
    for row in rows:
        if budget.get(key := row_key(row), 0) > 0:
            budget[key] -= 1
        else:
            pending.append(row)
    answers = [
        Answer(row.get("output", ""), problems[row["question_id"]].tests(args.test_scope),
               problems[row["question_id"]].func_name, row.get("code"))
        for row in pending
    ]  # fmt: skip
    with (
        open(partial, "a") as handle,
        tqdm(total=len(rows), initial=len(rows) - len(pending), unit="program") as bar,
    ):

        def record(index: int, graded) -> None:
            row = {**pending[index], **graded.record()}
            if "output" not in pending[index]:  # a row of given code keeps its shape
                del row["output"]
            handle.write(json.dumps(row) + "\n")
            handle.flush()
            done[row_key(row)].append(row)
            bar.update(1)

        grade(answers, on_graded=record, **judge_settings(args))
    ordered = [done[row_key(row)].pop(0) for row in rows]
    write_atomic(out, ordered)
    partial.unlink()
    print_summary(ordered, args.group_by)
    return ordered


def results_files(paths: list[str]) -> list[Path]:
    from evaluation.results import list_results

    files = []
    for path in map(Path, paths):
        if not path.exists():
            raise ValueError(f"--results {path} does not exist")
        files += list_results(path) if path.is_dir() else [path]
    return files


def rejudge_results(args: RejudgeArguments) -> list[Path]:
    """Judge every sample of the results files again and rewrite them; returns the files."""
    from codegen_lab.atomic import write_json_atomic
    from evaluation.benchmark import load_benchmark
    from evaluation.grading import Answer, grade
    from evaluation.pipeline import EvalConfig
    from evaluation.results import build_results, problem_record, read_results

    benchmark = load_benchmark(args.benchmark, test_scope=args.test_scope)
    problems = {p.question_id: p for p in benchmark.problems}
    scope = benchmark.provenance["test_scope"]
    for path in (files := results_files(args.results)):
        data = read_results(path)
        entries = [(p["question_id"], s) for p in data["problems"] for s in p["samples"]]
        missing = sorted({q for q, _ in entries} - set(problems))
        if missing:
            raise ValueError(f"{path}: problem {missing[0]} is not in the benchmark {args.benchmark}")
        answers = [
            Answer(s["output"], problems[q].tests(scope), problems[q].func_name,
                   s["code"] if s["extraction"] == "given" else None)
            for q, s in entries
        ]  # fmt: skip
        graded = iter(grade(answers, **judge_settings(args)))
        records = [
            problem_record(p["question_id"], [next(graded).record() for _ in p["samples"]])
            for p in data["problems"]
        ]
        kept = {
            k: data["config"][k]
            for k in ("prompt_style", "sampling", "max_new_tokens", "runtime")  # runtime: the engine
            if k in data["config"]
        }
        judged = EvalConfig(
            time_limit=args.time_limit, semantics=args.semantics, sandbox=args.sandbox
        ).record()
        header = {
            "model": data["model"],
            "benchmark": subset_provenance(data, benchmark, problems),
            "config": judged | kept,
        }
        write_json_atomic(path, build_results(header, records))
    return files


def subset_provenance(data: dict, benchmark, problems: dict) -> dict:
    """The file's benchmark block, with the source, revision, scope and counts of what was judged now."""
    qids = [p["question_id"] for p in data["problems"]]
    scope = benchmark.provenance["test_scope"]
    fresh = {key: benchmark.provenance[key] for key in ("source", "revision", "test_scope")}
    fresh |= {"n_problems": len(qids)} | count_tests([problems[q] for q in qids], scope)
    old = {k: v for k, v in data["benchmark"].items() if k not in ("errata", "warning")}
    warning = benchmark.provenance.get("warning", "")
    if "private tests" in warning:
        fresh["warning"] = (
            "full scope asked, but the source has no private tests: judged on the public tests only"
        )
    return old | fresh


def print_summary(rows: list[dict], group_by: str | None) -> None:
    groups: dict[str, list[bool]] = defaultdict(list)
    for row in rows:
        groups[str(row.get(group_by, "(missing)")) if group_by else "all"].append(row["passed"])
    width = max(len(name) for name in groups) if groups else 3
    print(f"{'group' if group_by else '':<{width}}  pass@1  passed/n")
    for name, results in sorted(groups.items()):
        print(f"{name:<{width}}  {sum(results) / len(results):.3f}  {sum(results)}/{len(results)}")
    if group_by:
        total = [row["passed"] for row in rows]
        print(f"{'all':<{width}}  {sum(total) / len(total):.3f}  {sum(total)}/{len(total)}")
