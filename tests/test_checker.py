"""The output checker: LiveCodeBench's comparison rules, rule by rule."""

import pytest

from evaluation.judge.checker import functional_matches, stdout_matches


@pytest.mark.parametrize(
    ("expected", "actual", "ok"),
    [
        ("1.5\n", "1.50\n", True),  # Decimal equality
        ("100\n", "1e2\n", True),
        ("Yes\n", "yes\n", False),  # no case folding
        ("1 2 3\n", "1 2 3   \n", True),  # trailing spaces
        ("1 2 3\n", "  1  2\t3\n", True),  # whitespace between tokens
        ("a\nb\n", "a\n", False),  # a missing line
        ("a\n", "a\n\n\n", True),  # the whole output is stripped
        ("a\n\nb\n", "a\nb\n", False),  # inner blank line counts
        ("0.333333\n", "0.3333333\n", False),  # no float tolerance
        ("1 2\n", "1 2 3\n", False),
        ("abc 1\n", "abc 1.0\n", False),  # a non-number token that differs -> fail
        ("3\n", "3\r\n", True),
        ("", "", True),
        ("NaN\n", "nan\n", False),  # Decimal NaN is never equal
        ("1\n", "sNaN\n", False),  # a signalling NaN cannot be compared: a wrong answer, not a crash
        ("sNaN\n", "sNaN\n", True),  # (as strings they are equal)
        ("1 2\n", "1 sNaN\n", False),
    ],
)
def test_stdout_matches(expected, actual, ok):
    assert stdout_matches(expected, actual) is ok


def test_functional_rules():
    assert functional_matches("[1, 2]", "[1, 2]")
    assert functional_matches("2", "2.0")  # == semantics
    assert not functional_matches("true", "2")
    assert not functional_matches("[1]", "[1]{garbage")  # not JSON (a forged write, say): wrong answer


@pytest.mark.parametrize("output", ["1 " * (4 << 20), "1\n" * (4 << 20), "x" * (8 << 20)])
def test_adversarial_output_costs_a_few_times_its_size(output):
    """8 MB against a one-token answer: counts first, at most one token too many split, lazy Decimals."""
    import tracemalloc

    tracemalloc.start()
    try:
        assert stdout_matches("1\n", output) is False
        assert stdout_matches("1 2\n", output + " 2") is False
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * len(output)
