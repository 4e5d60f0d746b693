"""Judge programs on LiveCodeBench tests in sandboxed OS processes (see sandbox.py, sandbox_worker.py).

from evaluation.judge import JudgeJob, TestCase, judge
verdicts = judge([JudgeJob(code, [TestCase("1 2\\n", "3\\n")])], time_limit=6.0, workers=2)
"""

from __future__ import annotations

import atexit
import os
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from evaluation.sandbox import Worker, resolve_mode

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


class WorkerPool:
    """Idle sandbox workers kept between ``judge`` calls, so a call does not pay their start (~50 ms).

    A worker only ever holds its own zygote; every program still runs in a freshly forked child, so
    reusing workers across calls isolates programs exactly as reusing them across jobs of one call does.
    """

    def __init__(self, max_idle: int = 8):
        self.max_idle = max_idle
        self.idle: dict[str, list[Worker]] = {}
        self.lock = threading.Lock()

    def take(self, mode: str) -> Worker:
        with self.lock:
            if self.idle.get(mode):
                return self.idle[mode].pop()
        return Worker(mode)

    def give_back(self, worker: Worker) -> None:
        with self.lock:
            idle = self.idle.setdefault(worker.mode, [])
            if worker.process is not None and len(idle) < self.max_idle:
                idle.append(worker)
                return
        worker.close()

    def forget(self) -> None:
        """In a forked child: the parent's workers (and their pipes) are not this process's to use."""
        self.idle, self.lock = {}, threading.Lock()

    def close(self) -> None:
        with self.lock:
            workers = [w for idle in self.idle.values() for w in idle]
            self.idle.clear()
        for worker in workers:
            worker.close()


POOL = WorkerPool()
atexit.register(POOL.close)
os.register_at_fork(after_in_child=POOL.forget)


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
    mode = resolve_mode(sandbox)  # a mode that cannot work fails here, in the caller's thread
    results: list[list[TestVerdict] | None] = [None] * len(jobs)
    pending: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(jobs)):
        pending.put(index)
    callback_lock = threading.Lock()
    errors: list[BaseException] = []

    def serve() -> None:
        worker = POOL.take(mode)
        try:
            while not errors and (index := next_job()) is not None:
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
            worker.close()
        else:
            POOL.give_back(worker)

    def next_job() -> int | None:
        try:
            return pending.get_nowait()
        except queue.Empty:
            return None

    threads = [threading.Thread(target=serve, daemon=True) for _ in range(max(1, min(workers, len(jobs))))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
