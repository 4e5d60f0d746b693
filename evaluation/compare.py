"""LiveCodeBench's output comparison rules, kept free of imports from this package.

The sandbox worker imports this file on its own (it runs inside the sandbox, outside the package).
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


def stdout_matches(expected: str, actual: str) -> bool:
    """Same line count, and each line equal as a string or token by token as Decimal."""
    expected_lines, actual_lines = _stripped_lines(expected), _stripped_lines(actual)
    if len(expected_lines) != len(actual_lines):
        return False
    for want, got in zip(expected_lines, actual_lines, strict=True):
        if want == got:
            continue
        want_numbers, got_numbers = _decimals(want), _decimals(got)
        if want_numbers is None or got_numbers is None or want_numbers != got_numbers:
            return False
    return True


def functional_args(test_input: str) -> list:
    """Each input line is one JSON-encoded positional argument."""
    return [json.loads(line) for line in test_input.split("\n")]


def _lists_for_tuples(value):
    if isinstance(value, (tuple, list)):
        return [_lists_for_tuples(item) for item in value]
    if isinstance(value, dict):
        return {key: _lists_for_tuples(item) for key, item in value.items()}
    return value


def encode_result(value) -> str:
    """JSON of a functional call's result (tuples become lists); raises TypeError if not JSON-able."""
    return json.dumps(_lists_for_tuples(value))


def functional_matches(expected: str, encoded_result: str) -> bool:
    """`==` between the expected JSON value and the (tuple-free) returned value."""
    return json.loads(expected) == json.loads(encoded_result)
