"""The `evaluate` metric module loads offline from its path in the repo and judges with the real judge."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from codegen_lab.paths import REPO_ROOT
from evaluation.benchmark import STUDY_BENCHMARK

METRIC = REPO_ROOT / "evaluation" / "metric" / "lcb_pass_at_k.py"
LEAP_YEAR = "y = int(input())\nprint(366 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 365)\n"

SCRIPT = """
import json, sys
import evaluate

metric = evaluate.load(sys.argv[1])
row = json.loads(open(sys.argv[2]).readline())  # abc365_a, the leap-year problem
leap = json.loads(sys.argv[3])
functional = {"tests": [{"input": "3", "output": "6", "testtype": "functional"},
                        {"input": "-4", "output": "-8", "testtype": "functional"}], "func_name": "twice"}
result = metric.compute(
    predictions=[
        ["Here you go:\\n```python\\n" + leap + "```\\nDone.", "print(365)", "Sorry, I cannot."],
        ["class Solution:\\n    def twice(self, x):\\n        return 2 * x\\n", "class Solution:\\n    def twice(self, x):\\n        return x + 3\\n"],
    ],
    references=[json.dumps(row), json.dumps(functional)],
    k=[1, 2, 5],
    time_limit=4.0,
)
print(json.dumps(result))
"""


def test_metric_loads_offline_from_the_repo_path_and_scores_with_the_judge(tmp_path):
    env = dict(
        os.environ, HF_EVALUATE_OFFLINE="1", HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules")
    )
    env.pop("PYTHONPATH", None)
    # run outside the repo: the cached copy of the module must still find the project's judge
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(METRIC), str(STUDY_BENCHMARK),
         json.dumps(LEAP_YEAR)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    leap, functional = scores["per_problem"]
    assert leap["passed"] == [True, False, False]
    assert leap["extraction"][0] == "fenced" and leap["extraction"][2] == "none"
    assert leap["verdicts"][0] == ["AC", "AC", "AC", "AC"] and leap["verdicts"][1][-1] == "WA"
    assert leap["verdicts"][2] == []
    assert functional["passed"] == [True, False] and functional["verdicts"][1] == ["AC", "WA"]
    assert scores["pass@1"] == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert scores["pass@2"] == pytest.approx((1 - 1 / 3 + 1) / 2)
    assert "pass@5" not in scores  # more than the 2 candidates of the second problem
