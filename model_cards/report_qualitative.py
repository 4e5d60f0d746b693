"""Qualitative prompts: a fixed small prompt set answered by each run's reported checkpoint, greedily."""

from __future__ import annotations

from model_cards.report_data import Checkpoint

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
    """[{prompt, answers: {run: text}}]: one base loaded once, each run's adapter switched in by name."""
    import torch
    from tqdm import tqdm

    from codegen_lab import SYSTEM_PROMPT
    from codegen_lab.models import load_model

    base = next(iter(checkpoints.values())).base
    adapter_names = {run: f"run{i}" for i, run in enumerate(checkpoints)}
    model, tokenizer = load_model(base, {adapter_names[run]: c.adapter for run, c in checkpoints.items()})
    results = []
    for prompt in tqdm(prompts, desc="qualitative prompts"):
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]
        batch = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        ).to(model.device)
        answers = {}
        for run in checkpoints:
            model.set_adapter(adapter_names[run])
            with torch.no_grad():
                out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False)
            answers[run] = tokenizer.decode(out[0, batch["input_ids"].shape[1] :], skip_special_tokens=True)
        results.append({"prompt": prompt, "answers": answers})
    return results
