"""Benchmark loading: the study preset on the shipped file, Hub rows (encoded and plain), filters, bad rows."""

from __future__ import annotations

import base64
import json
import pickle
import zlib

import pytest

from evaluation.benchmark import (
    HUB_DATASET,
    STUDY_BENCHMARK,
    STUDY_PRESET,
    BenchmarkError,
    encode_private_tests,
    load_benchmark,
    parse_row,
)

SHARED_FILE = STUDY_BENCHMARK


def shared_rows() -> list[dict]:
    return [json.loads(line) for line in SHARED_FILE.read_text().splitlines()]


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_study_preset_on_shared_file_gives_the_41_problems():
    bench = load_benchmark(str(SHARED_FILE), STUDY_PRESET)
    ids = [p.question_id for p in bench.problems]
    assert len(ids) == 41 and len(set(ids)) == 41
    assert ids[0] == "abc365_a" and "abc372_b" not in ids
    assert all(p.platform == "atcoder" and p.difficulty == "easy" for p in bench.problems)
    info = bench.provenance
    assert info["n_problems"] == 41 and info["n_tests"] == 118 and info["n_private_tests"] == 0
    assert info["filters"]["start_date"] == "2024-08-01" and info["revision"].startswith("sha256:")
    assert "no private tests" in info["warning"] and "41" not in info["warning"]
    assert (
        load_benchmark(str(SHARED_FILE), STUDY_PRESET, test_scope="public-only").provenance["n_tests"] == 118
    )


def test_preset_says_so_when_a_source_yields_another_count(tmp_path):
    path = write_jsonl(tmp_path / "some.jsonl", shared_rows()[:5])
    bench = load_benchmark(str(path), STUDY_PRESET)
    assert len(bench.problems) == 5
    assert "should give 41 problems; this source gives 5" in bench.provenance["warning"]


def test_filters_date_window_is_start_inclusive_end_exclusive_and_limit():
    bench = load_benchmark(str(SHARED_FILE), start_date="2024-08-04", end_date="2024-08-18")
    assert sorted({p.contest_date[:10] for p in bench.problems}) == ["2024-08-04", "2024-08-11"]
    assert len(load_benchmark(str(SHARED_FILE), STUDY_PRESET, limit=3).problems) == 3
    assert load_benchmark(str(SHARED_FILE), platform="leetcode").problems == []
    # explicit filters override the preset's
    assert (
        load_benchmark(str(SHARED_FILE), STUDY_PRESET, start_date="2024-12-01").provenance["n_problems"] < 41
    )


def hub_rows() -> list[list[dict]]:
    """Six release files (test.jsonl ... test6.jsonl), one problem each, with private tests."""
    base = shared_rows()[:6]
    files = []
    for number, row in enumerate(base):
        row = dict(row)
        private = [{"input": f"{number}\n", "output": f"{number * 2}\n", "testtype": "stdin"}]
        # LCB ships most private tests compressed and some as plain JSON; cover both.
        row["private_test_cases"] = encode_private_tests(private) if number % 2 == 0 else json.dumps(private)
        files.append([row])
    functional = dict(base[0], question_id="3500", platform="leetcode", contest_date="2024-09-01T00:00:00")
    functional["starter_code"] = "class Solution:\n    def twice(self, x: int) -> int:\n        "
    functional["public_test_cases"] = json.dumps([{"input": "3", "output": "6", "testtype": "functional"}])
    functional["private_test_cases"] = encode_private_tests(
        [{"input": "4", "output": "8", "testtype": "functional"}]
    )
    functional["metadata"] = json.dumps({"func_name": "twice"})
    files[4].append(functional)
    return files


def test_hub_release_files_are_read_and_private_tests_decoded(local_hub):
    folder = local_hub / HUB_DATASET / "main"
    for number, rows in enumerate(hub_rows()):
        write_jsonl(folder / (f"test{number + 1}.jsonl" if number else "test.jsonl"), rows)

    bench = load_benchmark(HUB_DATASET, release="release_v5")
    assert len(bench.problems) == 6  # five files, the fifth with two problems; test6.jsonl left out
    assert bench.provenance["source"] == HUB_DATASET and bench.provenance["revision"] == "main"
    by_id = {p.question_id: p for p in bench.problems}
    for number, row in enumerate(shared_rows()[:5]):
        problem = by_id[row["question_id"]]
        assert [(t.input, t.output) for t in problem.private_tests] == [(f"{number}\n", f"{number * 2}\n")]
        assert problem.tests("full") == problem.public_tests + problem.private_tests
        assert problem.tests("public-only") == problem.public_tests
    leet = by_id["3500"]
    assert leet.func_name == "twice" and leet.private_tests[0].testtype == "functional"
    assert bench.provenance["n_private_tests"] == 6

    assert len(load_benchmark(HUB_DATASET, release="release_v1").problems) == 1
    assert len(load_benchmark(HUB_DATASET, release="release_v6").problems) == 7
    assert len(load_benchmark(HUB_DATASET, release="release_v6", platform="leetcode").problems) == 1
    assert len(load_benchmark(HUB_DATASET, release="release_latest").problems) == 7


def test_hub_errors_are_one_clear_sentence(local_hub):
    with pytest.raises(BenchmarkError, match="has no revision .main."):
        load_benchmark(HUB_DATASET, release="release_v5")
    write_jsonl(local_hub / HUB_DATASET / "main" / "test.jsonl", hub_rows()[0])
    with pytest.raises(BenchmarkError, match="has no test2.jsonl, needed for release_v2"):
        load_benchmark(HUB_DATASET, release="release_v2")
    with pytest.raises(BenchmarkError, match="Unknown release"):
        load_benchmark(HUB_DATASET, release="v9")
    with pytest.raises(BenchmarkError, match="does not exist"):
        load_benchmark("missing/bench.jsonl")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"question_content": None}, "abc365_a: missing field"),
        ({"private_test_cases": "bm90IHpsaWI="}, "abc365_a: cannot decode its test cases"),
        ({"public_test_cases": '[{"input": 1}]'}, "abc365_a: cannot decode"),
        ({"public_test_cases": "[]", "private_test_cases": "[]"}, "abc365_a: it has no test cases"),
        (
            {
                "metadata": "{}",
                "public_test_cases": json.dumps([{"input": "1", "output": "2", "testtype": "functional"}]),
            },
            "abc365_a: functional tests but no func_name",
        ),
    ],
)
def test_bad_rows_name_the_question_id(tmp_path, change, message):
    row = dict(shared_rows()[0], **change)
    with pytest.raises(BenchmarkError, match=message):
        parse_row(row)
    path = write_jsonl(tmp_path / "bad.jsonl", [*shared_rows()[1:3], row])
    with pytest.raises(BenchmarkError, match=message):
        load_benchmark(str(path))


def test_a_pickle_that_is_not_plain_text_is_refused():
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    payload = base64.b64encode(zlib.compress(pickle.dumps(Evil()))).decode()
    with pytest.raises(BenchmarkError, match="abc365_a: cannot decode.*refusing to load"):
        parse_row(dict(shared_rows()[0], private_test_cases=payload))


def test_parquet_source(tmp_path):
    import pandas as pd

    path = tmp_path / "bench.parquet"
    pd.DataFrame(shared_rows()[:4]).to_parquet(path)
    bench = load_benchmark(str(path))
    assert [p.question_id for p in bench.problems] == [r["question_id"] for r in shared_rows()[:4]]


def test_bad_arguments():
    with pytest.raises(BenchmarkError, match="Unknown benchmark preset"):
        load_benchmark(str(SHARED_FILE), "nope")
    with pytest.raises(BenchmarkError, match="Unknown test scope"):
        load_benchmark(str(SHARED_FILE), test_scope="private")
    with pytest.raises(BenchmarkError, match="not an ISO date"):
        load_benchmark(str(SHARED_FILE), start_date="August")


def test_shipped_file_is_the_default_recorded_portably_and_public_only(tmp_path):
    bench = load_benchmark(preset=STUDY_PRESET)  # no source: the file the repo ships, no Hub, no ../shared
    info = bench.provenance
    assert info["source"] == "evaluation/data/lcb_v5_atcoder_easy_2408_2502.jsonl"
    assert info["revision"] == load_benchmark(str(SHARED_FILE)).provenance["revision"]
    # asked for the full scope, but no private test exists: the label says what is judged
    assert info["test_scope"] == "public-only" and "no private tests" in info["warning"]
    problem = next(p for p in bench.problems if p.question_id == "abc372_a")
    assert problem.public_tests[2].input == "...\n" and problem.public_tests[2].output == "\n"
    # a copy elsewhere is named by its file name, never by the machine's path
    copy = write_jsonl(tmp_path / "deep" / "mine.jsonl", shared_rows()[:2])
    assert load_benchmark(str(copy)).provenance["source"] == "mine.jsonl"
