"""Qualitative prompts: a fixed small prompt set answered by each run's reported checkpoint, greedily."""

from __future__ import annotations

from analysis.runs import Checkpoint

PROMPTS = [
    "Explain how binary search works, then implement it in Python.",
    "Compute the Euclidean distance between two points in Python in three different ways.",
    "Write a Python function that returns the n-th Fibonacci number, and say what its time complexity is.",
    "Read N integers from standard input and print how many of them are even.",
]


def unavailable_reason(checkpoints: dict[str, Checkpoint]) -> str | None:
    """Why the prompts cannot be answered (no loadable adapter or base), or None when they can."""
    missing = [run for run, c in checkpoints.items() if not c.adapter or not c.base]
    if not checkpoints:
        return "no run has a reported checkpoint."
    if missing:
        return (
            f"the reported checkpoints of {', '.join(missing)} have no loadable adapter (results-only input, "
            "e.g. published generations); only runs with adapter folders or Hub branches can be prompted."
        )
    if len({c.base for c in checkpoints.values()}) > 1:
        return "the runs were trained on different base models, so they cannot share one loaded base."
    return None


def answer_prompts(
    checkpoints: dict[str, Checkpoint], max_new_tokens: int, prompts: list[str] = PROMPTS
) -> list:
    """[{prompt, answers: {run: text}}]: one base loaded once, every (prompt, run) pair in mixed-adapter
    batches, decoded exactly as the benchmark decodes (evaluation.generate, greedy)."""
    from codegen_lab.models import load_model
    from codegen_lab.prompts import build_messages
    from evaluation.generate import Request, generate

    base = next(iter(checkpoints.values())).base
    adapter_names = {run: f"run{i}" for i, run in enumerate(checkpoints)}
    model, tokenizer = load_model(base, {adapter_names[run]: c.adapter for run, c in checkpoints.items()})
    pairs = [(prompt, run) for prompt in prompts for run in checkpoints]
    requests = [Request(build_messages(prompt), adapter_names[run]) for prompt, run in pairs]
    outputs = generate(model, tokenizer, requests, max_new_tokens=max_new_tokens)
    answers = {prompt: {} for prompt in prompts}
    for (prompt, run), (text,) in zip(pairs, outputs, strict=True):
        answers[prompt][run] = text
    return [{"prompt": prompt, "answers": answers[prompt]} for prompt in prompts]
