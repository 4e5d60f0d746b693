"""Command line of the evaluation stage: ``run``, ``rejudge`` and ``compare`` (TRL-style underscore flags;
``--config FILE.yaml`` sets any of them, the command line overrides).

    python -m evaluation run --base_model Qwen/Qwen2.5-Coder-1.5B-Instruct --include_base \\
        --adapter deep=user/deep-run@step-000846 diverse=user/diverse-run@step-000852 \\
        --benchmark livecodebench/code_generation_lite --preset study --output_dir results/qwen
    python -m evaluation rejudge --benchmark BENCH.jsonl --generations GENS.jsonl --output_file VERDICTS.jsonl
    python -m evaluation run ... --adapter you/deep-lora@step-000800 --on_job a10g-small   # on a Job
    python -m evaluation compare --results results/qwen/deep-run_step-000846.json results/qwen/diverse-run_step-000852.json
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field


@dataclass
class RunArguments:
    base_model: str = field(metadata={"help": "Hub id[@revision], local folder or an embedded: alias"})
    output_dir: str = field(metadata={"help": "folder for the results files (a rerun resumes there)"})
    adapter: list[str] = field(
        default_factory=list, metadata={"help": "LoRA adapters: [NAME=]SPEC, a folder or repo@revision, each"}
    )
    include_base: bool = field(default=False, metadata={"help": "also evaluate the base model alone"})
    benchmark: str | None = field(
        default=None,
        metadata={"help": "LCB-schema JSONL/parquet or Hub dataset id (default: the shipped 41)"},
    )
    preset: str | None = field(default=None, metadata={"help": "named filters, e.g. 'study' (41 problems)"})
    release: str | None = field(default=None, metadata={"help": "LCB release tag, e.g. release_v5"})
    platform: str | None = None
    difficulty: str | None = None
    start_date: str | None = field(default=None, metadata={"help": "first contest date (inclusive), ISO"})
    end_date: str | None = field(default=None, metadata={"help": "last contest date (exclusive), ISO"})
    limit: int | None = field(default=None, metadata={"help": "only the first N problems (by contest date)"})
    test_scope: str = field(default="full", metadata={"choices": ["full", "public-only"]})
    on_job: str | None = field(
        default=None, metadata={"help": "run on a Hugging Face Job of this flavor (evaluation/jobs.py)"}
    )
    detach: bool = field(default=False, metadata={"help": "with --on_job: print the job id, do not follow"})
    push_results: bool = field(
        default=False, metadata={"help": "push each adapter's results file to results/ on its repo@revision"}
    )


@dataclass
class CompareArguments:
    results: list[str] = field(metadata={"help": "the two results files, A then B"})
    resamples: int = field(default=10000, metadata={"help": "paired bootstrap resamples"})


def parse_adapters(values: list[str]) -> dict[str, str]:
    from codegen_lab.naming import default_adapter_name

    adapters: dict[str, str] = {}
    for value in values:
        name, sep, spec = value.partition("=")
        if not sep:
            name, spec = default_adapter_name(value), value
        if not name or not spec:
            raise ValueError(f"--adapter {value!r} should be NAME=SPEC or SPEC.")
        if name in adapters:
            raise ValueError(f"Two adapters are named {name!r}; name them with NAME=SPEC.")
        adapters[name] = spec
    return adapters


def run_command(args: RunArguments, config) -> int:
    from evaluation import jobs
    from evaluation.benchmark import load_benchmark
    from evaluation.pipeline import evaluate_models
    from evaluation.results import read_results

    adapters = parse_adapters(args.adapter)
    if args.on_job:
        return jobs.launch_eval_job(args, config, adapters)
    if args.push_results:
        jobs.hub_adapters(adapters)  # refused now, not after the whole evaluation
    filters = {
        k: getattr(args, k) for k in ("release", "platform", "difficulty", "start_date", "end_date", "limit")
    }
    benchmark = load_benchmark(args.benchmark, args.preset, test_scope=args.test_scope, **filters)
    info = benchmark.provenance
    print(
        f"Benchmark: {info['n_problems']} problems, {info['n_tests']} tests ({info['test_scope']}) from {info['source']}"
    )
    paths = evaluate_models(
        args.base_model, adapters, benchmark, args.output_dir, config, include_base=args.include_base
    )
    for name, path in paths.items():
        metrics = read_results(path)["metrics"]
        low, high = metrics["pass@1_ci95"]
        print(f"{name}: pass@1 {metrics['pass@1']:.3f} [{low:.3f}, {high:.3f}]  -> {path}")
    if args.push_results:
        jobs.push_results(paths, adapters)
    return 0


def compare_command(args: CompareArguments) -> int:
    from analysis.compare import paired_comparison
    from evaluation.results import read_results

    if len(args.results) != 2:
        raise ValueError(f"--results takes two results files (A and B), got {len(args.results)}.")
    runs = [read_results(path) for path in args.results]
    for label, run in zip("AB", runs, strict=True):
        m = run["metrics"]
        low, high = m["pass@1_ci95"]
        print(
            f"{label} {run['model']['name']}: pass@1 {m['pass@1']:.3f}  95% CI [{low:.3f}, {high:.3f}]  ({m['n_problems']} problems)"
        )
    if runs[0]["benchmark"].get("test_scope") != runs[1]["benchmark"].get("test_scope"):
        print(f"Warning: {args.results[1]} was judged with another test scope.", file=sys.stderr)
    a, b = ({p["question_id"]: p["pass@1"] for p in run["problems"]} for run in runs)
    common = sorted(set(a) & set(b))
    if len(common) < max(len(a), len(b)):
        print(f"Warning: comparing the {len(common)} problems both files share.", file=sys.stderr)
    differing = [q for q in common if a[q] != b[q]]
    print(f"\nProblems where they differ ({len(differing)} of {len(common)}):")
    for qid in differing:
        print(f"  {qid:<16} A {a[qid]:.2f}  B {b[qid]:.2f}  {'B better' if b[qid] > a[qid] else 'A better'}")
    t = paired_comparison(a, b, "A", "B", n_resamples=args.resamples)
    if t["mcnemar_p"] is not None:
        print(
            f"\nExact McNemar: A-only {len(t['only_a'])}, B-only {len(t['only_b'])}, p = {t['mcnemar_p']:.4f}"
        )
    low, high = t["bootstrap_ci95"]
    print(
        f"Paired bootstrap ({args.resamples} resamples of problems): A - B = {t['difference']:+.3f}, "
        f"95% CI [{low:+.3f}, {high:+.3f}], p = {t['bootstrap_p']:.4f}"
    )
    print(f"\n{t['sentence']}")
    return 0


COMMANDS = {
    "run": "generate, judge and write one results file per model",
    "rejudge": "judge existing generations (JSONL) or the samples of results files again",
    "compare": "pass@1 with intervals and a paired test of two results files",
}


def make_parser(command: str):
    """The TrlParser of one command (TRL's flag style, ``--config`` YAML)."""
    from trl import TrlParser

    from evaluation.pipeline import EvalConfig
    from evaluation.rejudge import RejudgeArguments

    dataclasses = {
        "run": (RunArguments, EvalConfig),
        "rejudge": (RejudgeArguments,),
        "compare": (CompareArguments,),
    }
    parser = TrlParser(dataclasses[command])
    parser.prog = f"python -m evaluation {command}"
    parser.description = COMMANDS[command]
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        usage = "\n".join(f"  {name:<8} {text}" for name, text in COMMANDS.items())
        print(f"usage: python -m evaluation {{{','.join(COMMANDS)}}} [--help]\n\n{usage}", file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    command, rest = argv[0], argv[1:]
    parser = make_parser(command)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from codegen_lab.hub import HubError
    from evaluation.judge import SandboxUnavailable
    from evaluation.rejudge import main as rejudge_command

    handlers = {"run": run_command, "rejudge": rejudge_command, "compare": compare_command}
    try:
        return handlers[command](*parser.parse_args_and_config(rest)) or 0
    # BenchmarkError, ResultsError, ModelLoadError and bad option values are all ValueErrors.
    except (ValueError, HubError, FileNotFoundError, SandboxUnavailable) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted; finished problems are kept and a rerun resumes.", file=sys.stderr)
        return 130
