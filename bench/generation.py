"""CPU generation paths for the study's base model in the Arena, side by side in one run.

    make qwen && python bench/generation.py                  # the embedded Qwen2.5-Coder-1.5B, the real demo adapters
    python bench/generation.py --paths fp32 bf16 --problems 2 --new_tokens 32

Each path serves the Arena's real workload through ``space.engine.Engine``: two panes (the deep and the
diverse LoRA adapter) answer one benchmark problem with the study's prompt in ONE mixed-adapter batch,
greedy. Per path: the time until both panes have their first token, decoding tokens/s per pane (after
the first token), and how many leading tokens of each pane equal the reference (transformers + PEFT in
float32, and in bf16 for the bf16 paths). Paths: ``fp32`` (the reference; what AVX2-only CPUs run), ``bf16``
(native on AVX-512-BF16/AMX CPUs; PEFT's mixed batches), ``bf16-stacked`` (the adapters of a batch in two
batched matmuls per layer: bench/cpu_paths.py), ``int8-decode`` (that, plus int8 weights while
decoding: bench/cpu_paths.py) and ``dyn-int8`` (torch's dynamic int8 quantization of every base
layer, activations quantized too), and ``llama.cpp`` (llama-cpp-python on the Q4_K_M GGUF with the adapters
converted to GGUF, after ``make llama-cpp``: the Engine's ``arena_engine="llama.cpp"``, space/llama_cpp_panes.py).
Goal on 2 cores: both first tokens within 10 s, >= 5 tokens/s per pane, with the adapters applied.
Keeps the table in reports/bench/generation.txt (the README quotes it from there).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from codegen_lab import EMBEDDED_QWEN  # noqa: E402
from codegen_lab.llamacpp import is_installed  # noqa: E402
from codegen_lab.paths import REPO_ROOT  # noqa: E402
from codegen_lab.prompts import SYSTEM_PROMPT  # noqa: E402

PATHS = ("fp32", "bf16", "bf16-stacked", "int8-decode", "dyn-int8", "llama.cpp")
DEMO = REPO_ROOT / "demo" / "adapters"


def load(base: str, path: str, adapters: dict[str, str], threads: int):
    """An Engine on ``base`` in the path's numerics, both adapters attached; returns (engine, load seconds)."""
    import torch

    from codegen_lab.models import load_base
    from space.engine import Engine

    start = time.perf_counter()
    dtype = torch.float32 if path in ("fp32", "dyn-int8") else torch.bfloat16
    model, tokenizer = load_base(base, device="cpu", dtype=dtype)
    arena_engine = "llama.cpp" if path == "llama.cpp" else "transformers"
    engine = Engine(base, model=model, tokenizer=tokenizer, arena_engine=arena_engine)
    if path == "llama.cpp":  # the contexts the panes will use, made now as the others attach theirs now
        engine.llama_cpp.threads = max(1, threads // len(adapters))
        engine.warm_up(list(adapters.values())).join()
    for spec in adapters.values():
        engine.load_adapter(spec)
    if path in ("bf16-stacked", "int8-decode"):
        from cpu_paths import enable_mixed_lora

        enable_mixed_lora(engine.model)
    if path == "int8-decode":
        from cpu_paths import enable_int8_decode

        enable_int8_decode(engine.model)
    if path == "dyn-int8":
        targets = {
            n for n, m in engine.model.named_modules() if type(m) is torch.nn.Linear and "lora_" not in n
        }
        engine.model = torch.ao.quantization.quantize_dynamic(engine.model, targets, dtype=torch.qint8)
    return engine, time.perf_counter() - start


def prompts(n: int) -> list[str]:
    from evaluation.benchmark import load_benchmark

    return [p.question_content for p in load_benchmark(preset="study").problems[:n]]


def run_path(engine, adapters: dict[str, str], statements: list[str], new_tokens: int) -> list[dict]:
    """One mixed batch per statement; per pane: first-token time, decode speed, the token ids."""
    from space.engine import GenerationSettings

    settings = GenerationSettings(max_new_tokens=new_tokens, temperature=0.0, system_prompt=SYSTEM_PROMPT)
    runs = []
    for statement in statements:
        panes = [(spec, engine.build_messages([], statement, SYSTEM_PROMPT)) for spec in adapters.values()]
        start = time.perf_counter()
        stamps: list[list[float]] = [[] for _ in panes]
        ids: list[list[int]] = [[] for _ in panes]
        last_counts = [0] * len(panes)
        for update in engine.stream(panes, settings):
            now = time.perf_counter()
            for row, count in enumerate(update.n_tokens):
                stamps[row] += [now] * (count - last_counts[row])
                last_counts[row] = count
        ids = [engine.tokenizer(text, add_special_tokens=False)["input_ids"] for text in update.texts]
        first = max(s[0] for s in stamps) - start
        speeds = [(len(s) - 1) / (s[-1] - s[0]) for s in stamps if len(s) > 1 and s[-1] > s[0]]
        runs.append({"first_token_s": first, "tokens_per_s": speeds, "ids": ids})
    return runs


def agreement(runs: list[dict], reference: list[dict]) -> int:
    """The fewest leading tokens any pane of any problem shares with the reference's same pane."""
    pairs = [
        (a, b)
        for r, ref in zip(runs, reference, strict=True)
        for a, b in zip(r["ids"], ref["ids"], strict=True)
    ]
    return min(leading_equal(a, b) for a, b in pairs)


def leading_equal(a: list[int], b: list[int]) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


@dataclass
class GenerationBenchArguments:
    base_model: str = EMBEDDED_QWEN
    deep: str = str(DEMO / "deep-qwen-demo")
    diverse: str = str(DEMO / "diverse-qwen-demo")
    paths: list[str] = field(default_factory=lambda: list(PATHS), metadata={"choices": PATHS})
    problems: int = field(default=3, metadata={"help": "the first N benchmark problems"})
    new_tokens: int = 48
    threads: int = os.cpu_count() or 1


def main(args: GenerationBenchArguments) -> None:
    import torch

    torch.set_num_threads(args.threads)
    adapters = {"deep": args.deep, "diverse": args.diverse}
    statements = prompts(args.problems)
    order = ["fp32", *[p for p in PATHS if p in args.paths and p != "fp32"]]  # the reference first
    if "llama.cpp" in order and not is_installed():
        print("llama.cpp: skipped, llama-cpp-python is not installed (make llama-cpp)", file=sys.stderr)
        order.remove("llama.cpp")
    results = {}
    for path in order:
        engine, load_s = load(args.base_model, path, adapters, args.threads)
        results[path] = {"load_s": load_s, "runs": run_path(engine, adapters, statements, args.new_tokens)}
        del engine
        print(f"{path}: done", file=sys.stderr)
    lines = report(results, args, statements)
    print("\n".join(lines))


def report(results: dict, args, statements: list[str]) -> list[str]:
    from codegen_lab.models import _cpu_has_native_bf16

    reference = results["fp32"]["runs"]
    lines = [
        f"{args.base_model}, adapters deep={Path(args.deep).name} diverse={Path(args.diverse).name}, two panes (one mixed "
        f"batch), greedy, {args.new_tokens} new tokens, {len(statements)} benchmark problems (study prompt), "
        f"{args.threads} threads, CPU native bf16: {_cpu_has_native_bf16()}",
        "",
        f"{'path':<17} {'load s':>7} {'first tokens s':>15} {'tokens/s per pane':>18} {'x fp32':>7} "
        f"{'leading tokens = fp32':>22} {'= bf16 PEFT':>12}",
    ]
    base_speed = None
    for path, result in results.items():
        runs = result["runs"]
        first = statistics.median(r["first_token_s"] for r in runs)
        speed = statistics.median(s for r in runs for s in r["tokens_per_s"])
        base_speed = base_speed or speed
        same = agreement(runs, reference)
        same_bf16 = (
            f"{agreement(runs, results['bf16']['runs'])} of {args.new_tokens}" if "bf16" in results else ""
        )
        lines.append(
            f"{path:<17} {result['load_s']:>7.1f} {first:>15.2f} {speed:>18.2f} {speed / base_speed:>7.2f} "
            f"{f'{same} of {args.new_tokens}':>22} {same_bf16 if path != 'fp32' else '':>12}"
        )
    lines.append("")
    lines.append(
        "first tokens: median over problems of the time until BOTH panes have one (the prompt's processing);"
    )
    lines.append("tokens/s per pane: median over panes and problems, after the first token;")
    lines.append("leading tokens: the fewest any pane of any problem shares with the reference's same pane.")
    if "llama.cpp" in results:
        lines.append(
            "llama.cpp: ARENA_ENGINE=llama.cpp, one context per pane (llama.cpp applies one adapter set"
        )
        lines.append("per context), each pane in its own thread with its share of the threads.")
    return lines


if __name__ == "__main__":
    from record import recorded
    from transformers import HfArgumentParser

    with recorded("generation"):
        main(*HfArgumentParser(GenerationBenchArguments).parse_args_into_dataclasses())
