"""Load and validate raw training rows, and turn them into conversations.

Raw rows have the columns ``input`` (problem), ``solution`` (Python), ``output`` (reasoning in
``<think>...</think>`` then code), ``difficulty`` and ``split`` (train/valid/test). A source is a Hub
dataset id (``Naholav/CodeGen-Deep-5K``, optionally ``@revision``), a local JSONL/parquet file, or a
folder of them. A bad file stops everything with one error naming the file and the rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from codegen_lab.prompts import build_messages  # the study's prompt: what the benchmark asks, trained on

if TYPE_CHECKING:
    import datasets

    from codegen_lab.hub import Hub

REQUIRED_COLUMNS = ("input", "solution", "output", "difficulty", "split")
SPLITS = ("train", "valid", "test")
STUDY_SOURCES = {"deep": "Naholav/CodeGen-Deep-5K", "diverse": "Naholav/CodeGen-Diverse-5K"}
SAMPLE_DIR = Path(__file__).resolve().parent / "sample"
SAMPLES = {"deep": SAMPLE_DIR / "deep_sample.jsonl", "diverse": SAMPLE_DIR / "diverse_sample.jsonl"}
_DATA_SUFFIXES = (".parquet", ".jsonl", ".json")
_SHOWN_ERRORS = 5


class DataValidationError(ValueError):
    """A data file that cannot be used, naming the file, the rows and what is wrong with them."""


def load_raw(source: str, hub: Hub | None = None) -> datasets.Dataset:
    """All raw rows of a source as one validated ``datasets.Dataset``."""
    import datasets

    files = _data_files(source, hub)
    parts = []
    for path in files:
        part = _read_file(path)
        validate_raw(part, str(path))
        parts.append(part.select_columns(list(REQUIRED_COLUMNS)))
    return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)


def validate_raw(dataset: datasets.Dataset, name: str) -> None:
    """Raise one DataValidationError listing missing columns or the first bad rows of ``name``."""
    missing = [c for c in REQUIRED_COLUMNS if c not in dataset.column_names]
    if missing:
        raise DataValidationError(
            f"{name}: missing column(s) {', '.join(missing)} (row 0 onwards); a raw training file needs "
            f"the columns {', '.join(REQUIRED_COLUMNS)}."
        )
    if len(dataset) == 0:
        raise DataValidationError(f"{name}: the file has no rows.")
    problems = []
    columns = dataset.select_columns(["input", "solution", "split"]).to_dict()
    for index, (text, solution, split) in enumerate(
        zip(columns["input"], columns["solution"], columns["split"], strict=True)
    ):
        for column, value in (("input", text), ("solution", solution)):
            if value is None:
                problems.append(f"row {index}: '{column}' is missing")
            elif not str(value).strip():
                problems.append(f"row {index}: '{column}' is empty")
        if split not in SPLITS:
            problems.append(f"row {index}: 'split' is {split!r}, expected one of {', '.join(SPLITS)}")
    if problems:
        more = f" (and {len(problems) - _SHOWN_ERRORS} more)" if len(problems) > _SHOWN_ERRORS else ""
        raise DataValidationError(f"{name}: {'; '.join(problems[:_SHOWN_ERRORS])}{more}.")


def to_conversation(row: dict[str, Any], think: bool = False) -> dict[str, list[dict[str, str]]]:
    """System prompt, the problem as the user turn, the solution (or, with ``think``, the reasoning
    output) as the assistant turn."""
    answer = row["output"] if think else row["solution"]
    if not answer or not str(answer).strip():
        column = "output" if think else "solution"
        raise DataValidationError(f"Row with input {row['input'][:60]!r}... has an empty '{column}'.")
    return {"messages": [*build_messages(row["input"]), {"role": "assistant", "content": answer}]}


def to_conversations(raw: datasets.Dataset, think: bool = False, name: str = "dataset") -> datasets.Dataset:
    """The rows as conversations (only the ``messages`` column), checking every assistant turn first."""
    column = "output" if think else "solution"
    empty = [i for i, value in enumerate(raw[column]) if value is None or not str(value).strip()]
    if empty:
        shown = ", ".join(str(i) for i in empty[:_SHOWN_ERRORS])
        raise DataValidationError(
            f"{name}: '{column}' is empty in {len(empty)} row(s) (rows {shown}); "
            f"{'the think variant needs the reasoning output' if think else 'every row needs a solution'}."
        )
    return raw.map(
        to_conversation, fn_kwargs={"think": think}, remove_columns=raw.column_names, desc="Formatting"
    )


def problem_key(text: str) -> str:
    """The identity of a problem: its statement with whitespace normalised."""
    return " ".join(text.split())


def resolve_source(source: str) -> str:
    """``deep``/``diverse`` name the study datasets, ``sample:deep``/``sample:diverse`` the shipped
    samples; anything else is returned unchanged."""
    if source.startswith("sample:"):
        return str(SAMPLES[source.split(":", 1)[1]])
    return STUDY_SOURCES.get(source, source)


def _data_files(source: str, hub: Hub | None) -> list[Path]:
    source = resolve_source(source)
    path = Path(source).expanduser()
    if path.is_file():
        return [path]
    if not path.is_dir():
        if path.suffix in _DATA_SUFFIXES or source.startswith(("/", ".", "~")):
            raise DataValidationError(f"{source}: no such file or folder.")
        from codegen_lab.hub import Hub
        from codegen_lab.models import split_revision

        repo_id, revision = split_revision(source)
        if repo_id.count("/") != 1:
            raise DataValidationError(
                f"Data source {source!r} is neither a file, a folder, nor a Hub dataset id like "
                f"'{STUDY_SOURCES['deep']}'."
            )
        path = (hub or Hub.from_env()).download(
            repo_id,
            revision or "main",
            repo_type="dataset",
            allow_patterns=[f"*{suffix}" for suffix in _DATA_SUFFIXES],
        )
    found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in _DATA_SUFFIXES)
    parquet = [p for p in found if p.suffix == ".parquet"]
    files = parquet or found
    if not files:
        raise DataValidationError(f"{path} holds no .parquet, .jsonl or .json data file for {source!r}.")
    return files


def _read_file(path: Path) -> datasets.Dataset:
    import datasets

    kind = "parquet" if path.suffix == ".parquet" else "json"
    try:
        return datasets.load_dataset(kind, data_files=str(path), split="train")
    except Exception as err:  # pyarrow/json errors carry no file name of their own
        raise DataValidationError(f"{path}: cannot be read as {kind} ({type(err).__name__}: {err}).") from err
