"""Training data: validation, formatting, splits and leakage, reports, and prepare end to end."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from codegen_lab import SYSTEM_PROMPT
from datasets_scripts import (
    SAMPLES,
    DataValidationError,
    grouped_resplit,
    leakage_report,
    load_raw,
    load_training_splits,
    problem_key,
    split_by_column,
    to_conversation,
)

SAMPLE_CASE = re.compile(r"Sample Input (\d+)\n(.*?)\n\nSample Output \1\n(.*?)(?=\n\nSample Input|\Z)", re.S)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def sample_rows(kind: str = "deep") -> list[dict]:
    return [json.loads(line) for line in SAMPLES[kind].read_text().splitlines()]


# -- loading and validation ----------------------------------------------------------------------
def test_samples_load_with_the_raw_schema():
    deep, diverse = load_raw("sample:deep"), load_raw(str(SAMPLES["diverse"]))
    assert deep.column_names == ["input", "solution", "output", "difficulty", "split"]
    assert (len(deep), len({problem_key(t) for t in deep["input"]})) == (32, 8)
    assert (len(diverse), len({problem_key(t) for t in diverse["input"]})) == (32, 32)
    for raw in (deep, diverse):
        assert set(raw["split"]) == {"train", "valid", "test"}
        assert any(o.startswith("<think>") and "</think>" in o for o in raw["output"])


def test_every_sample_solution_passes_the_examples_in_its_statement():
    for kind in ("deep", "diverse"):
        for index, row in enumerate(sample_rows(kind)):
            cases = SAMPLE_CASE.findall(row["input"])
            assert cases, f"{kind} row {index} has no sample case"
            for _, given, expected in cases:
                run = subprocess.run(
                    [sys.executable, "-c", row["solution"]],
                    input=given + "\n",
                    capture_output=True,
                    text=True,
                    timeout=20,
                )
                assert run.stdout.strip() == expected.strip(), (kind, index, given, run.stderr)


def test_missing_column_names_the_file(tmp_path):
    rows = [{k: v for k, v in row.items() if k != "solution"} for row in sample_rows()[:3]]
    bad = write_jsonl(tmp_path / "no_solution.jsonl", rows)
    with pytest.raises(DataValidationError, match=r"no_solution\.jsonl: missing column\(s\) solution"):
        load_raw(str(bad))


def test_empty_fields_name_the_file_and_the_rows(tmp_path):
    rows = sample_rows()[:6]
    rows[2]["solution"] = "   "
    rows[4]["input"] = ""
    rows[5]["split"] = "dev"
    bad = write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(DataValidationError) as err:
        load_raw(str(bad))
    message = str(err.value)
    assert message.startswith(str(bad))
    assert "row 2: 'solution' is empty" in message and "row 4: 'input' is empty" in message
    assert "row 5: 'split' is 'dev'" in message and "row 0" not in message


def test_a_row_without_a_key_is_reported_by_index(tmp_path):
    rows = sample_rows()[:4]
    del rows[3]["input"]
    with pytest.raises(DataValidationError, match=r"row 3: 'input' is missing"):
        load_raw(str(write_jsonl(tmp_path / "partial.jsonl", rows)))


def test_unreadable_file_and_unknown_source(tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"input": "x", \n')
    with pytest.raises(DataValidationError, match="broken.jsonl: cannot be read"):
        load_raw(str(broken))
    with pytest.raises(DataValidationError, match="neither a file, a folder, nor a Hub dataset id"):
        load_raw("no-such-file.jsonl")


def test_parquet_and_hub_dataset_sources(tmp_path, local_hub):
    raw = load_raw("sample:diverse")
    raw.to_parquet(str(tmp_path / "diverse.parquet"))
    assert load_raw(str(tmp_path / "diverse.parquet"))["input"] == raw["input"]
    # A Hub dataset repo (the local hub stands in for the real one) holding the JSONL file.
    repo = local_hub / "Naholav" / "CodeGen-Diverse-5K" / "main"
    repo.mkdir(parents=True)
    (repo / "CodeGen-Diverse-5K.jsonl").write_text(SAMPLES["diverse"].read_text())
    (repo / "README.md").write_text("card")
    assert load_raw("diverse")["solution"] == raw["solution"]
    assert len(load_raw("Naholav/CodeGen-Diverse-5K@main")) == 32


# -- formatting ---------------------------------------------------------------------------------
def test_to_conversation_plain_and_think():
    row = sample_rows()[0]
    plain = to_conversation(row)["messages"]
    assert [m["role"] for m in plain] == ["system", "user", "assistant"]
    assert plain[0]["content"] == SYSTEM_PROMPT
    assert (plain[1]["content"], plain[2]["content"]) == (row["input"], row["solution"])
    thought = to_conversation(row, think=True)["messages"][2]["content"]
    assert thought == row["output"] and thought.startswith("<think>")


def test_think_variant_rejects_empty_outputs(tmp_path):
    rows = sample_rows()[:5]
    rows[1]["output"] = ""
    source = str(write_jsonl(tmp_path / "no_output.jsonl", rows))
    assert len(load_training_splits(source)["train"]) == 5
    with pytest.raises(DataValidationError, match=r"'output' is empty in 1 row\(s\) \(rows 1\)"):
        load_training_splits(source, think=True)


# -- splits and leakage -------------------------------------------------------------------------
def test_leakage_on_the_deep_sample():
    report = leakage_report(load_raw("sample:deep"))
    assert report["rows_per_split"] == {"train": 22, "valid": 6, "test": 4}
    assert report["leaked_problems"] == 2 and report["leaked_problems_valid"] == 2
    assert (report["leaked_rows_valid"], report["leaked_rows_test"], report["leaked_rows_train"]) == (2, 0, 6)
    assert leakage_report(load_raw("sample:diverse"))["leaked_problems"] == 0


def test_grouped_resplit_keeps_problems_whole_and_is_deterministic():
    raw = load_raw("sample:deep")
    first = grouped_resplit(raw, seed=7, valid_fraction=0.25, test_fraction=0.25)
    assert first["split"] == grouped_resplit(raw, seed=7, valid_fraction=0.25, test_fraction=0.25)["split"]
    assert first["input"] == raw["input"]
    report = leakage_report(first)
    assert report["problems_in_several_splits"] == 0
    assert report["problems_per_split"] == {"train": 4, "valid": 2, "test": 2}
    splits_by_seed = {tuple(grouped_resplit(raw, seed=s)["split"]) for s in range(6)}
    assert len(splits_by_seed) > 1
    with pytest.raises(ValueError, match="sum to < 1"):
        grouped_resplit(raw, valid_fraction=0.6, test_fraction=0.5)


def test_split_by_column_and_training_splits():
    raw = load_raw("sample:deep")
    by_column = split_by_column(raw)
    assert {k: len(v) for k, v in by_column.items()} == {"train": 22, "valid": 6, "test": 4}
    splits = load_training_splits("sample:deep", resplit=True, seed=3)
    assert list(splits) == ["train", "valid", "test"] and splits["train"].column_names == ["messages"]
    users = {name: {problem_key(r["messages"][1]["content"]) for r in rows} for name, rows in splits.items()}
    assert not (users["train"] & users["valid"]) and not (users["train"] & users["test"])
    assert sum(len(rows) for rows in splits.values()) == 32
