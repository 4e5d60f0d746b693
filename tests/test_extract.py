"""Extraction rules, and on the study's real published generations."""

from collections import Counter

from evaluation.extract import extract_code
from tests.helpers import course_generations


def test_fenced_prefers_last_compiling_python_block():
    text = (
        "Idea:\n```python\nprint(1)\n```\nShell:\n```bash\nls -la\n```\n"
        "Final:\n```python\nprint(2)\n```\nBroken:\n```python\ndef f(:\n```\nDone."
    )
    assert extract_code(text) == ("print(2)\n", "fenced")
    assert extract_code("```\nprint(3)\n```") == ("print(3)\n", "fenced")
    assert extract_code("Here:\n```python\nprint(4)\n")[1] == "fenced"  # unclosed (truncated) block


def test_think_is_stripped():
    assert extract_code("<think>```python\nprint(0)\n```</think>\nprint(5)") == ("print(5)\n", "whole")
    assert extract_code("<think>never closed print(1)") == ("", "none")
    assert extract_code("reasoning...</think>print(6)") == ("print(6)\n", "whole")


def test_whole_trimmed_none():
    assert extract_code("import sys\nprint(sys.stdin.read())") == (
        "import sys\nprint(sys.stdin.read())\n",
        "whole",
    )
    text = "Here is the solution:\n\nn = int(input())\nif n:\n    print(n)\n\nThis runs in O(1)."
    assert extract_code(text) == ("n = int(input())\nif n:\n    print(n)\n", "trimmed")
    assert extract_code("Sorry, I cannot solve this.") == ("", "none")
    assert extract_code("") == ("", "none")
    assert extract_code("def main(:\n    pass\n") == (
        "",
        "none",
    )  # a broken program is not trimmed into a stub


def test_real_published_generations():
    rows = course_generations()
    results = [extract_code(row["output"]) for row in rows]
    rules = Counter(rule for _, rule in results)
    assert len(rows) == 738
    # Mostly unfenced Python (LCB's own rule would find nothing), some fenced answers inside prose,
    # and the rest real syntax errors that no rule should "repair".
    assert rules == {"whole": 704, "fenced": 11, "none": 23}
    for row, (code, rule) in zip(rows, results, strict=True):
        if rule == "whole":
            assert code.strip() == row["output"].strip()
        if rule == "fenced":
            assert "```" not in code and "main()" in code
            compile(code, "x", "exec")
