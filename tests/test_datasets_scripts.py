"""Training data: validation, formatting, splits and leakage, reports, and prepare end to end."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from codegen_lab.paths import REPO_ROOT
from codegen_lab.prompts import SYSTEM_PROMPT
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
from evaluation.benchmark import STUDY_BENCHMARK

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
    with pytest.raises(DataValidationError, match="no-such-file.jsonl: no such file or folder"):
        load_raw("no-such-file.jsonl")
    with pytest.raises(DataValidationError, match="neither a file, a folder, nor a Hub dataset id"):
        load_raw("no-such-dataset")


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


# -- contamination ------------------------------------------------------------------------------
def test_contamination_finds_a_planted_benchmark_passage(tmp_path):
    from datasets_scripts.contamination import benchmark_statements, contamination_report

    source, statements = benchmark_statements(str(STUDY_BENCHMARK))
    assert (
        len(statements) == 41 and source == "evaluation/data/lcb_v5_atcoder_easy_2408_2502.jsonl"
    )  # portable
    rows = sample_rows("diverse")
    clean = contamination_report(load_raw(str(write_jsonl(tmp_path / "clean.jsonl", rows))), statements)
    assert clean["contaminated_train_problems"] == 0 and clean["top_matches"] == []
    assert (
        clean["boilerplate_ngrams_ignored"] > 0
    )  # "the input is given from standard input ..." is not content
    # Plant 20 words of a benchmark statement into one training problem and one test problem.
    passage = " ".join(statements["abc365_a"].split()[:20])
    rows[3]["input"] = rows[3]["input"] + "\n\n" + passage
    rows[30]["input"] = passage.upper() + "\n\n" + rows[30]["input"]
    report = contamination_report(load_raw(str(write_jsonl(tmp_path / "planted.jsonl", rows))), statements)
    assert report["per_split"]["train"] == {
        "problems": 24,
        "contaminated_problems": 1,
        "contaminated_rows": 1,
    }
    assert report["per_split"]["test"]["contaminated_problems"] == 1
    assert report["per_split"]["valid"]["contaminated_problems"] == 0
    assert {(m["row"], m["question_id"]) for m in report["top_matches"]} == {
        (3, "abc365_a"),
        (30, "abc365_a"),
    }
    assert all(m["shared_ngrams"] >= 1 for m in report["top_matches"])
    assert (
        contamination_report(load_raw(str(tmp_path / "planted.jsonl")), statements, n=25)["top_matches"] == []
    )


# -- token lengths ------------------------------------------------------------------------------
def test_length_report_and_drop_or_truncate(tiny_model_dir):
    from datasets_scripts.lengths import apply_length_policy, length_report, load_tokenizer, token_lengths

    tokenizer = load_tokenizer(str(tiny_model_dir))
    conversations = load_training_splits("sample:diverse")["train"]
    lengths = token_lengths(conversations, tokenizer)
    text = tokenizer.apply_chat_template(conversations[0]["messages"], tokenize=False)
    assert lengths[0] == len(tokenizer(text, add_special_tokens=False)["input_ids"])
    assert text.count("<|im_start|>") == 3 and SYSTEM_PROMPT in text
    limit = sorted(lengths)[len(lengths) // 2]
    over = sum(n > limit for n in lengths)
    report = length_report(lengths, max_length=limit)
    assert 0 < over < len(lengths) and report["n_over_max_length"] == over
    assert report["min"] <= report["median"] <= report["max"] == max(lengths)
    assert len(apply_length_policy(conversations, lengths, limit, "drop")) == len(lengths) - over
    assert len(apply_length_policy(conversations, lengths, limit, "truncate")) == len(lengths)
    with pytest.raises(ValueError, match="Unknown too-long policy"):
        apply_length_policy(conversations, lengths, limit, "cut")
    dropped = load_training_splits("sample:diverse", max_length=limit, tokenizer=tokenizer)["train"]
    assert len(dropped) == len(lengths) - over


# -- prepare end to end ---------------------------------------------------------------------------
def test_prepare_cli_writes_data_report_card_and_pushes(tmp_path, tiny_model_dir, local_hub):
    import datasets
    from huggingface_hub import DatasetCard, metadata_load

    # The study's Hub dataset id, served by the local hub with the deep sample in it.
    repo = local_hub / "Naholav" / "CodeGen-Deep-5K" / "main"
    repo.mkdir(parents=True)
    (repo / "CodeGen-Deep-5K.jsonl").write_text(SAMPLES["deep"].read_text())
    out = tmp_path / "prepared"
    command = [sys.executable, "-m", "datasets_scripts.prepare", "--source", "deep", "--output_dir", str(out)]
    command += ["--resplit", "--seed", "3", "--valid_fraction", "0.25", "--test_fraction", "0.25"]
    command += [
        "--tokenizer",
        str(tiny_model_dir),
        "--max_length",
        "400",
        "--push_to_hub",
        "--hub_repo",
        "me/deep-sft",
    ]
    run = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    assert report["leakage"]["leaked_problems"] == 2
    assert report["leakage_after_resplit"]["problems_in_several_splits"] == 0
    assert report["contamination"]["per_split"]["train"]["contaminated_problems"] == 0
    assert report["options"]["source"] == "Naholav/CodeGen-Deep-5K"
    counts = report["counts"]
    assert {name: c["problems"] for name, c in counts.items()} == {"train": 4, "valid": 2, "test": 2}
    n_over = sum(report["lengths"][name]["n_over_max_length"] for name in counts)
    assert n_over > 0 and sum(c["rows"] for c in counts.values()) == 32 - n_over
    data = datasets.load_dataset(str(out))
    assert {name: len(rows) for name, rows in data.items()} == {name: c["rows"] for name, c in counts.items()}
    assert data["train"][0]["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    card = DatasetCard((out / "README.md").read_text()).data
    assert card.license == "apache-2.0"
    assert card.source_datasets == ["Naholav/CodeGen-Deep-5K", "nvidia/OpenCodeReasoning"]
    text = (out / "README.md").read_text()
    assert "CC-BY-4.0" in text and "2 problem(s) appear in train" in text and "**dropped**" in text
    pushed = local_hub / "me" / "deep-sft" / "main"
    assert metadata_load(pushed / "README.md")["license"] == "apache-2.0"
    assert (pushed / "data" / "train.parquet").read_bytes() == (out / "data" / "train.parquet").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hub", "prepared"]  # no staging folder left


def test_prepare_on_a_bad_file_leaves_the_old_output_untouched(tmp_path, tiny_model_dir):
    from datasets_scripts.prepare import PrepareArguments, main

    out = tmp_path / "prepared"
    args = PrepareArguments(
        source="sample:diverse",
        output_dir=str(out),
        tokenizer=str(tiny_model_dir),
        skip_contamination=True,
        think=True,
    )
    report = main(args)
    assert report["counts"]["train"]["rows"] == 24 and "contamination" not in report
    assert "reasoning output" in (out / "README.md").read_text()
    before = (out / "data" / "train.parquet").read_bytes()
    rows = sample_rows("diverse")
    rows[7]["solution"] = ""
    bad = write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(DataValidationError, match=r"bad.jsonl: row 7: 'solution' is empty"):
        main(PrepareArguments(source=str(bad), output_dir=str(out), tokenizer=str(tiny_model_dir)))
    assert (out / "data" / "train.parquet").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl", "hub", "prepared"]


def test_prepare_cli_reports_a_bad_file_in_one_line(tmp_path):
    rows = sample_rows("deep")
    del rows[5]["split"]
    bad = write_jsonl(tmp_path / "bad.jsonl", rows)
    command = [
        sys.executable,
        "-m",
        "datasets_scripts.prepare",
        "--source",
        str(bad),
        "--output_dir",
        str(tmp_path / "o"),
    ]
    run = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert (
        run.stderr.strip().splitlines()[-1]
        == f"error: {bad}: row 5: 'split' is None, expected one of train, valid, test."
    )
    assert not (tmp_path / "o").exists()
