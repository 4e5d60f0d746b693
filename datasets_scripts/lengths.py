"""Token lengths of chat-formatted rows under the base model's tokenizer, and the too-long policy.

A row longer than ``max_length`` is **dropped** by default: the trainer would otherwise cut it at
``max_length`` and teach the model programs that stop mid-line. ``truncate`` keeps such rows and lets
the trainer truncate them (the original study's behaviour).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codegen_lab import EMBEDDED_MODEL

if TYPE_CHECKING:
    import datasets

TOO_LONG_POLICIES = ("drop", "truncate")
DEFAULT_MAX_LENGTH = 1024
_BATCH = 256


def load_tokenizer(tokenizer: Any = None) -> Any:
    """A tokenizer object from a model name or folder (default: the embedded model's), or as given."""
    if tokenizer is not None and not isinstance(tokenizer, str):
        return tokenizer
    from transformers import AutoTokenizer

    from codegen_lab.models import resolve_model_path

    return AutoTokenizer.from_pretrained(resolve_model_path(tokenizer or EMBEDDED_MODEL))


def token_lengths(conversations: datasets.Dataset, tokenizer: Any) -> list[int]:
    """The number of tokens of each whole conversation (system, user, assistant) as training sees it."""
    from tqdm.auto import tqdm

    lengths: list[int] = []
    messages = conversations["messages"]
    for start in tqdm(range(0, len(messages), _BATCH), desc="Tokenizing", disable=len(messages) <= _BATCH):
        batch = messages[start : start + _BATCH]
        texts = [tokenizer.apply_chat_template(m, tokenize=False) for m in batch]
        lengths.extend(len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"])
    return lengths


def length_report(lengths: list[int], max_length: int = DEFAULT_MAX_LENGTH) -> dict:
    """Summary figures of a list of token lengths and how many exceed ``max_length``."""
    if not lengths:
        return {"n_rows": 0, "max_length": max_length, "n_over_max_length": 0}
    ordered = sorted(lengths)

    def quantile(q: float) -> int:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    over = sum(1 for n in lengths if n > max_length)
    return {
        "n_rows": len(lengths),
        "min": ordered[0],
        "median": quantile(0.5),
        "p90": quantile(0.9),
        "p99": quantile(0.99),
        "max": ordered[-1],
        "mean": round(sum(lengths) / len(lengths), 1),
        "max_length": max_length,
        "n_over_max_length": over,
        "fraction_over_max_length": round(over / len(lengths), 4),
    }


def apply_length_policy(
    conversations: datasets.Dataset, lengths: list[int], max_length: int, policy: str = "drop"
) -> datasets.Dataset:
    """Drop the rows over ``max_length`` (``drop``) or keep them all for the trainer to cut (``truncate``)."""
    if policy not in TOO_LONG_POLICIES:
        raise ValueError(f"Unknown too-long policy {policy!r}; use one of {', '.join(TOO_LONG_POLICIES)}.")
    if policy == "truncate":
        return conversations
    return conversations.select([i for i, n in enumerate(lengths) if n <= max_length])
