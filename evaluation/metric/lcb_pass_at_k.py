"""An `evaluate` metric: pass@k of candidate programs on LiveCodeBench tests, with the project's judge.

    import evaluate
    metric = evaluate.load("evaluation/metric/lcb_pass_at_k.py")      # offline, from the repo
    result = metric.compute(predictions=[["print(int(input()) * 2)"]],
                            references=['[{"input": "3\\n", "output": "6\\n", "testtype": "stdin"}]'], k=[1])

Each prediction is a list of candidates (raw model text, or code with ``extract=False``); each reference
is a JSON string: a list of tests, ``{"tests": [...], "func_name": ...}``, or a whole LCB row. Programs
run in the sandboxed judge of ``evaluation.judge``, never in this process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import datasets
import evaluate

_DESCRIPTION = "pass@k (unbiased estimator) of generated programs judged on LiveCodeBench tests in a sandbox."
_INPUTS = """
predictions: list of lists of str, the candidates of each problem.
references: list of str, each a JSON list of {input, output, testtype} tests, a JSON object
    {"tests": [...], "func_name": str | null}, or a JSON LiveCodeBench row.
k: list of int, the k of pass@k (default [1]); k larger than a problem's candidates is skipped.
extract: bool, apply the project's code extraction to raw model text (default True).
time_limit: float, seconds per test (default 6). workers: int, parallel sandboxes (default 2).
test_scope: "full" or "public-only", for LCB rows (default "full").
semantics: "lcb" (LiveCodeBench's grader: its import block) or "plain" (an online judge); default "lcb".
"""


def _import_project() -> None:
    """Make the repo importable when `evaluate` runs a copy of this file from its module cache."""
    try:
        import evaluation.judge  # noqa: F401
    except ImportError:
        meta = json.loads(Path(__file__).with_suffix(".json").read_text())
        sys.path.insert(0, str(Path(meta["original file path"]).resolve().parents[2]))


def _problem_tests(reference: str, test_scope: str):
    from evaluation.benchmark import parse_row, parse_tests

    value = json.loads(reference)
    if isinstance(value, list):
        return parse_tests(value), None
    if "tests" in value:
        return parse_tests(value["tests"]), value.get("func_name")
    problem = parse_row(value)
    return problem.tests(test_scope), problem.func_name


class LcbPassAtK(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_INPUTS,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("string")),
                    "references": datasets.Value("string"),
                }
            ),
        )

    def _compute(
        self,
        predictions,
        references,
        k=(1,),
        extract: bool = True,
        time_limit: float = 6.0,
        workers: int = 2,
        test_scope: str = "full",
        semantics: str = "lcb",
    ) -> dict:
        _import_project()
        from evaluation.grading import Answer, grade
        from evaluation.metrics import mean_pass_at_k

        problems = [_problem_tests(reference, test_scope) for reference in references]
        answers = [
            Answer(candidate, tests, func_name, None if extract else candidate)
            for (tests, func_name), candidates in zip(problems, predictions, strict=True)
            for candidate in candidates
        ]
        graded = iter(grade(answers, time_limit=time_limit, workers=workers, semantics=semantics))
        per_problem = []
        for candidates in predictions:
            mine = [next(graded) for _ in candidates]
            per_problem.append(
                {
                    "passed": [g.passed for g in mine],
                    "verdicts": [[v.verdict for v in g.verdicts] for g in mine],
                    "extraction": [g.extraction for g in mine],
                }
            )
        counts = [(len(p["passed"]), sum(p["passed"])) for p in per_problem]
        smallest = min(n for n, _ in counts)
        scores = {f"pass@{kk}": mean_pass_at_k(counts, kk) for kk in k if kk <= smallest}
        return scores | {"per_problem": per_problem}
