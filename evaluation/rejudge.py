"""Judge existing generations with the sandboxed judge.

    python -m evaluation rejudge --benchmark ../shared/benchmarks/lcb_v5_atcoder_easy_2408_2502.jsonl \
        --generations GENS.jsonl --out VERDICTS.jsonl --group-by checkpoint

Each input row has `question_id` and either `code` (run as is, extraction "given") or `output` (raw model
text, extract_code applied; the extracted `code` is added). The output row is the input row plus `passed`,
`extraction` and `tests` ([{verdict, seconds, detail}]). Rows are appended to `<out>.partial` as they
finish, so a killed run resumes without redoing them; the finished file is written in input order and
renamed to `<out>` at the end.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict
from pathlib import Path

ADDED = ("passed", "extraction", "tests")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--benchmark", required=True, help="benchmark JSONL/parquet (LiveCodeBench rows)")
    parser.add_argument("--generations", required=True, help="JSONL rows with question_id and code or output")
    parser.add_argument("--out", required=True, help="verdicts JSONL to write (resumes from <out>.partial)")
    parser.add_argument("--workers", type=int, default=2, help="parallel sandboxed judge workers")
    parser.add_argument("--timeout", type=float, default=6.0, help="time limit per test, seconds")
    parser.add_argument("--group-by", default=None, help="print pass@1 per value of this input field")


def main(args: argparse.Namespace) -> int:
    try:
        rejudge(args.benchmark, args.generations, args.out, args.workers, args.timeout, args.group_by)
    except ValueError as error:
        print(f"rejudge: {error}")
        return 2
    return 0


def row_key(row: dict) -> str:
    """The input row a (possibly output) row came from, as canonical JSON."""
    source = {k: v for k, v in row.items() if k not in ADDED}
    if row.get("extraction") not in (None, "given"):
        source.pop("code", None)
    return json.dumps(source, sort_keys=True)


def read_generations(path: str | Path, problems: dict) -> list[dict]:
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
    temp = path.with_name(path.name + ".tmp")
    with open(temp, "w") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in rows)
    os.replace(temp, path)


def load_problems(benchmark_path: str | Path) -> dict:
    from evaluation.benchmark import load_benchmark

    return {problem.question_id: problem for problem in load_benchmark(str(benchmark_path)).problems}


def rejudge(
    benchmark_path: str | Path,
    generations_path: str | Path,
    out_path: str | Path,
    workers: int = 2,
    timeout: float = 6.0,
    group_by: str | None = None,
) -> list[dict]:
    """Judge every generation not judged yet; returns all output rows in input order."""
    from tqdm import tqdm

    from evaluation.extract import extract_code
    from evaluation.judge import JudgeJob, judge, passed

    if not Path(benchmark_path).is_file():
        raise ValueError(f"benchmark file {benchmark_path} does not exist")
    if not Path(generations_path).is_file():
        raise ValueError(f"generations file {generations_path} does not exist")
    problems = load_problems(benchmark_path)
    rows = read_generations(generations_path, problems)
    out, partial = Path(out_path), Path(str(out_path) + ".partial")
    out.parent.mkdir(parents=True, exist_ok=True)
    finished = read_finished(out, partial)
    done: dict[str, list[dict]] = defaultdict(list)
    for row in finished:
        done[row_key(row)].append(row)
    write_atomic(partial, finished)  # drops a torn tail before appending

    budget = {key: len(value) for key, value in done.items()}
    pending, jobs, skipped = [], [], []
    for row in rows:
        key = row_key(row)
        if budget.get(key, 0) > 0:
            budget[key] -= 1
            continue
        if "code" in row:
            code, rule = row["code"], "given"
        else:
            code, rule = extract_code(row["output"])
        result = {**row, "code": code} if rule != "given" else dict(row)
        result["extraction"] = rule
        problem = problems[row["question_id"]]
        if rule == "none":
            skipped.append({**result, "passed": False, "tests": []})
        else:
            pending.append(result)
            jobs.append(JudgeJob(code, problem.tests("full"), problem.func_name))

    with (
        open(partial, "a") as handle,
        tqdm(total=len(rows), initial=len(rows) - len(jobs), unit="program", desc="rejudge") as bar,
    ):
        for row in skipped:
            handle.write(json.dumps(row) + "\n")
            done[row_key(row)].append(row)
        handle.flush()

        def record(index: int, verdicts: list) -> None:
            row = pending[index]
            row["passed"] = passed(verdicts, len(jobs[index].tests))
            row["tests"] = [
                {"verdict": v.verdict, "seconds": v.seconds, "detail": v.detail} for v in verdicts
            ]
            handle.write(json.dumps(row) + "\n")
            handle.flush()
            done[row_key(row)].append(row)
            bar.update(1)

        judge(jobs, time_limit=timeout, workers=workers, on_result=record)

    ordered = [done[row_key(row)].pop(0) for row in rows]
    write_atomic(out, ordered)
    partial.unlink()
    print_summary(ordered, group_by)
    return ordered


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
