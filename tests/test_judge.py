"""The judge's API and semantics on legitimate competitive-programming code."""

import os
import textwrap

import pytest

from evaluation.judge import (
    JUDGE_VERSION,
    POOL,
    SANDBOX_ENV,
    JudgeJob,
    TestCase,
    TestVerdict,
    judge,
    passed,
    resolve_mode,
)

SUM = [TestCase("1 2\n", "3\n"), TestCase("10 20\n", "30\n")]


def verdicts_of(code: str, tests=SUM, **kwargs) -> list[str]:
    return [v.verdict for v in judge([JudgeJob(textwrap.dedent(code), tests)], **kwargs)[0]]


@pytest.mark.parametrize(
    "code",
    [
        "a, b = map(int, input().split())\nprint(a + b)",
        "import sys\nfor line in sys.stdin:\n    print(sum(map(int, line.split())))",
        "import sys\nprint(sum(map(int, sys.stdin.buffer.read().split())))",
        "print(sum(map(int, open(0).read().split())))\nexit()",
        "import sys\nprint(sum(map(int, input().split())))\nsys.exit(0)\nprint('unreachable')",
        "if __name__ == '__main__':\n    print(eval(input().replace(' ', '+')))",
    ],
)
def test_legitimate_programs_pass(code):
    assert verdicts_of(code) == ["AC", "AC"]


def test_deep_recursion_in_a_big_stack_thread():
    code = """
    import sys, threading
    sys.setrecursionlimit(10**6)
    threading.stack_size(1 << 27)
    def depth(n):
        return 0 if n == 0 else 1 + depth(n - 1)
    def main():
        print(depth(200000))
    threading.Thread(target=main).start()
    """
    assert verdicts_of(code, [TestCase("", "200000\n")]) == ["AC"]


def test_a_few_hundred_megabytes():
    code = (
        "data = bytearray(400 * 1024 * 1024)\ndata[::4096] = b'x' * len(data[::4096])\nprint(len(data) >> 20)"
    )
    assert verdicts_of(code, [TestCase("", "400\n")]) == ["AC"]


def test_verdicts_and_stop_at_first_failure():
    tests = [TestCase("1 2\n", "3\n"), TestCase("2 2\n", "5\n"), TestCase("3 3\n", "6\n")]
    result = judge([JudgeJob("a, b = map(int, input().split())\nprint(a + b)", tests)])[0]
    assert [v.verdict for v in result] == ["AC", "WA"]  # the third test is not run
    assert not passed(result, len(tests))
    assert all(isinstance(v, TestVerdict) and v.seconds >= 0 for v in result)
    syntax = judge([JudgeJob("def f(:\n", SUM)])[0]
    assert [(v.verdict, v.detail) for v in syntax] == [("RE", "SyntaxError")]
    assert verdicts_of("import sys\nprint(3)\nsys.exit(3)") == ["RE"]
    assert verdicts_of("print(1 // 0)") == ["RE"]


def test_functional_problem():
    code = "class Solution:\n    def twoSum(self, nums, target):\n        return (0, 1)\n"
    tests = [TestCase("[2, 7]\n9", "[0, 1]", "functional"), TestCase("[1, 1]\n3", "[1, 0]", "functional")]
    assert [v.verdict for v in judge([JudgeJob(code, tests, "twoSum")])[0]] == ["AC", "WA"]


def test_many_jobs_in_order_with_callback():
    jobs = [JudgeJob(f"input()\nprint({i})", [TestCase("x\n", f"{i % 3}\n")]) for i in range(12)]
    seen = []
    results = judge(jobs, workers=2, on_result=lambda i, v: seen.append(i))
    assert sorted(seen) == list(range(12))
    assert [r[0].verdict for r in results] == ["AC" if i % 3 == i else "WA" for i in range(12)]
    assert judge([]) == []
    assert JUDGE_VERSION


def test_lcb_semantics_and_plain_semantics():
    """LCB's grader star-imports common modules and raises the recursion limit; an online judge does not."""
    sqrt = "print(int(sqrt(int(input()))))"
    deep = "def f(n):\n    return 0 if n == 0 else 1 + f(n - 1)\nprint(f(int(input())))"
    bare_stdin = "print(int(stdin.readline()) + len(argv))"  # `from sys import *`: its own stdin and argv
    cases = {
        sqrt: TestCase("16\n", "4\n"),
        deep: TestCase("20000\n", "20000\n"),
        bare_stdin: TestCase("4\n", "5\n"),
    }
    for code, test in cases.items():
        assert verdicts_of(code, [test]) == ["AC"]  # lcb is the default
        assert verdicts_of(code, [test], semantics="lcb") == ["AC"]
    assert [(v.verdict, v.detail) for v in judge([JudgeJob(sqrt, [cases[sqrt]])], semantics="plain")[0]] == [
        ("RE", "NameError")
    ]
    assert judge([JudgeJob(deep, [cases[deep]])], semantics="plain")[0][0].detail == "RecursionError"
    with pytest.raises(ValueError, match="semantics"):
        judge([JudgeJob(sqrt, [cases[sqrt]])], semantics="loose")


def test_runs_in_another_process():
    code = f"import os\nprint('other' if os.getpid() != {os.getpid()} else 'same')"
    assert verdicts_of(code, [TestCase("", "other\n")]) == ["AC"]


def test_mode_selection(monkeypatch):
    monkeypatch.setenv(SANDBOX_ENV, "rlimit")
    assert resolve_mode() == "rlimit"
    monkeypatch.setenv(SANDBOX_ENV, "chroot")
    with pytest.raises(ValueError, match="CODEGEN_LAB_SANDBOX"):
        resolve_mode()


def test_workers_are_kept_between_calls_and_replaced_when_dead():
    echo = [JudgeJob("print(input())", [TestCase("ok\n", "ok\n")])] * 4
    assert all(passed(v, 1) for v in judge(echo, workers=2))
    mode = resolve_mode()
    first = {worker.process.pid for worker in POOL.idle[mode]}
    assert len(first) == 2
    assert all(passed(v, 1) for v in judge(echo, workers=2))
    assert {worker.process.pid for worker in POOL.idle[mode]} == first  # reused, not restarted

    POOL.idle[mode][0].process.kill()  # dies while idle (an OOM kill, say)
    POOL.idle[mode][0].process.wait()
    assert all(passed(v, 1) for v in judge(echo, workers=2))  # no program is blamed for it
    assert len({worker.process.pid for worker in POOL.idle[mode]} - first) == 1


def test_a_forked_child_does_not_share_the_parents_workers():
    judge([JudgeJob("print(1)", [TestCase("", "1\n")])], workers=1)
    assert POOL.idle[resolve_mode()]
    pid = os.fork()
    if pid == 0:
        os._exit(0 if POOL.idle == {} else 1)
    assert os.waitpid(pid, 0)[1] == 0
    assert POOL.idle[resolve_mode()]  # the parent keeps its own
