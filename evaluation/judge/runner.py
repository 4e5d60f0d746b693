"""Judge programs on LiveCodeBench tests: run them in sandboxed workers (sandbox.py), decide verdicts here.

Only a test's input goes into the sandbox; its expected output stays in this process, where the output
is compared (checker.py). A worker lost during a job is replaced and the job is run once more; only a
second loss gives it an RE. ``semantics`` is ``lcb`` (LiveCodeBench's grader: star-imports of common
modules and a recursion limit of 50000 before the program) or ``plain`` (the program as written).
"""

from __future__ import annotations

import atexit
import os
import queue
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from evaluation.benchmark import TestCase
from evaluation.judge import checker
from evaluation.judge.isolation import GUARANTEES, SandboxUnavailable, isolation
from evaluation.judge.sandbox import PROBED, Program, RawRun, Worker, WorkerLost, resolve_mode

JUDGE_VERSION = "zygote-2/lcb-compare"
VERDICTS = ("AC", "WA", "TLE", "RE", "MLE", "OLE")
SEMANTICS = ("lcb", "plain")


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

    A worker holds no program data (sandbox_worker.py), and every test runs in a fresh process and PID
    namespace, so reusing workers across calls isolates programs exactly as reusing them across jobs does.
    """

    def __init__(self, max_idle: int = 8):
        self.max_idle = max_idle
        self.idle: dict[str, list[Worker]] = {}
        self.lock = threading.Lock()

    def take(self, mode: str) -> Worker:
        with self.lock:
            if self.idle.get(mode):
                return self.idle[mode].pop()
            if mode == "bwrap" and PROBED:
                return PROBED.pop()  # started to see whether bubblewrap works here
        return Worker(mode)

    def give_back(self, worker: Worker) -> None:
        with self.lock:
            idle = self.idle.setdefault(worker.mode, [])
            if worker.alive() and len(idle) < self.max_idle:
                idle.append(worker)
                return
        worker.close()

    def forget(self) -> None:
        """In a forked child: the parent's workers (and their sockets) are not this process's to use."""
        self.idle, self.lock = {}, threading.Lock()

    def close(self) -> None:
        with self.lock:
            workers = [w for idle in self.idle.values() for w in idle] + PROBED
            self.idle.clear()
            PROBED.clear()
        for worker in workers:
            worker.close()


POOL = WorkerPool()
atexit.register(POOL.close)
os.register_at_fork(after_in_child=POOL.forget)


def passed(verdicts: list[TestVerdict], n_tests: int) -> bool:
    """A program passed iff it has a verdict for every test and all are AC."""
    return len(verdicts) == n_tests and all(v.verdict == "AC" for v in verdicts)


def sandbox_record(sandbox: str | None = None) -> dict:
    """What results files and the Arena say about the isolation programs ran under."""
    kind = isolation(resolve_mode(sandbox))
    return {"isolation": kind, "guarantees": GUARANTEES[kind]}


def judge(
    jobs: Sequence[JudgeJob],
    *,
    time_limit: float = 6.0,
    workers: int = 2,
    memory_mb: int = 1024,
    on_result: Callable[[int, list[TestVerdict]], None] | None = None,
    sandbox: str | None = None,
    semantics: str = "lcb",
) -> list[list[TestVerdict]]:
    """Run every job's tests in order, stopping at its first failure; one verdict list per job.

    `workers` sandboxed workers run jobs in parallel; `on_result(index, verdicts)` is called (serially)
    as each job finishes. `sandbox` picks the mode (default: env CODEGEN_LAB_SANDBOX, else bubblewrap,
    refused with a reason where it cannot run).
    """
    if not jobs:
        return []
    if semantics not in SEMANTICS:
        raise ValueError(f"Unknown judge semantics {semantics!r}; use one of {', '.join(SEMANTICS)}.")
    mode = resolve_mode(sandbox)  # a mode that cannot work fails here, in the caller's thread
    results: list[list[TestVerdict] | None] = [None] * len(jobs)
    pending: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(jobs)):
        pending.put(index)
    callback_lock = threading.Lock()
    errors: list[BaseException] = []

    def serve() -> None:
        worker = POOL.take(mode)
        os.sched_setaffinity(0, {worker.cpu})  # this thread only: beside its worker (sandbox.next_cpu)
        try:
            while not errors and (index := next_job()) is not None:
                verdicts = judge_job(worker, jobs[index], time_limit, memory_mb, semantics)
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


def judge_job(
    worker: Worker, job: JudgeJob, time_limit: float, memory_mb: int, semantics: str
) -> list[TestVerdict]:
    """One program's verdicts; a worker lost on the way is replaced and the program judged once more.

    Whatever else fails while judging it (a MemoryError comparing its output, say) is its own RE, never
    the batch's; the worker, in an unknown state, is replaced.
    """
    for attempt in (1, 2):
        try:
            return run_tests(worker, job, time_limit, memory_mb, semantics)
        except WorkerLost as lost:
            worker.close()  # started afresh by the next program()
            if attempt == 2:
                return [TestVerdict("RE", 0.0, f"sandbox worker lost twice: {lost}")]
        except SandboxUnavailable:
            raise
        except Exception as error:  # one program's failure stays that program's
            worker.close()
            return [TestVerdict("RE", 0.0, f"judge error: {type(error).__name__}")]
    raise AssertionError("unreachable")


def run_tests(
    worker: Worker, job: JudgeJob, time_limit: float, memory_mb: int, semantics: str
) -> list[TestVerdict]:
    verdicts: list[TestVerdict] = []
    with worker.program(job.code, job.func_name, time_limit, memory_mb, semantics) as program:
        for test in job.tests:
            verdict = classify(program, test, program.run(test.input, test.testtype == "functional"))
            verdicts.append(verdict)
            if verdict.verdict != "AC":
                break
    return verdicts


def classify(program: Program, test: TestCase, run: RawRun) -> TestVerdict:
    """The verdict of one run: limits first, then the exit, then the output against the expected one."""
    seconds = round(run.seconds, 4)
    if run.timed_out:
        return TestVerdict("TLE", seconds)
    if run.output_exceeded:
        return TestVerdict("OLE", seconds)
    if os.WIFSIGNALED(run.status):
        signum = os.WTERMSIG(run.status)
        name = signal.Signals(signum).name if signum in signal.Signals._value2member_map_ else str(signum)
        verdict = {signal.SIGXCPU: "TLE", signal.SIGXFSZ: "OLE"}.get(signum, "RE")
        return TestVerdict(verdict, seconds, name)
    exit_code = os.WEXITSTATUS(run.status)
    if exit_code != 0:
        name = exception_name(run.stderr)
        if name == "MemoryError" or run.maxrss_kb > program.memory_mb * 1024:
            return TestVerdict("MLE", seconds, name)
        return TestVerdict("RE", seconds, name or f"exit code {exit_code}")
    if test.testtype == "functional":
        if not run.result:
            return TestVerdict("RE", seconds, "no result")
        matched = checker.functional_matches(test.output, run.result.decode("utf-8", "replace"))
    else:
        matched = checker.stdout_matches(test.output, run.stdout.decode("utf-8", "replace"))
    return TestVerdict("AC" if matched else "WA", seconds)


def exception_name(stderr_tail: bytes) -> str:
    """The exception class of a Python traceback's last line (``ZeroDivisionError``), else ''."""
    lines = stderr_tail.decode("utf-8", "replace").strip().splitlines()
    if lines:
        name = lines[-1].split(":", 1)[0].strip()
        if name and all(part.isidentifier() for part in name.split(".")):
            return name.rsplit(".", 1)[-1]
    return ""
