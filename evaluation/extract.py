"""Pull the program out of a model's answer.

Rules, first that yields compilable code wins (the rule is recorded in results):
`fenced`: the last ```python / ```py / plain ``` block that compiles; `whole`: the whole answer;
`trimmed`: the answer with leading/trailing prose lines dropped; `none`: nothing compiles -> "".
`<think>...</think>` reasoning is removed first. Compiling only parses; nothing is executed here.
"""

from __future__ import annotations

import re
import warnings

THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL)
FENCE = re.compile(r"^\s*```+\s*([\w+-]*)")
PYTHON_TAGS = {"", "python", "python3", "py", "py3"}
MAX_TRIM_TRIES = 2000


def compiles(code: str) -> bool:
    if not code.strip():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. invalid escape sequences in prose
        try:
            compile(code, "<answer>", "exec")
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            return False
    return True


def strip_think(text: str) -> str:
    """Drop reasoning blocks; an unclosed one runs to the end. A lone `</think>` ends the reasoning."""
    text = THINK.sub("", text)
    return text.rsplit("</think>", 1)[-1]


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language tag, body) of each ``` block; an unclosed last block runs to the end."""
    blocks, tag, body = [], None, []
    for line in text.split("\n"):
        match = FENCE.match(line)
        if tag is None:
            if match:
                tag, body = match.group(1).lower(), []
        elif match and not match.group(1):
            blocks.append((tag, "\n".join(body)))
            tag = None
        else:
            body.append(line)
    if tag is not None:
        blocks.append((tag, "\n".join(body)))
    return blocks


def is_code_line(line: str) -> bool:
    """A line that could be Python on its own or as a block header (prose lines fail both)."""
    stripped = line.strip()
    return compiles(stripped) or compiles(stripped + "\n    pass")


def trim_prose(text: str) -> str:
    """Shortest drop of leading/trailing non-code lines after which the rest compiles, else ""."""
    lines = text.strip("\n").split("\n")
    max_lead = next((i for i, line in enumerate(lines) if line.strip() and is_code_line(line)), len(lines))
    max_tail = next(
        (i for i, line in enumerate(reversed(lines)) if line.strip() and is_code_line(line)), len(lines)
    )
    if max_lead == len(lines):
        return ""
    fast = "\n".join(lines[max_lead : len(lines) - max_tail])
    if compiles(fast) and max_lead + max_tail <= 2:
        return fast.strip("\n") + "\n"
    tries = 0
    for dropped in range(1, max_lead + max_tail + 1):
        for lead in range(max(0, dropped - max_tail), min(dropped, max_lead) + 1):
            tries += 1
            candidate = "\n".join(lines[lead : len(lines) - (dropped - lead)])
            if compiles(candidate):
                return candidate.strip("\n") + "\n"
            if tries >= MAX_TRIM_TRIES:
                return ""
    return ""


def extract_code(text: str) -> tuple[str, str]:
    """(code, rule) with rule in fenced | whole | trimmed | none."""
    text = strip_think(text)
    for tag, body in reversed(fenced_blocks(text)):
        if tag in PYTHON_TAGS and compiles(body):
            return body.strip("\n") + "\n", "fenced"
    if compiles(text):
        return text.strip("\n") + "\n", "whole"
    trimmed = trim_prose(text)
    if trimmed:
        return trimmed, "trimmed"
    return "", "none"
