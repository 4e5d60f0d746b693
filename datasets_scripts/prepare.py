"""Prepare training data: load, validate, (re-)split, report, format, write, and optionally publish.

    python -m datasets_scripts.prepare --source sample:deep --output_dir data/deep-sample
    python -m datasets_scripts.prepare --source Naholav/CodeGen-Deep-5K --output_dir data/deep --resplit \\
        --tokenizer Qwen/Qwen2.5-Coder-1.5B-Instruct --push_to_hub --hub_repo you/codegen-deep-sft

A YAML file of the same options works too: ``python -m datasets_scripts.prepare --config prepare.yaml``.
``--source`` also takes ``deep``/``diverse`` (the study's Hub datasets) or a local JSONL/parquet file.
The output folder holds ``data/{train,valid,test}.parquet`` (``datasets.load_dataset(OUT)`` reads it),
``report.json`` (leakage, contamination, token lengths) and ``README.md`` (the dataset card). It is
written under a temporary name and renamed at the end, so a failed run leaves nothing half-written.
"""

from __future__ import annotations

import json
import logging
import shlex
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from codegen_lab import EMBEDDED_MODEL
from codegen_lab.atomic import replace_dir

logger = logging.getLogger("datasets_scripts.prepare")


@dataclass
class PrepareArguments:
    source: str = field(metadata={"help": "Hub dataset id, local JSONL/parquet, deep/diverse, sample:deep/…"})
    output_dir: str = field(metadata={"help": "Output folder (replaced atomically)."})
    think: bool = field(
        default=False, metadata={"help": "Assistant turn = reasoning `output`, not `solution`."}
    )
    resplit: bool = field(default=False, metadata={"help": "Grouped re-split by problem instead of `split`."})
    seed: int = field(default=42, metadata={"help": "Seed of the grouped re-split."})
    valid_fraction: float = field(default=0.05, metadata={"help": "Share of problems for valid (re-split)."})
    test_fraction: float = field(default=0.10, metadata={"help": "Share of problems for test (re-split)."})
    max_length: int = field(default=1024, metadata={"help": "Token limit of a whole chat-formatted row."})
    too_long: str = field(
        default="drop", metadata={"help": "drop (default) or truncate rows over max_length."}
    )
    tokenizer: str = field(
        default=EMBEDDED_MODEL,
        metadata={
            "help": "Base model whose tokenizer measures lengths (Qwen/Qwen2.5-Coder-1.5B-Instruct for real runs)."
        },
    )
    benchmark: str | None = field(
        default=None,
        metadata={"help": "LiveCodeBench file or Hub id for contamination (default: the study's)."},
    )
    ngram: int = field(default=13, metadata={"help": "Word n-gram size of the contamination check."})
    skip_contamination: bool = field(default=False, metadata={"help": "Do not compare with the benchmark."})
    push_to_hub: bool = field(default=False, metadata={"help": "Publish the folder to --hub_repo."})
    hub_repo: str | None = field(default=None, metadata={"help": "The dataset repo id to publish to."})


def build(args: PrepareArguments, folder: Path) -> dict:
    """Write the data files, report and card of ``args`` into ``folder``; return the report."""
    from datasets_scripts.contamination import benchmark_statements, contamination_report
    from datasets_scripts.data import load_raw, problem_key, resolve_source, to_conversations
    from datasets_scripts.dataset_card import render_dataset_card
    from datasets_scripts.lengths import apply_length_policy, length_report, load_tokenizer, token_lengths
    from datasets_scripts.splits import grouped_resplit, leakage_report, split_by_column

    raw = load_raw(args.source)
    logger.info("Loaded %d rows from %s", len(raw), args.source)
    report: dict = {"options": {**asdict(args), "source": resolve_source(args.source)}, "command": _command()}
    report["leakage"] = leakage_report(raw)
    logger.info("Leakage: %d problem(s) in train and valid/test", report["leakage"]["leaked_problems"])
    if args.resplit:
        raw = grouped_resplit(raw, args.seed, args.valid_fraction, args.test_fraction)
        report["leakage_after_resplit"] = leakage_report(raw)
    if not args.skip_contamination:
        benchmark_source, statements = benchmark_statements(args.benchmark)
        report["contamination"] = contamination_report(raw, statements, n=args.ngram)
        report["contamination"]["benchmark_source"] = benchmark_source
        logger.info(
            "Contamination: %d train problem(s)", report["contamination"]["contaminated_train_problems"]
        )

    tokenizer = load_tokenizer(args.tokenizer)
    report["lengths"], report["counts"] = {}, {}
    (folder / "data").mkdir(parents=True)
    for name, rows in split_by_column(raw).items():
        conversations = to_conversations(rows, think=args.think, name=f"{args.source} [{name}]")
        lengths = token_lengths(conversations, tokenizer)
        report["lengths"][name] = length_report(lengths, args.max_length)
        kept = apply_length_policy(conversations, lengths, args.max_length, args.too_long)
        report["counts"][name] = {
            "rows_before_length_filter": len(rows),
            "rows": len(kept),
            "problems": len({problem_key(text) for text in rows["input"]}),
        }
        kept.to_parquet(str(folder / "data" / f"{name}.parquet"))
        logger.info(
            "%s: %d rows (%d over %d tokens)", name, len(kept), len(rows) - len(kept), args.max_length
        )
    (folder / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (folder / "README.md").write_text(
        render_dataset_card(report, args.hub_repo if args.push_to_hub else None)
    )
    return report


def main(args: PrepareArguments) -> dict:
    from codegen_lab.hub import Hub
    from datasets_scripts.lengths import TOO_LONG_POLICIES

    if args.too_long not in TOO_LONG_POLICIES:
        raise SystemExit(f"--too_long must be one of {', '.join(TOO_LONG_POLICIES)}, not {args.too_long!r}.")
    if args.push_to_hub and not args.hub_repo:
        raise SystemExit("--push_to_hub needs --hub_repo <user/dataset>.")
    out = Path(args.output_dir).expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        report = build(args, staging)
        replace_dir(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("Wrote %s", out)
    if args.push_to_hub:
        hub = Hub.from_env()
        hub.create_repo(args.hub_repo, repo_type="dataset")
        hub.upload_folder(
            args.hub_repo, out, repo_type="dataset", commit_message=f"Prepare from {args.source}"
        )
        logger.info("Pushed to %s", hub.describe(args.hub_repo))
    return report


def _command() -> str:
    return shlex.join(["python", "-m", "datasets_scripts.prepare", *sys.argv[1:]])


def make_parser():
    from trl import TrlParser

    return TrlParser(PrepareArguments)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from codegen_lab.hub import HubError

    try:
        (prepare_args,) = make_parser().parse_args_and_config()
        main(prepare_args)
    except (ValueError, HubError) as err:  # bad data, benchmark or options; Hub failures: one sentence
        raise SystemExit(f"error: {err}") from None
