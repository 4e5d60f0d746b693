"""The output checker: LiveCodeBench's comparison rules, applied by the judge outside the sandbox.

stdin problems: the same number of lines (after stripping the whole output), and each line equal as a
string, or token by token as ``Decimal`` (so ``0.`` equals ``0`` and ``1.50`` equals ``1.5``).
Functional problems: the returned value (tuples read as lists) ``==`` the expected JSON value.
Anything that cannot be compared (``sNaN``, invalid JSON) is a wrong answer, never an error.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation


def _stripped_lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().split("\n")]


def _decimals(line: str) -> list[Decimal] | None:
    try:
        return [Decimal(token) for token in line.split()]
    except (InvalidOperation, ValueError):
        return None


def _same_numbers(want: list[Decimal], got: list[Decimal]) -> bool:
    try:
        return want == got
    except InvalidOperation:  # a signalling NaN refuses to be compared
        return False


def stdout_matches(expected: str, actual: str) -> bool:
    """Same line count, and each line equal as a string or token by token as Decimal."""
    expected_lines, actual_lines = _stripped_lines(expected), _stripped_lines(actual)
    if len(expected_lines) != len(actual_lines):
        return False
    for want, got in zip(expected_lines, actual_lines, strict=True):
        if want == got:
            continue
        want_numbers, got_numbers = _decimals(want), _decimals(got)
        if want_numbers is None or got_numbers is None or not _same_numbers(want_numbers, got_numbers):
            return False
    return True


def functional_matches(expected: str, encoded_result: str) -> bool:
    """``==`` between the expected JSON value and the (tuple-free) returned value."""
    try:
        return json.loads(expected) == json.loads(encoded_result)
    except (ValueError, RecursionError):
        return False
