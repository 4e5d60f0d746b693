"""The results file: one JSON per evaluated model, written incrementally and resumable.

While a model is evaluated, each finished problem is appended to ``<slug>.partial.jsonl`` (first line
= the run's header: model, benchmark, config). A rerun with the same header skips those problems.
When every problem is done, ``<slug>.json`` is written to a temporary name and renamed into place,
then the partial file is removed.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from codegen_lab.atomic import write_json_atomic, write_text_atomic
from codegen_lab.naming import slugify
from evaluation.metrics import pass_at_1_interval, pass_at_k, pass_at_ks

SCHEMA = "codegen-lora-lab/results/v1"
PACKAGES = ("torch", "transformers", "peft", "trl", "datasets", "evaluate", "huggingface_hub", "vllm")


class ResultsError(ValueError):
    """A results file that cannot be read or resumed, named in the message."""


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def results_path(out_dir: str | Path, model_name: str) -> Path:
    return Path(out_dir) / f"{slugify(model_name)}.json"


def partial_path(final: Path) -> Path:
    return final.with_name(final.name[: -len(".json")] + ".partial.jsonl")


def problem_record(question_id: str, samples: list[dict]) -> dict:
    """One problem's entry; ``samples`` hold output, code, extraction, passed, tests."""
    n_passed = sum(1 for s in samples if s["passed"])
    return {
        "question_id": question_id,
        "n": len(samples),
        "n_passed": n_passed,
        "pass@1": pass_at_k(len(samples), n_passed, 1),
        "samples": samples,
    }


def summarize(problems: list[dict]) -> dict:
    """The metrics block: pass@1 with its 95 % interval over problems, pass@k, problems solved."""
    counts = [(p["n"], p["n_passed"]) for p in problems]
    ks = pass_at_ks(counts) if problems else {}
    interval, method = pass_at_1_interval(counts) if problems else ((0.0, 1.0), "wilson")
    return {
        "pass@1": ks.get("1", 0.0),
        "pass@1_ci95": list(interval),
        "pass@1_ci95_method": method,
        "pass@k": ks,
        "n_problems": len(problems),
        "n_solved": sum(1 for _, c in counts if c > 0),
    }


def build_results(header: dict, problems: list[dict]) -> dict:
    """A complete results document from the run header and per-problem records."""
    return {
        "schema": SCHEMA,
        "model": header["model"],
        "benchmark": header["benchmark"],
        "config": header["config"],
        "metrics": summarize(problems),
        "problems": problems,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def read_results(path: str | Path) -> dict:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ResultsError(f"Results file {path} does not exist.") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ResultsError(f"Results file {path} is not valid JSON ({err}).") from err
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ResultsError(f"{path} is not a results file (no schema {SCHEMA!r}).")
    return data


def is_results_file(path: Path) -> bool:
    """Whether a JSON file is a complete results file (its first bytes name the schema; cheap on big folders)."""
    try:
        with path.open(encoding="utf-8") as handle:
            return f'"schema": "{SCHEMA}"' in handle.read(200)
    except (OSError, UnicodeDecodeError):
        return False


def list_results(root: str | Path) -> list[Path]:
    """Every complete results file under ``root`` (any depth), sorted by path."""
    return [path for path in sorted(Path(root).rglob("*.json")) if is_results_file(path)]


def _comparable(header: dict) -> dict:
    """What must match for a partial run to be resumed (package versions and timestamps may differ)."""
    config = {key: value for key, value in header["config"].items() if key != "packages"}
    return {"model": header["model"], "benchmark": header["benchmark"], "config": config}


class ResultsWriter:
    """Appends finished problems for one model and turns them into the final file when complete."""

    def __init__(self, final: Path, header: dict):
        self.final = final
        self.partial = partial_path(final)
        self.header = header
        self.done: dict[str, dict] = {}
        if self.final.is_file():
            existing = read_results(self.final)
            self._check_same_run(existing, self.final)
            self.done = {p["question_id"]: p for p in existing["problems"]}
        elif self.partial.is_file():
            self._load_partial()

    def _check_same_run(self, existing: dict, path: Path) -> None:
        if _comparable(existing) != _comparable(self.header):
            raise ResultsError(
                f"{path} holds results of a different run (model, benchmark or settings differ); "
                "use another --out folder or delete it."
            )

    def _load_partial(self) -> None:
        lines = self.partial.read_text(encoding="utf-8").splitlines()
        try:
            header = json.loads(lines[0])
        except (IndexError, json.JSONDecodeError) as err:
            raise ResultsError(f"{self.partial} has no readable header; delete it to start over.") from err
        self._check_same_run(header, self.partial)
        for line in lines[1:]:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # the line being written when the run was killed: that problem is redone
            self.done[record["question_id"]] = record
        # Rewrite without a torn last line, so later appends start on a clean line.
        self._rewrite_partial()

    def _rewrite_partial(self) -> None:
        lines = [self.header, *self.done.values()]
        write_text_atomic(self.partial, "".join(json.dumps(line) + "\n" for line in lines))

    def add(self, record: dict) -> None:
        """Record one finished problem durably before anything else happens."""
        if not self.partial.is_file():
            self._rewrite_partial()
        self.done[record["question_id"]] = record
        with self.partial.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def complete(self, question_ids: list[str]) -> Path:
        """The final file: as it is when a finished run is asked for again, else written now."""
        if self.final.is_file() and not self.partial.is_file():
            return self.final
        return self.finish(question_ids)

    def finish(self, question_ids: list[str]) -> Path:
        """Write ``<slug>.json`` with the problems in benchmark order, then drop the partial file."""
        missing = [q for q in question_ids if q not in self.done]
        if missing:
            raise ResultsError(
                f"Cannot finish {self.final}: {len(missing)} problems are not done ({missing[0]}, ...)."
            )
        write_json_atomic(self.final, build_results(self.header, [self.done[q] for q in question_ids]))
        self.partial.unlink(missing_ok=True)
        return self.final
