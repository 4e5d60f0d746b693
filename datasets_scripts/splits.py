"""Train/valid/test splits: by the ``split`` column, a leakage count, and a grouped re-split by problem.

CodeGen-Deep-5K holds each problem five times (five solutions), and its ``split`` column was assigned
per row, so one problem can sit in train and in valid/test at once. ``leakage_report`` counts that;
``grouped_resplit`` reassigns whole problems so no statement appears in two splits.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import TYPE_CHECKING

from datasets_scripts.data import SPLITS, problem_key

if TYPE_CHECKING:
    import datasets


def split_by_column(raw: datasets.Dataset) -> datasets.DatasetDict:
    """train/valid/test as the ``split`` column says (a split with no rows is present and empty)."""
    import datasets

    labels = raw["split"]
    return datasets.DatasetDict(
        {name: raw.select([i for i, label in enumerate(labels) if label == name]) for name in SPLITS}
    )


def leakage_report(raw: datasets.Dataset) -> dict:
    """How many problems (and rows) of valid/test also occur in train, by normalised statement."""
    splits_of: dict[str, set[str]] = defaultdict(set)
    rows_per_split: dict[str, int] = defaultdict(int)
    keys = [problem_key(text) for text in raw["input"]]
    for key, split in zip(keys, raw["split"], strict=True):
        splits_of[key].add(split)
        rows_per_split[split] += 1
    report: dict = {
        "n_rows": len(keys),
        "n_problems": len(splits_of),
        "rows_per_split": {name: rows_per_split[name] for name in SPLITS},
        "problems_per_split": {name: sum(name in s for s in splits_of.values()) for name in SPLITS},
    }
    leaked = {key for key, where in splits_of.items() if "train" in where and len(where) > 1}
    report["leaked_problems"] = len(leaked)
    for name in ("valid", "test"):
        report[f"leaked_problems_{name}"] = sum(1 for key in leaked if name in splits_of[key])
        report[f"leaked_rows_{name}"] = sum(
            1 for key, split in zip(keys, raw["split"], strict=True) if split == name and key in leaked
        )
    report["leaked_rows"] = report["leaked_rows_valid"] + report["leaked_rows_test"]
    report["leaked_rows_train"] = sum(
        1 for key, split in zip(keys, raw["split"], strict=True) if split == "train" and key in leaked
    )
    report["problems_in_several_splits"] = sum(1 for where in splits_of.values() if len(where) > 1)
    return report


def grouped_resplit(
    raw: datasets.Dataset, seed: int = 42, valid_fraction: float = 0.05, test_fraction: float = 0.10
) -> datasets.Dataset:
    """The same rows with a new ``split`` column: whole problems go to one split, chosen by a seeded
    shuffle of the sorted distinct statements (so the result depends only on the data and the seed).
    A non-zero fraction gets at least one problem when there are enough problems."""
    if min(valid_fraction, test_fraction) < 0 or valid_fraction + test_fraction >= 1:
        raise ValueError(
            f"valid_fraction={valid_fraction} and test_fraction={test_fraction} must be >= 0 and sum to < 1."
        )
    keys = [problem_key(text) for text in raw["input"]]
    problems = sorted(set(keys))
    random.Random(seed).shuffle(problems)
    n_valid = _share(len(problems), valid_fraction)
    n_test = _share(len(problems), test_fraction)
    if n_valid + n_test >= len(problems):
        raise ValueError(f"{len(problems)} problems are too few to hold out {n_valid} + {n_test} of them.")
    assigned = {key: "valid" for key in problems[:n_valid]}
    assigned.update({key: "test" for key in problems[n_valid : n_valid + n_test]})
    new_splits = [assigned.get(key, "train") for key in keys]
    return raw.remove_columns("split").add_column("split", new_splits)


def _share(n_problems: int, fraction: float) -> int:
    return 0 if fraction == 0 else max(1, round(n_problems * fraction))
