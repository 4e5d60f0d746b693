"""The study's 41 problems on the llama.cpp engine as a user runs them, beside the transformers results.

    make qwen llama-cpp && python bench/llama_cpp_study.py      # base + both demo adapters (~40 min, 2 cores)

Each model is one ``python -m evaluation run --engine llama.cpp`` process (start-up, conversion of the
adapter, loading and judging included), timed from outside, writing ``results/qwen/llama-cpp/``. Then,
problem by problem, each llama.cpp file is set beside the shipped transformers file of the same model
(``results/qwen/``: same prompt, greedy, 1024 tokens, bf16): how many problems get the same verdict and how
many answers are byte-identical. Goal: the base's whole run <= 15 min on 2 cores. A model whose results
file is already complete is not run again (its time shows as "kept"); delete the file to time it.
Writes reports/bench/llama_cpp_study.txt.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from codegen_lab import EMBEDDED_QWEN  # noqa: E402
from codegen_lab.paths import REPO_ROOT  # noqa: E402

DEMO = "demo/adapters"


@dataclass
class LlamaCppStudyArguments:
    base_model: str = EMBEDDED_QWEN
    adapters: list[str] = field(default_factory=lambda: ["deep-qwen-demo", "diverse-qwen-demo"])
    output_dir: str = "results/qwen/llama-cpp"
    reference_dir: str = field(default="results/qwen", metadata={"help": "the transformers results files"})
    batch_size: int = field(default=4, metadata={"help": "sequences per llama.cpp context"})
    max_new_tokens: int = 1024


def run_model(args: LlamaCppStudyArguments, adapter: str | None) -> float | None:
    """One ``evaluation run`` process for the base (``adapter`` None) or one demo adapter; its seconds."""
    from evaluation.results import results_path

    name = adapter or args.base_model
    if results_path(args.output_dir, name).is_file():
        return None
    command = [
        sys.executable,
        "-m",
        "evaluation",
        "run",
        "--base_model",
        args.base_model,
        "--preset",
        "study",
    ]
    command += ["--test_scope", "public-only", "--engine", "llama.cpp", "--output_dir", args.output_dir]
    command += ["--max_new_tokens", str(args.max_new_tokens), "--batch_size", str(args.batch_size)]
    command += ["--adapter", f"{adapter}={DEMO}/{adapter}"] if adapter else ["--include_base"]
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO_ROOT)
    return time.perf_counter() - start


def per_problem(path: Path) -> dict[str, tuple[bool, str]]:
    return {
        p["question_id"]: (p["n_passed"] > 0, p["samples"][0]["output"])
        for p in json.loads(path.read_text())["problems"]
    }


def compare(args: LlamaCppStudyArguments, name: str, seconds: float | None, tokenizer) -> str:
    from evaluation.results import results_path

    ours = per_problem(REPO_ROOT / results_path(args.output_dir, name))
    theirs = per_problem(REPO_ROOT / results_path(args.reference_dir, name))
    tokens = sum(len(tokenizer(text, add_special_tokens=False)["input_ids"]) for _, text in ours.values())
    same_verdict = sum(ours[q][0] == theirs[q][0] for q in ours)
    identical = sum(ours[q][1] == theirs[q][1] for q in ours)
    timing = "kept" if seconds is None else f"{seconds / 60:.1f} min, {tokens / seconds:.1f} tokens/s"
    return (
        f"{name:<28} {sum(v for v, _ in ours.values()):>3}/41 (transformers {sum(v for v, _ in theirs.values())}/41)"
        f"  same verdict {same_verdict}/41  identical answers {identical}/41  {tokens:>6} tokens  {timing}"
    )


def main(args: LlamaCppStudyArguments) -> None:
    from transformers import AutoTokenizer

    from codegen_lab.models import resolve_model_path

    seconds = {
        name: run_model(args, None if name == args.base_model else name)
        for name in [args.base_model, *args.adapters]
    }
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(args.base_model))
    from codegen_lab.llamacpp import default_threads

    print(
        f"The 41 study problems, public tests, study prompt, greedy, {args.max_new_tokens} new tokens; llama.cpp "
        f"engine ({args.batch_size} sequences per context, {default_threads()} threads) vs the transformers "
        f"files in {args.reference_dir}/"
    )
    for name in seconds:
        print(compare(args, name, seconds[name], tokenizer))
    base = seconds[args.base_model]
    if base is not None:
        print(f"base run as a user meets it: {base / 60:.1f} min (goal <= 15 min on 2 cores)")


if __name__ == "__main__":
    from record import recorded
    from transformers import HfArgumentParser

    with recorded("llama_cpp_study"):
        main(*HfArgumentParser(LlamaCppStudyArguments).parse_args_into_dataclasses())
