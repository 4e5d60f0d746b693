"""Judge speed on the study's 738 real generations, side by side with a naive runner, in one run.

    python bench/judge.py            # all 738 programs (about 2-3 minutes on 2 cores)
    python bench/judge.py --quick    # first 120 programs, a fast look (printed, not kept)

(a) Throughput (tests/s) on the programs that finish within the time limit: our judge vs a naive runner
    that starts a fresh `python3` per test (subprocess.run with stdin, same limit, same 2 workers, same
    stop-at-first-failure), verdicts checked identical (both with plain semantics). Target >= 10x.
(b) Wall time of our judge on all programs vs the floor the time limit sets: looping programs x limit /
    workers. Target <= 1.25x.
(c) Latency of a one-program judge call (the Arena's Judge button) with fresh workers vs the workers
    the judge keeps between calls.
(d) As a user meets it: a whole `python -m evaluation rejudge` run (interpreter start-up, imports,
    benchmark load and worker start included) on the programs of (a) vs the naive runner of (a), three
    rounds of each in turns, medians. Target >= 10x, aim 15x.
(e) What the syscall filter costs a program: its whole life with and without it, and per system call.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from codegen_lab.paths import REPO_ROOT  # noqa: E402
from evaluation.benchmark import STUDY_BENCHMARK, load_benchmark  # noqa: E402
from evaluation.extract import extract_code  # noqa: E402
from evaluation.judge import POOL, JudgeJob, judge, resolve_mode  # noqa: E402
from evaluation.judge.isolation import sandbox_python  # noqa: E402
from evaluation.judge.sandbox import ADDRESS_HEADROOM_MB  # noqa: E402

COURSE = REPO_ROOT / "results" / "course"  # the 738 generations, shipped


def load_jobs(limit: int | None) -> tuple[list[str], list[JudgeJob]]:
    """The programs' question ids and their judge jobs on the public tests."""
    public = {p.question_id: p.public_tests for p in load_benchmark(str(STUDY_BENCHMARK)).problems}
    outputs = [
        (problem["question_id"], problem["samples"][0]["output"])
        for path in sorted(COURSE.glob("*.json"))
        for problem in json.loads(path.read_text())["problems"]
    ][:limit]
    return [qid for qid, _ in outputs], [JudgeJob(extract_code(out)[0], public[qid]) for qid, out in outputs]


def naive_one(job: JudgeJob, time_limit: float, python: str, memory_mb: int = 1024) -> list[str]:
    """A fresh interpreter per test, stopping at the first failure.

    It gets the judge's address-space limit too: without it, programs that allocate 8 GB lists swap the
    shared machine and time out instead of failing at once.
    """
    from evaluation.judge.checker import stdout_matches

    address_space = (memory_mb + ADDRESS_HEADROOM_MB) * 1024 * 1024

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    verdicts = []
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir, "main.py")
        path.write_text(job.code)
        for test in job.tests:
            try:
                done = subprocess.run(
                    [python, str(path)],
                    input=test.input.encode(),
                    capture_output=True,
                    timeout=time_limit,
                    cwd=workdir,
                    preexec_fn=limit_memory,
                )
            except subprocess.TimeoutExpired:
                verdicts.append("TLE")
                break
            if done.returncode != 0:
                verdicts.append("RE")
                break
            ok = stdout_matches(test.output, done.stdout.decode("utf-8", "replace"))
            verdicts.append("AC" if ok else "WA")
            if not ok:
                break
    return verdicts


@dataclass
class JudgeBenchArguments:
    limit: int | None = field(default=None, metadata={"help": "only the first N programs"})
    quick: bool = field(default=False, metadata={"help": "same as --limit 120"})
    workers: int = 2
    time_limit: float = field(default=6.0, metadata={"help": "seconds per test"})


def main(args: JudgeBenchArguments) -> None:
    limit = 120 if args.quick and args.limit is None else args.limit
    question_ids, jobs = load_jobs(limit)
    print(
        f"{len(jobs)} programs, {sum(len(j.tests) for j in jobs)} tests, sandbox={resolve_mode()}, "
        f"workers={args.workers}, time limit {args.time_limit:g} s, cpus={os.cpu_count()}"
    )

    start = time.perf_counter()
    ours_all = judge(jobs, time_limit=args.time_limit, workers=args.workers)
    wall_all = time.perf_counter() - start
    looping = [i for i, verdicts in enumerate(ours_all) if verdicts and verdicts[-1].verdict == "TLE"]
    floor = len(looping) * args.time_limit / args.workers
    verdict_counts = Counter(v[-1].verdict if v else "none" for v in ours_all)
    print(f"judge verdicts (last test of each program): {dict(verdict_counts)}")
    print(
        f"\n(b) all {len(jobs)} programs: {wall_all:.1f} s wall; {len(looping)} hit the time limit -> floor "
        f"{floor:.1f} s; ratio {wall_all / floor if floor else float('nan'):.2f}x (target <= 1.25x)"
    )

    finishing = [jobs[i] for i in range(len(jobs)) if i not in set(looping)]
    finishing_ids = [question_ids[i] for i in range(len(jobs)) if i not in set(looping)]
    POOL.close()  # (a) pays for starting its workers, as a single evaluation run does
    start = time.perf_counter()
    ours = judge(finishing, time_limit=args.time_limit, workers=args.workers, semantics="plain")  # as naive
    ours_wall = time.perf_counter() - start
    ours_tests = sum(len(v) for v in ours)

    python = sandbox_python()
    naive, naive_wall = run_naive(finishing, args, python)
    naive_tests = sum(len(v) for v in naive)

    as_naive = {"MLE": "RE", "OLE": "RE"}  # the naive runner only knows exit status and time
    mismatches = [
        (i, [as_naive.get(v.verdict, v.verdict) for v in mine], theirs)
        for i, (mine, theirs) in enumerate(zip(ours, naive, strict=True))
        if [as_naive.get(v.verdict, v.verdict) for v in mine] != theirs
    ]
    ours_rate, naive_rate = ours_tests / ours_wall, naive_tests / naive_wall
    print(f"\n(a) {len(finishing)} programs that finish in time:")
    print(f"    judge : {ours_tests} tests in {ours_wall:.2f} s = {ours_rate:.0f} tests/s")
    print(
        f"    naive : {naive_tests} tests in {naive_wall:.2f} s = {naive_rate:.0f} tests/s (fresh {python})"
    )
    print(f"    ratio : {ours_rate / naive_rate:.1f}x (target >= 10x)")
    print(f"    verdicts identical: {not mismatches} ({len(mismatches)} programs differ)")
    for i, mine, theirs in mismatches[:10]:
        print(f"      program {i}: judge {mine} vs naive {theirs}")
    passed_ours = sum(
        bool(v) and all(x.verdict == "AC" for x in v) and len(v) == len(jobs[i].tests)
        for i, v in enumerate(ours_all)
    )
    print(f"\npassed (all public tests AC): {passed_ours} of {len(jobs)}")
    one_call_latency(finishing[0], args.time_limit)
    whole_run(finishing_ids, finishing, args, python)
    filter_cost()


def one_call_latency(job: JudgeJob, time_limit: float, repeats: int = 10) -> None:
    """(c) One program per call, as the Arena's Judge button and each generation batch call the judge."""
    fresh, pooled = [], []
    for _ in range(repeats):
        POOL.close()
        start = time.perf_counter()
        judge([job], time_limit=time_limit, workers=1)
        fresh.append(time.perf_counter() - start)
        start = time.perf_counter()
        judge([job], time_limit=time_limit, workers=1)
        pooled.append(time.perf_counter() - start)
    fresh_s, pooled_s = statistics.median(fresh), statistics.median(pooled)
    print(
        f"\n(c) one-program judge call, median of {repeats}: fresh workers {1000 * fresh_s:.0f} ms, "
        f"kept workers {1000 * pooled_s:.0f} ms; ratio {fresh_s / pooled_s:.1f}x"
    )


def whole_run(question_ids: list[str], jobs: list[JudgeJob], args: JudgeBenchArguments, python: str) -> None:
    """(d) The rejudge CLI in a fresh interpreter, timed from outside, and the naive runner, in turns: three
    rounds of each, so a shared machine's drift (its speed moved by half within minutes here) meets both."""
    with tempfile.TemporaryDirectory() as folder:
        generations, verdicts = Path(folder, "generations.jsonl"), Path(folder, "verdicts.jsonl")
        rows = [{"question_id": qid, "code": job.code} for qid, job in zip(question_ids, jobs, strict=True)]
        generations.write_text("".join(json.dumps(row) + "\n" for row in rows))
        command = [sys.executable, "-m", "evaluation", "rejudge", "--generations", str(generations)]
        command += ["--output_file", str(verdicts), "--test_scope", "public-only", "--semantics", "plain"]
        command += ["--workers", str(args.workers), "--time_limit", str(args.time_limit)]
        ours, naive = [], []
        for _ in range(3):
            verdicts.unlink(missing_ok=True)
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, cwd=REPO_ROOT)
            ours.append(time.perf_counter() - start)
            naive.append(run_naive(jobs, args, python)[1])
    ours_s, naive_s = statistics.median(ours), statistics.median(naive)
    print(
        f"\n(d) whole `python -m evaluation rejudge` run on the {len(jobs)} programs of (a), in turns with the "
        f"naive runner: {ours_s:.2f} s (median of {', '.join(f'{w:.2f}' for w in ours)}) vs naive {naive_s:.2f} s "
        f"(median of {', '.join(f'{w:.2f}' for w in naive)}); ratio {naive_s / ours_s:.1f}x (target >= 10x, aim 15x)"
    )


def run_naive(jobs: list[JudgeJob], args: JudgeBenchArguments, python: str) -> tuple[list[list[str]], float]:
    """The naive runner's verdicts for ``jobs`` on ``args.workers`` threads, and the seconds it took."""
    start = time.perf_counter()
    with ThreadPoolExecutor(args.workers) as pool:
        verdicts = list(pool.map(lambda job: naive_one(job, args.time_limit, python), jobs))
    return verdicts, time.perf_counter() - start


FILTER_PROBE = """
import ctypes, os, sys, time
sys.path.insert(0, sys.argv[1])
from sandbox_filter import filter_program, install, prepared
program, rounds, calls = prepared(filter_program()), 300, 20000
libc = ctypes.CDLL(None, use_errno=True)
getppid, prctl = libc.getppid, libc.prctl  # getppid: a real system call each time (no libc cache)
def child(filtered, write):
    if filtered:
        install(program)
    else:  # the same two prctl calls, without the filter
        prctl(39, 0, 0, 0, 0), prctl(39, 0, 0, 0, 0)  # PR_GET_NO_NEW_PRIVS
    start = time.perf_counter_ns()
    for _ in range(calls):
        getppid()
    os.write(write, f"{(time.perf_counter_ns() - start) / calls}".encode())
    os._exit(0)
for filtered in (False, True):
    lives, call_ns = [], []
    for _ in range(rounds):
        read, write = os.pipe()
        start = time.perf_counter_ns()
        pid = libc.fork()  # as the zygote forks its programs
        if pid == 0:
            child(filtered, write)
        os.close(write)
        call_ns.append(float(os.read(read, 100)))
        os.close(read)
        os.waitpid(pid, 0)
        lives.append(time.perf_counter_ns() - start - call_ns[-1] * calls)
    lives.sort(); call_ns.sort()
    print(filtered, lives[rounds // 2], call_ns[rounds // 2])
"""


def filter_cost() -> None:
    """(e) Medians over forked children, as the zygote's programs are: a child's whole life (fork,
    filter, exit, reaped; its system calls' time left out) with and without the filter, and ns per call."""
    evaluation = REPO_ROOT / "evaluation" / "judge"
    done = subprocess.run(
        [sys.executable, "-c", FILTER_PROBE, str(evaluation)], check=True, capture_output=True, text=True
    )
    (_, bare_life, bare), (_, filtered_life, filtered) = (line.split() for line in done.stdout.splitlines())
    cost_us = (float(filtered_life) - float(bare_life)) / 1000
    print(
        f"\n(e) syscall filter: a program's life (fork, filter, exit, reaped) costs {cost_us:+.0f} us with it "
        f"(medians over forked children); a system call {float(bare):.0f} ns bare vs {float(filtered):.0f} ns "
        f"filtered (+{float(filtered) - float(bare):.0f} ns)"
    )


if __name__ == "__main__":
    from record import recorded
    from transformers import HfArgumentParser

    (bench_args,) = HfArgumentParser(JudgeBenchArguments).parse_args_into_dataclasses()
    partial = bench_args.quick or bench_args.limit is not None  # a look: not the figures the README quotes
    with contextlib.nullcontext() if partial else recorded("judge"):
        main(bench_args)
