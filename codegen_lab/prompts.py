"""Every chat message the project sends, in one place: training data, the evaluation and the Arena use it.

- ``study``: the original study's prompt (system = ``SYSTEM_PROMPT``, user = the statement); it is also
  what the training data is formatted with, so a model is trained on what the benchmark asks.
- ``lcb``: LiveCodeBench's prompt for Qwen-family chat models; problems with starter code (LeetCode's
  functional ones) get the starter code block instead of the stdin instruction, as LCB does.
"""

from __future__ import annotations

from collections.abc import Sequence

SYSTEM_PROMPT = (
    "You are an expert Python programmer. Please read the problem carefully before writing any Python code."
)
PROMPT_STYLES = ("study", "lcb")

LCB_SYSTEM = "You are a helpful assistant."
LCB_INTRO = (
    "You will be given a question (problem specification) and will generate a correct Python program that "
    "matches the specification and passes all tests. You will NOT return anything except for the program.\n\n"
)
LCB_STDIN_FORMAT = (
    "Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test on the "
    "sample inputs). Enclose your code within delimiters as follows. Ensure that when the python program runs, "
    "it reads the inputs, runs the algorithm and writes output to STDOUT."
)
LCB_STARTER_FORMAT = (
    "You will use the following starter code to write the solution to the problem and enclose your code "
    "within delimiters."
)


def lcb_user_prompt(question_content: str, starter_code: str = "") -> str:
    text = f"{LCB_INTRO}Question: {question_content}\n\n"
    if starter_code:
        return text + f"{LCB_STARTER_FORMAT}\n```python\n{starter_code}\n```\n\n"
    return text + f"{LCB_STDIN_FORMAT}\n```python\n# YOUR CODE HERE\n```\n\n"


def chat(system: str | None, user: str, history: Sequence[dict] = ()) -> list[dict]:
    """Every conversation this project sends: the system prompt (if any), earlier turns, the new message."""
    turns = [{"role": m["role"], "content": m["content"]} for m in history]
    return (
        ([{"role": "system", "content": system}] if system else [])
        + turns
        + [{"role": "user", "content": user}]
    )


def build_messages(question_content: str, starter_code: str = "", style: str = "study") -> list[dict]:
    """System + user messages for one problem in the given prompt style."""
    if style == "study":
        return chat(SYSTEM_PROMPT, question_content)
    if style == "lcb":
        return chat(LCB_SYSTEM, lcb_user_prompt(question_content, starter_code))
    raise ValueError(f"Unknown prompt style {style!r}; use one of {', '.join(PROMPT_STYLES)}.")
