"""LiveCodeBench code-generation problems, from a local JSONL/parquet file or the Hub dataset.

The Hub dataset ``livecodebench/code_generation_lite`` is read without its loading script: the release's
JSONL files are downloaded through ``codegen_lab.hub`` and parsed here. Rows follow LCB's schema;
``private_test_cases`` is JSON or base64 -> zlib -> pickle -> JSON.

    from evaluation.benchmark import load_benchmark
    bench = load_benchmark(preset="study")               # the study's 41 AtCoder easy problems
    bench = load_benchmark("livecodebench/code_generation_lite", release="release_v6", platform="leetcode")
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import pickle
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from codegen_lab.paths import REPO_ROOT


@dataclass(frozen=True)
class TestCase:
    """One LiveCodeBench test."""

    __test__ = False  # not a pytest class

    input: str
    output: str
    testtype: str = "stdin"  # or "functional"


logger = logging.getLogger(__name__)

HUB_DATASET = "livecodebench/code_generation_lite"
# The study's 41 problems with their public tests, shipped with the project: the offline default.
STUDY_BENCHMARK = REPO_ROOT / "evaluation" / "data" / "lcb_v5_atcoder_easy_2408_2502.jsonl"
_FILES = ["test.jsonl", "test2.jsonl", "test3.jsonl", "test4.jsonl", "test5.jsonl", "test6.jsonl"]
RELEASE_FILES = {f"release_v{i}": _FILES[:i] for i in range(1, len(_FILES) + 1)} | {"release_latest": _FILES}
STUDY_PRESET = "study"
PRESETS = {
    STUDY_PRESET: {
        "filters": {
            "release": "release_v5",
            "platform": "atcoder",
            "difficulty": "easy",
            "start_date": "2024-08-01",
        },
        "expected_problems": 41,
    }
}
TEST_SCOPES = ("full", "public-only")
REQUIRED_FIELDS = (
    "question_id",
    "question_title",
    "question_content",
    "platform",
    "contest_date",
    "difficulty",
    "public_test_cases",
    "private_test_cases",
)


class BenchmarkError(ValueError):
    """A benchmark source, filter or row that cannot be used, named in the message."""


@dataclass
class Problem:
    question_id: str
    question_title: str
    question_content: str
    platform: str
    contest_id: str
    contest_date: str
    starter_code: str
    difficulty: str
    public_tests: list[TestCase]
    private_tests: list[TestCase]
    func_name: str | None = None

    def tests(self, scope: str = "full") -> list[TestCase]:
        """``full`` = public + private tests (LCB's grading), ``public-only`` = the samples alone."""
        if scope not in TEST_SCOPES:
            raise BenchmarkError(f"Unknown test scope {scope!r}; use one of {', '.join(TEST_SCOPES)}.")
        return self.public_tests + self.private_tests if scope == "full" else list(self.public_tests)


@dataclass
class Benchmark:
    problems: list[Problem]
    provenance: dict = field(default_factory=dict)


def default_benchmark_source() -> str:
    """The shipped 41-problem file (public tests only); the Hub dataset is one ``--benchmark`` away."""
    return str(STUDY_BENCHMARK)


def portable_name(path: Path) -> str:
    """How a local benchmark file is recorded: its path in the repo, else its file name (never the machine's path)."""
    path = path.resolve()
    return path.relative_to(REPO_ROOT).as_posix() if path.is_relative_to(REPO_ROOT) else path.name


def load_benchmark(
    source: str | None = None,
    preset: str | None = None,
    *,
    test_scope: str = "full",
    release: str | None = None,
    platform: str | None = None,
    difficulty: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    limit: int | None = None,
) -> Benchmark:
    """Problems from ``source`` (file path or ``repo_id[@revision]``), filtered; explicit filters beat the preset."""
    if test_scope not in TEST_SCOPES:
        raise BenchmarkError(f"Unknown test scope {test_scope!r}; use one of {', '.join(TEST_SCOPES)}.")
    if preset is not None and preset not in PRESETS:
        raise BenchmarkError(f"Unknown benchmark preset {preset!r}; known presets: {', '.join(PRESETS)}.")
    explicit = {"release": release, "platform": platform, "difficulty": difficulty}
    explicit |= {"start_date": start_date, "end_date": end_date}
    filters = (dict(PRESETS[preset]["filters"]) if preset else {}) | {
        k: v for k, v in explicit.items() if v is not None
    }
    source, rows, revision, notes = read_source(source or default_benchmark_source(), filters)
    problems = select(rows, source, filters)
    if limit is not None:
        problems = problems[:limit]
        filters["limit"] = limit
    expected = PRESETS[preset]["expected_problems"] if preset else None
    if expected is not None and limit is None and len(problems) != expected:
        notes.append(f"preset {preset!r} should give {expected} problems; this source gives {len(problems)}")
    if test_scope == "full" and problems and not any(p.private_tests for p in problems):
        notes.append("full scope asked, but the source has no private tests: judged on the public tests only")
        test_scope = "public-only"  # the label says what was judged, whatever was asked
    for note in notes:
        logger.warning("Benchmark: %s.", note)
    provenance = {"source": source, "revision": revision, "preset": preset, "filters": filters}
    provenance |= {"test_scope": test_scope, "n_problems": len(problems)} | count_tests(problems, test_scope)
    if notes:
        provenance["warning"] = "; ".join(notes)
    return Benchmark(problems, provenance)


def read_source(source: str, filters: dict) -> tuple[str, list[dict], str, list[str]]:
    """(how the source is recorded, its rows, its revision, notes) of a local file or a Hub dataset."""
    local = Path(source).expanduser()
    if local.is_file():
        notes = []
        if filters.get("release"):
            notes.append(
                f"release filter {filters['release']!r} not applied: a local file carries no release tag"
            )
        return portable_name(local), _read_local(local), _file_digest(local), notes
    if local.suffix in (".jsonl", ".json", ".parquet") or local.is_dir():
        raise BenchmarkError(
            f"Benchmark file {source} does not exist (or is a folder, not a JSONL/parquet file)."
        )
    rows, revision = _read_hub(source, filters.get("release") or "release_latest")
    return source, rows, revision, []


def select(rows: list[dict], where: str, filters: dict) -> list[Problem]:
    """The rows that pass the platform, difficulty and date filters, as problems by contest date."""
    start = _parse_date(filters.get("start_date"), "start date")
    end = _parse_date(filters.get("end_date"), "end date")
    problems = []
    for number, row in enumerate(rows, 1):
        problem = parse_row(row, where=f"{where} row {number}")
        if filters.get("platform") and problem.platform != filters["platform"]:
            continue
        if filters.get("difficulty") and problem.difficulty != filters["difficulty"]:
            continue
        contest_day = _parse_date(problem.contest_date[:10], f"contest_date of {problem.question_id}")
        if (start and contest_day < start) or (end and contest_day >= end):
            continue
        problems.append(problem)
    return sorted(problems, key=lambda p: (p.contest_date, p.question_id))


def count_tests(problems: list[Problem], scope: str) -> dict:
    """The test counts a provenance records."""
    return {
        "n_tests": sum(len(p.tests(scope)) for p in problems),
        "n_public_tests": sum(len(p.public_tests) for p in problems),
        "n_private_tests": sum(len(p.private_tests) for p in problems),
    }


def parse_row(row: dict, where: str = "row") -> Problem:
    """One LCB row -> Problem; every defect is reported with the row's question_id."""
    qid = row.get("question_id") or where
    missing = [name for name in REQUIRED_FIELDS if row.get(name) is None]
    if missing:
        raise BenchmarkError(f"Benchmark problem {qid}: missing field(s) {', '.join(missing)}.")
    try:
        metadata = row.get("metadata") or "{}"
        metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
        public = parse_tests(row["public_test_cases"])
        private = parse_tests(row["private_test_cases"])
    except (ValueError, TypeError, KeyError, zlib.error, pickle.UnpicklingError, EOFError) as err:
        raise BenchmarkError(f"Benchmark problem {qid}: cannot decode its test cases ({err}).") from err
    if not public and not private:
        raise BenchmarkError(f"Benchmark problem {qid}: it has no test cases.")
    func_name = metadata.get("func_name") or None
    if func_name is None and any(t.testtype == "functional" for t in public + private):
        raise BenchmarkError(f"Benchmark problem {qid}: functional tests but no func_name in its metadata.")
    return Problem(
        question_id=str(row["question_id"]),
        question_title=row["question_title"],
        question_content=row["question_content"],
        platform=row["platform"],
        contest_id=str(row.get("contest_id") or ""),
        contest_date=str(row["contest_date"]),
        starter_code=row.get("starter_code") or "",
        difficulty=row["difficulty"],
        public_tests=public,
        private_tests=private,
        func_name=func_name,
    )


def encode_private_tests(tests: list[dict]) -> str:
    """LCB's compressed form (JSON -> pickle -> zlib -> base64); used to build test fixtures."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode()


class _StringOnlyUnpickler(pickle.Unpickler):
    """The compressed tests pickle a plain str; refusing every class keeps pickle from running code."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a test-case pickle")


def parse_tests(value) -> list[TestCase]:
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith("["):
            payload = _StringOnlyUnpickler(io.BytesIO(zlib.decompress(base64.b64decode(text)))).load()
            if not isinstance(payload, str):
                raise ValueError(f"the decompressed tests are a {type(payload).__name__}, not JSON text")
            text = payload
        value = json.loads(text)
    if not isinstance(value, list):
        raise ValueError(f"tests must be a list, got {type(value).__name__}")
    tests = []
    for case in value:
        if not isinstance(case.get("input"), str) or not isinstance(case.get("output"), str):
            raise ValueError("a test case lacks a string 'input' or 'output'")
        testtype = case.get("testtype", "stdin")
        if testtype not in ("stdin", "functional"):
            raise ValueError(f"unknown testtype {testtype!r}")
        tests.append(TestCase(input=case["input"], output=case["output"], testtype=testtype))
    return tests


def _read_local(path: Path) -> list[dict]:
    if path.suffix == ".parquet":
        import pandas as pd

        return pd.read_parquet(path).to_dict(orient="records")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise BenchmarkError(f"Benchmark file {path} line {number} is not JSON ({err}).") from err
    return rows


def _read_hub(source: str, release: str) -> tuple[list[dict], str]:
    from codegen_lab.hub import Hub, HubError
    from codegen_lab.models import split_revision

    repo_id, revision = split_revision(source)
    if repo_id.count("/") != 1:
        raise BenchmarkError(
            f"Benchmark source {source!r} is neither an existing JSONL/parquet file nor a Hub dataset id "
            f"like {HUB_DATASET!r}."
        )
    if release not in RELEASE_FILES:
        raise BenchmarkError(f"Unknown release {release!r}; use one of {', '.join(RELEASE_FILES)}.")
    files = RELEASE_FILES[release]
    hub = Hub.from_env()
    try:
        folder = hub.download(repo_id, revision or "main", repo_type="dataset", allow_patterns=files)
    except HubError as err:
        raise BenchmarkError(str(err)) from err
    rows = []
    for name in files:
        if not (folder / name).is_file():
            raise BenchmarkError(f"{repo_id}@{revision or 'main'} has no {name}, needed for {release}.")
        rows.extend(_read_local(folder / name))
    # A real Hub snapshot folder is named after its commit; a local hub folder after its branch.
    return rows, folder.name if not hub.is_local else (revision or "main")


def _file_digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _parse_date(value: str | None, what: str) -> date | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value)[:10]).date()
    except ValueError as err:
        raise BenchmarkError(f"The {what} {value!r} is not an ISO date like 2024-08-01.") from err
