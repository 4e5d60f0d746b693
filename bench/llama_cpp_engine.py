"""The llama.cpp engine against llama-cpp-python driven directly, and against the physical floor, in one run.

    make llama-cpp && python bench/llama_cpp_engine.py                 # 8 problems, 256 new tokens (~6 min)
    python bench/llama_cpp_engine.py --problems 41 --max_new_tokens 1024   # the whole benchmark (~35 min)

One workload for every path: the first N study problems, the study prompt (the base's chat template),
greedy, each answer ending at its end-of-turn or after ``--max_new_tokens``, all threads.
(a) the anchor: ``llama_cpp.Llama`` with one context and one stream, as a user would drive it directly;
(b) the project's engine (codegen_lab/llamacpp.py) with one stream: within 10 % of the anchor;
(c) the engine with ``--n_seq`` sequences per context (continuous batching, no padding): the evaluation's
    shape, side by side with (b); its tokens/s projects the 41-problem run (goal <= 15 min on 2 cores);
(d) prefill of a ~400-token statement with llama.cpp's repacked weight layouts on and off (first-token
    time, as the Arena's warm first tokens: goal <= 5 s);
(e) the floor: every weight read once per token at this machine's measured memory bandwidth.
Writes reports/bench/llama_cpp_engine.txt (the README quotes it from there).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from codegen_lab import EMBEDDED_QWEN  # noqa: E402

STUDY_AVERAGE_TOKENS = 456  # mean answer of the base on the 41 problems (18.7k tokens, greedy, 1024 max)


@dataclass
class LlamaCppBenchArguments:
    base_model: str = EMBEDDED_QWEN
    problems: int = field(default=8, metadata={"help": "the first N study problems"})
    max_new_tokens: int = 256
    n_seq: int = field(default=4, metadata={"help": "sequences per context for (c)"})
    threads: int = os.cpu_count() or 1


def study_prompts(loaded, n: int) -> list[list[int]]:
    """The first ``n`` study prompts as token ids, rendered as ``evaluation run`` renders them."""
    from codegen_lab.prompts import build_messages
    from evaluation.benchmark import load_benchmark
    from evaluation.generate import Request, render_prompts

    problems = load_benchmark(preset="study").problems[:n]
    requests = [Request(build_messages(p.question_content, p.starter_code)) for p in problems]
    texts = render_prompts(loaded.tokenizer, requests)
    return [loaded.tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]


def anchor(gguf: Path, prompts: list[list[int]], stop_ids: set[int], args) -> tuple[float, list[list[int]]]:
    """(a) llama-cpp-python's own high-level API: one context, one stream, greedy."""
    from llama_cpp import Llama

    longest = max(len(p) for p in prompts) + args.max_new_tokens
    llm = Llama(str(gguf), n_ctx=longest, n_threads=args.threads, n_threads_batch=args.threads, verbose=False)
    answers, start = [], time.perf_counter()
    for prompt in prompts:
        llm.reset()
        tokens = []
        for token in llm.generate(prompt, temp=0.0, top_k=1, repeat_penalty=1.0, reset=True):
            if token in stop_ids or len(tokens) >= args.max_new_tokens:
                break
            tokens.append(token)
        answers.append(tokens)
    seconds = time.perf_counter() - start
    del llm
    return seconds, answers


def engine_run(model, prompts, stop_ids, args, n_seq: int) -> tuple[float, list[list[int]]]:
    """(b), (c) the project's engine, ``n_seq`` sequences per context."""
    context = model.context(n_seq=n_seq, n_ctx_seq=max(len(p) for p in prompts) + args.max_new_tokens)
    start = time.perf_counter()
    answers = context.generate(prompts, stop_ids=stop_ids, max_new_tokens=args.max_new_tokens)
    seconds = time.perf_counter() - start
    del context
    return seconds, answers


def first_token_seconds(
    gguf: Path, prompt: list[int], stop_ids: set[int], repack: bool, threads: int
) -> float:
    """(d) a warm context's time to the first token of ``prompt`` (best of three)."""
    from codegen_lab.llamacpp import LlamaCppModel

    model = LlamaCppModel(gguf, threads=threads, repack=repack)
    context = model.context(n_ctx_seq=len(prompt) + 8)
    context.generate([prompt[:32]], stop_ids=stop_ids, max_new_tokens=1)  # warm: weights paged in
    times = []
    for _ in range(3):
        start = time.perf_counter()
        context.generate([prompt], stop_ids=stop_ids, max_new_tokens=1)
        times.append(time.perf_counter() - start)
    del context, model
    return min(times)


def memory_bandwidth_gb_s(threads: int, size_mb: int = 1024) -> float:
    """Read bandwidth with ``threads`` readers (numpy's sum lets go of the GIL): the best of five passes
    over an array far larger than any cache, each thread summing its own slice."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    data = np.ones(size_mb * 1024 * 1024 // 8)
    slices = np.array_split(data, threads)
    best = float("inf")
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(5):
            start = time.perf_counter()
            list(pool.map(np.sum, slices))
            best = min(best, time.perf_counter() - start)
    return data.nbytes / best / 1e9


def statement_of(prompts: list[list[int]], target: int = 400) -> list[int]:
    """The prompt closest to ``target`` tokens (the Arena goal's statement size)."""
    return min(prompts, key=lambda p: abs(len(p) - target))


def main(args: LlamaCppBenchArguments) -> list[str]:
    from codegen_lab.llamacpp import has_amx, repacking
    from evaluation.llama_cpp_run import load_llama_cpp

    loaded = load_llama_cpp(args.base_model, {})  # the evaluation's own: GGUF, tokenizer, end-of-turn ids
    loaded.model.threads = args.threads
    gguf, stop_ids = loaded.model.gguf, loaded.stop_ids
    prompts = study_prompts(loaded, args.problems)
    engine_run(
        loaded.model, [prompts[0][:32]], stop_ids, replace(args, max_new_tokens=1), 1
    )  # page weights in
    one_s, one_ids = engine_run(loaded.model, prompts, stop_ids, args, 1)
    batched_s, batched_ids = engine_run(loaded.model, prompts, stop_ids, args, args.n_seq)
    del loaded
    anchor_s, anchor_ids = anchor(gguf, prompts, stop_ids, args)
    statement = statement_of(prompts)
    prefill = {}
    for repack in (False, True):
        if repack and has_amx():
            continue  # 0.3.36 crashes in its AMX repacked kernels (codegen_lab/llamacpp.py)
        prefill[repack] = first_token_seconds(gguf, statement, stop_ids, repack, args.threads)
    bandwidth = memory_bandwidth_gb_s(args.threads)
    tokens = {
        name: sum(map(len, ids)) for name, ids in (("a", anchor_ids), ("b", one_ids), ("c", batched_ids))
    }
    rate = {"a": tokens["a"] / anchor_s, "b": tokens["b"] / one_s, "c": tokens["c"] / batched_s}
    floor = bandwidth * 1e9 / gguf.stat().st_size
    same = sum(a == b for a, b in zip(anchor_ids, one_ids, strict=True))
    same_batched = sum(a == b for a, b in zip(one_ids, batched_ids, strict=True))
    projected = 41 * STUDY_AVERAGE_TOKENS / rate["c"] / 60
    lines = [
        f"{args.base_model} ({gguf.name}, {gguf.stat().st_size / 1e9:.2f} GB), {len(prompts)} study problems, "
        f"greedy, up to {args.max_new_tokens} new tokens, {args.threads} threads, AMX: {has_amx()}, "
        f"repacked layouts: {repacking()}",
        "",
        f"(a) anchor, llama_cpp.Llama, one stream : {tokens['a']:>6} tokens in {anchor_s:6.1f} s = "
        f"{rate['a']:5.2f} tokens/s",
        f"(b) engine, one stream                  : {tokens['b']:>6} tokens in {one_s:6.1f} s = "
        f"{rate['b']:5.2f} tokens/s; {rate['b'] / rate['a']:.2f}x the anchor (goal >= 0.90x); "
        f"{same} of {len(prompts)} answers identical to it",
        f"(c) engine, {args.n_seq} sequences per context   : {tokens['c']:>6} tokens in {batched_s:6.1f} s = "
        f"{rate['c']:5.2f} tokens/s; {rate['c'] / rate['b']:.2f}x one stream, {rate['c'] / rate['a']:.2f}x the "
        f"anchor; {same_batched} of {len(prompts)} answers identical to (b)",
        f"    the 41 problems at (c)'s rate, {STUDY_AVERAGE_TOKENS} tokens per answer on average: "
        f"{projected:.1f} min (goal <= 15 min)",
        f"(d) first token of a {len(statement)}-token prompt, warm: "
        + ", ".join(f"repacked {'on' if k else 'off'} {v:.2f} s" for k, v in prefill.items())
        + " (goal <= 5 s)",
        f"(e) floor: {bandwidth:.1f} GB/s read bandwidth ({args.threads} threads) / {gguf.stat().st_size / 1e9:.2f} GB of weights = "
        f"{floor:.1f} tokens/s for one stream; (b) reaches {rate['b'] / floor:.0%} of it",
    ]
    print("\n".join(lines))
    return lines


if __name__ == "__main__":
    from record import recorded
    from transformers import HfArgumentParser

    with recorded("llama_cpp_engine"):
        main(*HfArgumentParser(LlamaCppBenchArguments).parse_args_into_dataclasses())
