"""The dataset card (README.md) of a prepared dataset, from the prepare report."""

from __future__ import annotations

import json
from pathlib import Path

from datasets_scripts.data import SAMPLES, SPLITS, STUDY_SOURCES

OPEN_CODE_REASONING = "nvidia/OpenCodeReasoning"


def _size_category(n_rows: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n_rows < limit:
            return label
    return "100K<n<1M"


def provenance(source: str) -> tuple[list[str], str]:
    """(source_datasets for the metadata, the licensing paragraph) of a source."""
    if source in STUDY_SOURCES.values() or source.split("@")[0] in STUDY_SOURCES.values():
        repo = source.split("@")[0]
        return [repo, OPEN_CODE_REASONING], (
            f"Derived from [{repo}](https://huggingface.co/datasets/{repo}) (Apache-2.0), whose problems come "
            f"from [{OPEN_CODE_REASONING}](https://huggingface.co/datasets/{OPEN_CODE_REASONING}), released "
            "under **CC-BY-4.0**: keep its attribution when you reuse the problem statements."
        )
    if Path(source).resolve() in {p.resolve() for p in SAMPLES.values()}:
        return (
            [],
            "A small sample whose problems and solutions were written for codegen-lora-lab (Apache-2.0).",
        )
    return [], f"Built from `{source}`; check that source's license before publishing."


def render_dataset_card(report: dict, repo_id: str | None = None) -> str:
    """YAML metadata (license, sources, configs, sizes) and a body with counts and every report figure."""
    sections = [_about(report, repo_id), _splits(report), _overlaps(report), _usage(report, repo_id)]
    return f"---\n{card_metadata(report, repo_id).to_yaml()}\n---\n\n" + "\n\n".join(sections) + "\n"


def card_metadata(report: dict, repo_id: str | None):
    """The card's front matter: what the Hub shows and filters by, and the parquet files per split."""
    from huggingface_hub import DatasetCardData

    source_datasets, _ = provenance(report["options"]["source"])
    return DatasetCardData(
        language=["en"],
        license="apache-2.0",
        task_categories=["text-generation"],
        size_categories=[_size_category(sum(c["rows"] for c in report["counts"].values()))],
        source_datasets=source_datasets or None,
        pretty_name=repo_id.split("/")[-1] if repo_id else None,
        tags=["code", "competitive-programming", "python", "sft", "codegen-lora-lab"],
        configs=[
            {
                "config_name": "default",
                "data_files": [{"split": name, "path": f"data/{name}.parquet"} for name in SPLITS],
            }
        ],
    )


def _about(report: dict, repo_id: str | None) -> str:
    options = report["options"]
    _, license_text = provenance(options["source"])
    answer = (
        "the reasoning output (`<think>...</think>` then code)" if options["think"] else "the Python solution"
    )
    return f"""# {repo_id or "Prepared training data"}

Conversational SFT data for codegen-lora-lab: each row is `messages` = the fixed system prompt, the
problem statement (user) and {answer}
(assistant).

## Source and license

{license_text} This processed version is published under Apache-2.0.

## Columns

- `messages`: list of `{{"role", "content"}}` turns: `system`, `user`, `assistant`.

Raw columns it was built from: `input` (problem), `solution` (Python), `output` (reasoning then code),
`difficulty`, `split`."""


def _splits(report: dict) -> str:
    options, counts, lengths = report["options"], report["counts"], report["lengths"]
    count_rows = "\n".join(
        f"| {name} | {counts[name]['rows_before_length_filter']} | {counts[name]['rows']} "
        f"| {counts[name]['problems']} | {lengths[name].get('median', '-')} | {lengths[name].get('max', '-')} "
        f"| {lengths[name]['n_over_max_length']} |"
        for name in SPLITS
    )
    kept = "dropped" if options["too_long"] == "drop" else "kept (the trainer truncates them)"
    how = (
        f"grouped re-split by problem (seed {options['seed']})"
        if options["resplit"]
        else "the source's `split` column"
    )
    return f"""## Splits and sizes

Rows over `max_length` = {options["max_length"]} tokens under `{options["tokenizer"]}` were
**{kept}**
(dropping is the default: a truncated solution would teach the model to stop mid-program).

| split | rows before | rows | problems | median tokens | max tokens | over max_length |
| --- | --- | --- | --- | --- | --- | --- |
{count_rows}

Splits: {how}."""


def _overlaps(report: dict) -> str:
    leakage = report["leakage"]
    return f"""## Leakage (same problem statement in train and valid/test)

In the source's own split column: {leakage["leaked_problems"]} problem(s) appear in train and in
valid/test; {leakage["leaked_rows_valid"]} valid row(s) and {leakage["leaked_rows_test"]} test row(s) repeat a
training problem. {_after_resplit(report)}

## Contamination (overlap with the benchmark)

{_contamination_text(report.get("contamination"))}"""


def _usage(report: dict, repo_id: str | None) -> str:
    return f"""## How to load

```python
from datasets import load_dataset
data = load_dataset("{repo_id or "path/to/this/folder"}")
```

## How it was made

```bash
{report["command"]}
```

Full figures: `report.json`."""


def _after_resplit(report: dict) -> str:
    after = report.get("leakage_after_resplit")
    if after is None:
        return "Use `--resplit` to regroup whole problems into one split each."
    return f"After the grouped re-split: {after['problems_in_several_splits']} problem(s) in more than one split."


def _contamination_text(contamination: dict | None) -> str:
    if contamination is None:
        return "Not checked."
    per_split = contamination["per_split"]
    lines = [
        f"Word {contamination['ngram']}-gram overlap of problem statements with the "
        f"{contamination['benchmark_problems']} benchmark problems (`{contamination.get('benchmark_source')}`), "
        f"ignoring {contamination['boilerplate_ngrams_ignored']} boilerplate n-gram(s) common to more than "
        f"{contamination['boilerplate_fraction']:.0%} of them:",
        "",
        "| split | problems | problems overlapping | rows overlapping |",
        "| --- | --- | --- | --- |",
    ]
    for name in SPLITS:
        figures = per_split[name]
        lines.append(
            f"| {name} | {figures['problems']} | {figures['contaminated_problems']} | {figures['contaminated_rows']} |"
        )
    if contamination["top_matches"]:
        lines += ["", "Strongest matches: `" + json.dumps(contamination["top_matches"][:5]) + "`"]
    return "\n".join(lines)
