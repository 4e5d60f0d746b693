"""The output checker: LiveCodeBench's comparison rules, applied by the judge outside the sandbox.

stdin problems: the same number of lines (after stripping the whole output), and each line equal as a
string, or token by token as ``Decimal`` (so ``0.`` equals ``0`` and ``1.50`` equals ``1.5``).
Functional problems: the returned value (tuples read as lists) ``==`` the expected JSON value.
Anything that cannot be compared (``sNaN``, invalid JSON) is a wrong answer, never an error.

Output is adversarial (up to 64 MB): line and token counts are compared before anything is split or
converted, a line is split into at most one token more than expected, and tokens become ``Decimal``
one pair at a time, stopping at the first difference (the same answers as converting everything first).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation


def _lines(text: str) -> Iterator[str]:
    """The stripped lines of the stripped text, one at a time."""
    start = 0
    while (end := text.find("\n", start)) != -1:
        yield text[start:end].strip()
        start = end + 1
    yield text[start:].strip()


def _same_tokens(want: str, got: str) -> bool:
    wanted = want.split()
    tokens = got.split(maxsplit=len(wanted))  # one more than expected is enough to say "too many"
    if len(tokens) != len(wanted):
        return False
    for w, g in zip(wanted, tokens, strict=True):
        try:
            if Decimal(w) != Decimal(g):
                return False
        except (InvalidOperation, ValueError):  # not a number, or a signalling NaN refusing to compare
            return False
    return True


def stdout_matches(expected: str, actual: str) -> bool:
    """Same line count, and each line equal as a string or token by token as Decimal."""
    expected, actual = expected.strip(), actual.strip()
    if expected.count("\n") != actual.count("\n"):
        return False
    return all(
        want == got or _same_tokens(want, got)
        for want, got in zip(_lines(expected), _lines(actual), strict=True)
    )


def functional_matches(expected: str, encoded_result: str) -> bool:
    """``==`` between the expected JSON value and the (tuple-free) returned value."""
    try:
        return json.loads(expected) == json.loads(encoded_result)
    except (ValueError, RecursionError):
        return False
