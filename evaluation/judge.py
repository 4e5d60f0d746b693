"""Judge programs on LiveCodeBench tests in sandboxed OS processes (see sandbox.py, sandbox_worker.py).

from evaluation.judge import JudgeJob, TestCase, judge
verdicts = judge([JudgeJob(code, [TestCase("1 2\\n", "3\\n")])], time_limit=6.0, workers=2)
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from evaluation.sandbox import Worker

JUDGE_VERSION = "zygote-1/lcb-compare"
VERDICTS = ("AC", "WA", "TLE", "RE", "MLE", "OLE")


@dataclass(frozen=True)
class TestCase:
    """One LiveCodeBench test."""

    __test__ = False  # not a pytest class

    input: str
    output: str
    testtype: str = "stdin"  # or "functional"


@dataclass
class TestVerdict:
    __test__ = False

    verdict: str  # AC | WA | TLE | RE | MLE | OLE
    seconds: float
    detail: str = ""  # e.g. exception type for RE ("ZeroDivisionError", "SyntaxError")


@dataclass
class JudgeJob:
    code: str
    tests: list[TestCase] = field(default_factory=list)
    func_name: str | None = None  # functional (LeetCode-style) problems


def passed(verdicts: list[TestVerdict], n_tests: int) -> bool:
    """A program passed iff it has a verdict for every test and all are AC."""
    return len(verdicts) == n_tests and all(v.verdict == "AC" for v in verdicts)


def judge(
    jobs: Sequence[JudgeJob],
    *,
    time_limit: float = 6.0,
    workers: int = 2,
    memory_mb: int = 1024,
    on_result: Callable[[int, list[TestVerdict]], None] | None = None,
    sandbox: str | None = None,
) -> list[list[TestVerdict]]:
    """Run every job's tests in order, stopping at its first failure; one verdict list per job.

    `workers` sandboxed workers run jobs in parallel; `on_result(index, verdicts)` is called (serially)
    as each job finishes. `sandbox` picks the isolation mode (default: env CODEGEN_LAB_SANDBOX, else
    bubblewrap when usable, else the rlimit fallback).
    """
    if not jobs:
        return []
    results: list[list[TestVerdict] | None] = [None] * len(jobs)
    pending: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(jobs)):
        pending.put(index)
    callback_lock = threading.Lock()
    errors: list[BaseException] = []

    def serve() -> None:
        worker = Worker(sandbox)
        try:
            while not errors:
                try:
                    index = pending.get_nowait()
                except queue.Empty:
                    return
                job = jobs[index]
                tests = [[t.input, t.output, t.testtype] for t in job.tests]
                replies = worker.run(job.code, tests, job.func_name, time_limit, memory_mb)
                verdicts = [TestVerdict(r["verdict"], r["seconds"], r["detail"]) for r in replies]
                results[index] = verdicts
                if on_result is not None:
                    with callback_lock:
                        on_result(index, verdicts)
        except BaseException as error:  # surfaced in the caller's thread below
            errors.append(error)
        finally:
            worker.close()

    threads = [threading.Thread(target=serve, daemon=True) for _ in range(max(1, min(workers, len(jobs))))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
