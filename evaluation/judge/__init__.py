"""The sandboxed judge: run generated programs on tests and decide their verdicts. The one public entry.

    from evaluation.judge import JudgeJob, TestCase, judge
    verdicts = judge([JudgeJob(code, [TestCase("1 2\\n", "3\\n")])], time_limit=6.0, workers=2)

Inside: ``runner`` (the worker pool and the verdicts), ``checker`` (outputs compared outside the
sandbox), ``isolation`` (the modes and the bubblewrap command), ``sandbox`` (one worker, seen from the
judge) and the three files the sandbox itself runs, loaded by path and never imported here:
``sandbox_worker`` (the zygote), ``sandbox_program`` (a program's own process), ``sandbox_filter``.
"""

from evaluation.benchmark import TestCase
from evaluation.judge.isolation import GUARANTEES, SANDBOX_ENV, SandboxUnavailable
from evaluation.judge.runner import (
    JUDGE_VERSION,
    POOL,
    SEMANTICS,
    VERDICTS,
    JudgeJob,
    TestVerdict,
    judge,
    passed,
    sandbox_record,
)
from evaluation.judge.sandbox import bwrap_usable, resolve_mode

__all__ = [
    "GUARANTEES",
    "JUDGE_VERSION",
    "POOL",
    "SANDBOX_ENV",
    "SEMANTICS",
    "VERDICTS",
    "JudgeJob",
    "SandboxUnavailable",
    "TestCase",
    "TestVerdict",
    "bwrap_usable",
    "judge",
    "passed",
    "resolve_mode",
    "sandbox_record",
]
