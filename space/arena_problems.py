"""Benchmark problems for the arena's picker, and judging the panes' answers in the evaluation sandbox.

Generated code never runs in the app's process: ``evaluation.judge.judge`` runs it in sandboxed
subprocesses and returns per-test verdicts.
"""

from __future__ import annotations

import functools
import html

from evaluation.grading import Graded


@functools.cache
def load_problems() -> dict:
    """{question_id: Problem} of the study's 41 problems (the benchmark loader's ``study`` preset)."""
    from evaluation.benchmark import load_benchmark

    benchmark = load_benchmark(preset="study")  # the file the repo ships
    return {problem.question_id: problem for problem in benchmark.problems}


def problem_choices() -> list[tuple[str, str]]:
    return [(f"{qid} · {p.question_title}", qid) for qid, p in load_problems().items()]


def problem_prompt(question_id: str, style: str) -> str:
    """The user message for a problem: the bare statement (the study's style) or LiveCodeBench's wording."""
    from codegen_lab.prompts import build_messages

    problem = load_problems()[question_id]
    return build_messages(problem.question_content, problem.starter_code, style)[-1]["content"]


def judge_answers(question_id: str, answers: list[str], time_limit: float = 6.0) -> list[Graded]:
    """Extract each answer's program and judge it on the problem's tests (sandboxed subprocesses)."""
    from evaluation.grading import Answer, grade

    problem = load_problems()[question_id]
    tests = problem.tests("full")
    return grade([Answer(answer, tests, problem.func_name) for answer in answers], time_limit=time_limit)


def verdict_html(title: str, verdict: Graded | None, isolation: str = "") -> str:
    """A small table: one row per test with its verdict, time and detail; unrun tests are greyed."""
    if verdict is None:
        return f"<div class='verdicts'><b>{html.escape(title)}</b>: no answer to judge yet.</div>"
    if verdict.extraction == "none":
        summary = "no program found in the answer"
    elif verdict.passed:
        summary = f"PASSED {verdict.n_tests}/{verdict.n_tests} tests"
    else:
        failed = next((v for v in verdict.verdicts if v.verdict != "AC"), None)
        summary = (
            f"FAILED ({failed.verdict if failed else 'no verdict'}) after {len(verdict.verdicts)} test(s)"
        )
    rows = []
    for i in range(verdict.n_tests):
        if i < len(verdict.verdicts):
            v = verdict.verdicts[i]
            css = "ac" if v.verdict == "AC" else "bad"
            cells = (v.verdict, f"{v.seconds:.2f} s", html.escape(v.detail or ""))
        else:
            css, cells = "skip", ("not run", "", "")
        rows.append(
            f"<tr class='{css}'><td>test {i + 1}</td>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
        )
    status = "pass" if verdict.passed else "fail"
    sandbox = f" · sandbox: {html.escape(isolation)}" if isolation else ""
    return (
        f"<div class='verdicts'><b>{html.escape(title)}</b> <span class='{status}'>{summary}</span> "
        f"<small>(extraction: {verdict.extraction}{sandbox})</small>"
        f"<table><tr><th>test</th><th>verdict</th><th>time</th><th>detail</th></tr>{''.join(rows)}</table></div>"
    )
