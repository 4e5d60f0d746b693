"""The one call the trainer makes for its data: raw source -> train/valid/test conversations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from datasets_scripts.data import load_raw, to_conversations
from datasets_scripts.lengths import apply_length_policy, load_tokenizer, token_lengths
from datasets_scripts.splits import grouped_resplit, split_by_column

if TYPE_CHECKING:
    import datasets

    from codegen_lab.hub import Hub


def load_training_splits(
    source: str,
    think: bool = False,
    resplit: bool = False,
    seed: int = 42,
    max_length: int | None = None,
    tokenizer: Any = None,
    too_long: str = "drop",
    valid_fraction: float = 0.05,
    test_fraction: float = 0.10,
    hub: Hub | None = None,
) -> datasets.DatasetDict:
    """train/valid/test DatasetDict whose only column is ``messages``.

    ``source``: a Hub dataset id, a local file/folder, ``deep``/``diverse`` (the study's datasets) or
    ``sample:deep``/``sample:diverse`` (the shipped samples). ``resplit`` regroups by problem so no
    statement sits in two splits. With ``max_length`` set, rows longer than that under ``tokenizer``
    (a tokenizer object, a model name, or None for the embedded model's) are dropped, unless
    ``too_long="truncate"``, which keeps them for the trainer to cut.
    """
    import datasets

    raw = load_raw(source, hub=hub)
    if resplit:
        raw = grouped_resplit(raw, seed=seed, valid_fraction=valid_fraction, test_fraction=test_fraction)
    result = datasets.DatasetDict()
    tok = load_tokenizer(tokenizer) if max_length is not None else None
    for name, rows in split_by_column(raw).items():
        conversations = to_conversations(rows, think=think, name=f"{source} [{name}]")
        if tok is not None:
            lengths = token_lengths(conversations, tok)
            conversations = apply_length_policy(conversations, lengths, max_length, too_long)
        result[name] = conversations
    return result
