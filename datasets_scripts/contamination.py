"""Contamination: word n-gram overlap between training problem statements and benchmark problems.

Statements are lower-cased and split into alphanumeric words; a training problem is flagged when it
shares at least ``min_shared`` word ``n``-grams (13 by default, the usual choice for decontamination)
with a benchmark problem. N-grams found in many benchmark problems (more than ``boilerplate_fraction``
of them, e.g. "the input is given from standard input in the following format") are ignored: they are
contest boilerplate, not problem content.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TYPE_CHECKING

from datasets_scripts.data import SPLITS, problem_key

if TYPE_CHECKING:
    import datasets

_WORD = re.compile(r"[a-z0-9]+")
_TOP = 20


def word_ngrams(text: str, n: int) -> set[str]:
    words = _WORD.findall(text.lower())
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def benchmark_statements(source: str | None = None) -> tuple[str, dict[str, str]]:
    """(where they came from, {question_id: question_content}) of a LiveCodeBench file or Hub dataset
    (default: the study's benchmark)."""
    from evaluation.benchmark import load_benchmark

    benchmark = load_benchmark(source, test_scope="public-only")
    statements = {p.question_id: p.question_content for p in benchmark.problems}
    return str(benchmark.provenance.get("source", source)), statements


def contamination_report(
    raw: datasets.Dataset,
    statements: dict[str, str],
    n: int = 13,
    min_shared: int = 1,
    boilerplate_fraction: float = 0.1,
) -> dict:
    """Per split: how many distinct problems (and rows) share n-grams with a benchmark problem."""
    index, boilerplate = benchmark_index(statements, n, boilerplate_fraction)
    first_row: dict[tuple[str, str], int] = {}  # (split, problem) -> its first row
    rows_of: dict[tuple[str, str], int] = defaultdict(int)
    for row, (text, split) in enumerate(zip(raw["input"], raw["split"], strict=True)):
        key = (split, problem_key(text))
        first_row.setdefault(key, row)
        rows_of[key] += 1
    matches = shared_ngrams(first_row, index, n, min_shared)
    flagged = {(m["split"], problem_key(raw[m["row"]]["input"])) for m in matches}
    per_split = {
        split: {
            "problems": sum(1 for s, _ in first_row if s == split),
            "contaminated_problems": sum(1 for s, _ in flagged if s == split),
            "contaminated_rows": sum(rows_of[k] for k in flagged if k[0] == split),
        }
        for split in SPLITS
    }
    return {
        "ngram": n,
        "min_shared": min_shared,
        "boilerplate_fraction": boilerplate_fraction,
        "benchmark_problems": len(statements),
        "boilerplate_ngrams_ignored": boilerplate,
        "benchmark_problems_matched": len({m["question_id"] for m in matches}),
        "per_split": per_split,
        "contaminated_train_problems": per_split["train"]["contaminated_problems"],
        "contaminated_train_rows": per_split["train"]["contaminated_rows"],
        "top_matches": matches[:_TOP],
    }


def benchmark_index(
    statements: dict[str, str], n: int, boilerplate_fraction: float
) -> tuple[dict[str, set[str]], int]:
    """n-gram -> the benchmark problems that contain it, without boilerplate (an n-gram in more than
    ``boilerplate_fraction`` of the problems); and how many n-grams were dropped as boilerplate."""
    owners: dict[str, set[str]] = defaultdict(set)
    for qid, text in statements.items():
        for gram in word_ngrams(text, n):
            owners[gram].add(qid)
    limit = max(1.0, boilerplate_fraction * len(statements))
    index = {gram: qids for gram, qids in owners.items() if len(qids) <= limit}
    return index, len(owners) - len(index)


def shared_ngrams(
    first_row: dict[tuple[str, str], int], index: dict[str, set[str]], n: int, min_shared: int
) -> list[dict]:
    """Every (training problem, benchmark problem) pair sharing at least ``min_shared`` n-grams, most first."""
    from tqdm.auto import tqdm

    matches = []
    for (split, key), row in tqdm(first_row.items(), desc="Contamination", disable=len(first_row) < 500):
        grams = word_ngrams(key, n)
        shared: dict[str, int] = defaultdict(int)
        for gram in grams & index.keys():
            for qid in index[gram]:
                shared[qid] += 1
        matches += [
            {
                "split": split,
                "row": row,
                "question_id": qid,
                "shared_ngrams": count,
                "fraction_of_problem": round(count / max(1, len(grams)), 4),
            }
            for qid, count in shared.items()
            if count >= min_shared
        ]
    return sorted(matches, key=lambda m: (-m["shared_ngrams"], m["row"]))
