"""Command line of the evaluation stage: ``run``, ``rejudge`` and ``compare``.

    python -m evaluation run --base-model Qwen/Qwen2.5-Coder-1.5B-Instruct \
        --adapter deep=user/deep-run@step-000846 --adapter diverse=user/diverse-run@step-000852 \
        --include-base --benchmark livecodebench/code_generation_lite --preset study --out results/qwen
    python -m evaluation rejudge --benchmark BENCH.jsonl --generations GENS.jsonl --out VERDICTS.jsonl
    python -m evaluation compare results/qwen/deep-run_step-000846.json results/qwen/diverse-run_step-000852.json
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base-model", required=True, help="Hub id[@revision], local folder or embedded:smollm2"
    )
    parser.add_argument(
        "--adapter",
        action="append",
        default=[],
        metavar="[NAME=]SPEC",
        help="LoRA adapter: a folder or repo@revision, optionally named (repeatable)",
    )
    parser.add_argument("--include-base", action="store_true", help="also evaluate the base model alone")
    parser.add_argument(
        "--benchmark",
        default=None,
        help="LCB-schema JSONL/parquet file or Hub dataset id (default: shared file)",
    )
    parser.add_argument("--preset", default=None, help="named benchmark filters, e.g. 'study' (41 problems)")
    parser.add_argument("--release", default=None, help="LCB release tag, e.g. release_v5")
    parser.add_argument("--platform", default=None)
    parser.add_argument("--difficulty", default=None)
    parser.add_argument("--start-date", default=None, help="first contest date (inclusive), ISO")
    parser.add_argument("--end-date", default=None, help="last contest date (exclusive), ISO")
    parser.add_argument("--limit", type=int, default=None, help="only the first N problems (by contest date)")
    parser.add_argument("--test-scope", choices=("full", "public-only"), default="full")
    parser.add_argument("--out", required=True, help="folder for the results files")
    parser.add_argument("--prompt-style", choices=("study", "lcb"), default="study")
    parser.add_argument("--n", type=int, default=1, help="samples per problem (LCB: 10)")
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (LCB: 0.2)")
    parser.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling (LCB: 0.95)")
    parser.add_argument("--max-new-tokens", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=8, help="sequences generated together")
    parser.add_argument("--timeout", type=float, default=6.0, help="seconds per test (LCB: 6)")


def parse_adapters(values: list[str]) -> dict[str, str]:
    from evaluation.api import default_adapter_name

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


def run_command(args: argparse.Namespace) -> int:
    from evaluation.api import Sampling, evaluate_models
    from evaluation.benchmark import load_benchmark

    adapters = parse_adapters(args.adapter)
    sampling = Sampling(n=args.n, temperature=args.temperature, top_p=args.top_p)
    if args.max_new_tokens < 1 or args.batch_size < 1 or args.timeout <= 0:
        raise ValueError("--max-new-tokens and --batch-size must be at least 1 and --timeout positive.")
    benchmark = load_benchmark(
        args.benchmark,
        args.preset,
        test_scope=args.test_scope,
        release=args.release,
        platform=args.platform,
        difficulty=args.difficulty,
        start_date=args.start_date,
        end_date=args.end_date,
        limit=args.limit,
    )
    info = benchmark.provenance
    print(
        f"Benchmark: {info['n_problems']} problems, {info['n_tests']} tests ({info['test_scope']}) from {info['source']}"
    )
    paths = evaluate_models(
        args.base_model,
        adapters,
        benchmark,
        args.out,
        include_base=args.include_base,
        prompt_style=args.prompt_style,
        sampling=sampling,
        max_new_tokens=args.max_new_tokens,
        time_limit=args.timeout,
        batch_size=args.batch_size,
    )
    from evaluation.results import read_results

    for name, path in paths.items():
        metrics = read_results(path)["metrics"]
        low, high = metrics["pass@1_ci95"]
        print(f"{name}: pass@1 {metrics['pass@1']:.3f} [{low:.3f}, {high:.3f}]  -> {path}")
    return 0


def compare_command(args: argparse.Namespace) -> int:
    from evaluation.metrics import paired_test
    from evaluation.results import read_results

    runs = [read_results(path) for path in (args.result_a, args.result_b)]
    per_problem = [{p["question_id"]: p["pass@1"] for p in run["problems"]} for run in runs]
    names = [run["model"]["name"] for run in runs]
    for label, run, name in zip("AB", runs, names, strict=True):
        m = run["metrics"]
        low, high = m["pass@1_ci95"]
        print(
            f"{label} {name}: pass@1 {m['pass@1']:.3f}  95% CI [{low:.3f}, {high:.3f}]  ({m['n_problems']} problems)"
        )
    for run, path in zip(runs, (args.result_a, args.result_b), strict=True):
        if run["benchmark"].get("test_scope") != runs[0]["benchmark"].get("test_scope"):
            print(f"Warning: {path} was judged with another test scope.", file=sys.stderr)
    a, b = per_problem
    common = sorted(set(a) & set(b))
    if len(common) < max(len(a), len(b)):
        print(f"Warning: comparing the {len(common)} problems both files share.", file=sys.stderr)
    differing = [q for q in common if a[q] != b[q]]
    print(f"\nProblems where they differ ({len(differing)} of {len(common)}):")
    for qid in differing:
        print(f"  {qid:<16} A {a[qid]:.2f}  B {b[qid]:.2f}  {'B better' if b[qid] > a[qid] else 'A better'}")
    binary = all(v in (0.0, 1.0) for v in [*a.values(), *b.values()])
    if binary:
        test = paired_test(a, b, method="mcnemar")
        print(
            f"\nExact McNemar: A-only {test['b10']}, B-only {test['b01']}, p = {test['p_value']:.4f} "
            f"(difference B - A = {test['difference']:+.3f})"
        )
    boot = paired_test(a, b, method="bootstrap", n_resamples=args.resamples)
    low, high = boot["difference_ci95"]
    print(
        f"Paired bootstrap ({args.resamples} resamples of problems): B - A = {boot['difference']:+.3f}, "
        f"95% CI [{low:+.3f}, {high:+.3f}], p = {boot['p_value']:.4f}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    from evaluation import rejudge

    parser = argparse.ArgumentParser(prog="python -m evaluation", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="generate, judge and write one results file per model")
    add_run_arguments(run)
    run.set_defaults(handler=run_command)
    rejudge_parser = commands.add_parser("rejudge", help="judge existing generations (JSONL)")
    rejudge.add_arguments(rejudge_parser)
    rejudge_parser.set_defaults(handler=rejudge.main)
    compare = commands.add_parser(
        "compare", help="pass@1 with intervals and a paired test of two results files"
    )
    compare.add_argument("result_a", type=Path)
    compare.add_argument("result_b", type=Path)
    compare.add_argument("--resamples", type=int, default=10000, help="paired bootstrap resamples")
    compare.set_defaults(handler=compare_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from codegen_lab.hub import HubError

    try:
        return args.handler(args) or 0
    # BenchmarkError, ResultsError, ModelLoadError and bad option values are all ValueErrors.
    except (ValueError, HubError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted; finished problems are kept and a rerun resumes.", file=sys.stderr)
        return 130
