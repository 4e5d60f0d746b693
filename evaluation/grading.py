"""Answer -> extracted program -> sandboxed judge -> passed: the one path every stage grades through.

The benchmark run, ``rejudge``, the ``evaluate`` metric and the Space's Judge button all call
``grade``; a sample in a results file is ``Graded.record()``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from evaluation.extract import extract_code
from evaluation.judge import JudgeJob, TestCase, TestVerdict, judge, passed


@dataclass
class Answer:
    """A model's raw answer to a problem (or, with ``code`` set, a program to run as given)."""

    text: str
    tests: list[TestCase]
    func_name: str | None = None
    code: str | None = None


@dataclass
class Graded:
    output: str
    code: str
    extraction: str  # fenced | whole | trimmed | none | given
    n_tests: int
    verdicts: list[TestVerdict] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return passed(self.verdicts, self.n_tests)

    def record(self) -> dict:
        """The sample as a results file holds it."""
        tests = [{"verdict": v.verdict, "seconds": v.seconds, "detail": v.detail} for v in self.verdicts]
        return {
            "output": self.output,
            "code": self.code,
            "extraction": self.extraction,
            "passed": self.passed,
            "tests": tests,
        }


def grade(
    answers: Sequence[Answer],
    *,
    time_limit: float = 6.0,
    workers: int = 2,
    memory_mb: int = 1024,
    sandbox: str | None = None,
    semantics: str = "lcb",
    on_graded: Callable[[int, Graded], None] | None = None,
) -> list[Graded]:
    """Extract each answer's program and judge it; an answer without a program gets no verdicts.

    ``on_graded(index, graded)`` is called (serially) as each answer is done, unjudged ones first.
    """
    graded = []
    for answer in answers:
        code, rule = (answer.code, "given") if answer.code is not None else extract_code(answer.text)
        graded.append(Graded(answer.text, code, rule, len(answer.tests)))
    runnable = [i for i, g in enumerate(graded) if g.code.strip()]
    if on_graded is not None:
        for i in sorted(set(range(len(graded))) - set(runnable)):
            on_graded(i, graded[i])

    def record(k: int, verdicts: list[TestVerdict]) -> None:
        graded[runnable[k]].verdicts = verdicts
        if on_graded is not None:
            on_graded(runnable[k], graded[runnable[k]])

    jobs = [JudgeJob(graded[i].code, answers[i].tests, answers[i].func_name) for i in runnable]
    judge(
        jobs,
        time_limit=time_limit,
        workers=workers,
        memory_mb=memory_mb,
        on_result=record,
        sandbox=sandbox,
        semantics=semantics,
    )
    return graded
