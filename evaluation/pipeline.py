"""Evaluate a base model and its LoRA adapters on a benchmark: generate -> extract -> judge -> results.

from evaluation.pipeline import evaluate_models
from evaluation.benchmark import load_benchmark
paths = evaluate_models("embedded:smollm2", {"deep": "outputs/deep/checkpoint-step-20-epoch-1"},
                        load_benchmark(preset="study"), "outputs/eval", EvalConfig(max_new_tokens=256))
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from codegen_lab import BASE_ADAPTER
from codegen_lab.naming import adapter_model_info, base_display_name
from evaluation.benchmark import Benchmark
from evaluation.generate import GenerationProgress, Request, Sampling
from evaluation.llama_cpp_run import LlamaCppLoaded, generate_llama_cpp, load_llama_cpp
from evaluation.results import ResultsWriter, package_versions, problem_record, results_path

__all__ = ["EvalConfig", "EvalProgress", "Sampling", "evaluate_models"]
logger = logging.getLogger(__name__)


@dataclass
class EvalConfig:
    """How models are generated for and judged; recorded as the results file's ``config``."""

    prompt_style: str = field(default="study", metadata={"help": "study or lcb", "choices": ["study", "lcb"]})
    n: int = field(default=1, metadata={"help": "samples per problem (LCB: 10)"})
    temperature: float = field(default=0.0, metadata={"help": "0 = greedy (LCB: 0.2)"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling (LCB: 0.95)"})
    max_new_tokens: int = field(default=1024, metadata={"help": "tokens per answer"})
    batch_size: int = field(default=8, metadata={"help": "sequences generated together (not recorded)"})
    time_limit: float = field(default=6.0, metadata={"help": "seconds per test (LCB: 6)"})
    semantics: str = field(
        default="lcb",
        metadata={
            "help": "lcb: LiveCodeBench's grader (its import block); plain: an online judge",
            "choices": ["lcb", "plain"],
        },
    )
    engine: str = field(
        default="auto",
        metadata={
            "help": "auto: llama.cpp on a CPU when installed and the base has a GGUF, else transformers",
            "choices": ["auto", "llama.cpp", "transformers"],
        },
    )
    sandbox: str | None = field(
        default=None,
        metadata={
            "help": "bwrap (default), or rlimit to opt in to the weaker sandbox; env CODEGEN_LAB_SANDBOX"
        },
    )

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1 or self.batch_size < 1 or self.time_limit <= 0:
            raise ValueError("max_new_tokens and batch_size must be at least 1 and time_limit positive.")
        self.sampling = Sampling(n=self.n, temperature=self.temperature, top_p=self.top_p)  # checks them

    def record(self) -> dict:
        """The config block: what shapes the verdicts (the batch size does not)."""
        from evaluation.judge import JUDGE_VERSION, sandbox_record

        return {
            "prompt_style": self.prompt_style,
            "sampling": asdict(self.sampling),
            "max_new_tokens": self.max_new_tokens,
            "time_limit": self.time_limit,
            "judge_version": JUDGE_VERSION,
            "semantics": self.semantics,
            "sandbox": sandbox_record(self.sandbox),
            "packages": package_versions(),
        }


@dataclass
class LoadedModel:
    """A model the caller already holds: its PEFT name for each adapter, and how to call ``generate``
    (the Space passes a wrapper that takes the model's lock, and runs under ZeroGPU's ``spaces.GPU``)."""

    model: Any
    tokenizer: Any
    adapter_names: dict[str, str] = field(default_factory=dict)  # model name -> adapter name on the model
    generate: Callable | None = None


@dataclass
class EvalProgress:
    """Problems judged and solved, and where generation stands within its batch."""

    judged: int
    total: int
    solved: int
    generation: GenerationProgress | None = None

    def line(self) -> str:
        text = f"{self.judged}/{self.total} problems judged, {self.solved} solved"
        g = self.generation
        if g is None:
            return text
        if g.eta is None:
            text += f" · batch {g.batch}/{g.n_batches}: {g.steps}/{g.max_new_tokens} tokens, {g.finished_rows}/{g.rows} answers done"
        else:  # continuous batching (llama.cpp): no batches, answers end one by one
            text += f" · {g.finished_rows}/{g.rows} answers done"
        if g.seconds > 0:
            text += f" · {g.tokens / g.seconds:.1f} tokens/s"
        eta = g.eta_seconds()
        return text + (f" · ETA ≤ {format_duration(eta)}" if eta is not None else "")


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def evaluate_models(
    base: str,
    adapters: dict[str, str] | None,
    benchmark: Benchmark,
    out_dir: str | Path,
    config: EvalConfig | None = None,
    *,
    include_base: bool = False,
    model_info: dict | None = None,
    on_progress: Callable[[EvalProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    loaded: LoadedModel | None = None,
) -> dict[str, Path]:
    """One results file per model in ``out_dir``; returns {model name: file} for the finished ones.

    ``model_info`` is merged into every model block (the trainer passes run, arm, step, source).
    ``on_progress(EvalProgress)`` sees every judged problem and every decoding step (from the
    generating and the judging thread). ``should_stop()`` returning True stops after the current batch;
    finished problems stay in the partial files and a rerun resumes from them. Pass ``loaded`` to use a
    model already in memory (its adapters attached under ``loaded.adapter_names``).
    """
    config = config or EvalConfig()
    adapters = dict(adapters or {})
    attached = loaded.adapter_names if isinstance(loaded, LoadedModel) else {}  # llama.cpp: keyed by name
    models = ({base_display_name(base): BASE_ADAPTER} if include_base or not adapters else {}) | {
        name: attached.get(name, name) for name in adapters
    }
    if loaded is None:
        from codegen_lab.llamacpp import choose_engine

        engine, why = choose_engine(config.engine, base)
        print(f"Engine: {engine} ({why})", flush=True)
    else:
        engine = "llama.cpp" if isinstance(loaded, LlamaCppLoaded) else "transformers"
    header = {
        "benchmark": benchmark.provenance,
        "config": config.record() | {"runtime": runtime(loaded, engine, config.batch_size)},
    }
    writers = {
        name: ResultsWriter(
            results_path(out_dir, name), header | {"model": model_block(base, name, adapters, model_info)}
        )
        for name in models
    }
    order = [p.question_id for p in benchmark.problems]
    todo = [(name, qid) for name, w in writers.items() for qid in order if qid not in w.done]
    for name, writer in writers.items():
        logger.info(
            "%s: %d problems to do, %d already done.", name, len(order) - len(writer.done), len(writer.done)
        )
    progress = Progress(len(models) * len(order), writers, on_progress)
    if todo:
        if loaded is None and engine == "llama.cpp":
            loaded = load_llama_cpp(base, adapters)
        elif loaded is None:
            from codegen_lab.models import load_model

            loaded = LoadedModel(*load_model(base, adapters))
        before = progress.judged
        generate_and_judge(loaded, todo, models, benchmark, writers, config, progress, should_stop)
        logger.info("Generated and judged %d of %d pending problems.", progress.judged - before, len(todo))
    return {name: w.complete(order) for name, w in writers.items() if len(w.done) == len(order)}


def runtime(loaded, engine: str, batch_size: int) -> dict:
    """The engine, and where and in which precision it generates (bf16, fp32 and Q4_K answers can differ;
    llama.cpp's sequences per context too, so a resume never mixes them)."""
    if engine == "llama.cpp" and loaded is not None:
        return loaded.runtime(batch_size)  # the Space's model: the layout it was loaded with
    if engine == "llama.cpp":
        from codegen_lab.llamacpp import repacking

        return {"engine": engine, "device": "cpu", "n_seq": batch_size, "repack": repacking()}
    if loaded is not None:
        return {"engine": engine, "device": str(loaded.model.device),
                "dtype": str(loaded.model.dtype).removeprefix("torch.")}  # fmt: skip
    from codegen_lab.models import pick_device, pick_dtype

    device = pick_device()
    return {"engine": engine, "device": device, "dtype": str(pick_dtype(device)).removeprefix("torch.")}


def model_block(base: str, name: str, adapters: dict[str, str], model_info: dict | None) -> dict:
    """The results file's ``model`` block of the base (not in ``adapters``) or of one adapter."""
    if name in adapters:
        info = adapter_model_info(name, adapters[name])
    else:
        source = "embedded" if base.startswith("embedded:") else "local" if Path(base).is_dir() else "hub"
        info = {"run": None, "arm": "base", "step": None, "source": source}
    return {"name": name, "base": base, "adapter": adapters.get(name)} | info | (model_info or {})


class Progress:
    """Counts judged and solved (model, problem) pairs and shows them with the generation's progress."""

    def __init__(self, total: int, writers: dict[str, ResultsWriter], on_progress):
        from tqdm.auto import tqdm

        self.total, self.on_progress, self.generation = total, on_progress, None
        self.judged = sum(len(w.done) for w in writers.values())
        self.solved = sum(1 for w in writers.values() for r in w.done.values() if r["n_passed"] > 0)
        self.bar = tqdm(total=total, initial=self.judged, desc="evaluate", unit="problem")
        self.report()

    def report(self) -> None:
        state = EvalProgress(self.judged, self.total, self.solved, self.generation)
        if self.generation is not None:
            self.bar.set_postfix_str(state.line().split(" · ", 1)[1], refresh=False)
        self.bar.n = self.judged
        self.bar.refresh()
        if self.on_progress is not None:
            self.on_progress(state)

    def step(self, generation: GenerationProgress) -> None:
        self.generation = generation
        self.report()

    def problem(self, solved: bool) -> None:
        self.judged += 1
        self.solved += solved
        self.report()

    def close(self) -> None:
        self.bar.close()


def generate_and_judge(
    loaded: LoadedModel, todo, models, benchmark, writers, config: EvalConfig, progress, should_stop
):
    """Generate the pending answers batch by batch; each batch is judged while the next is generated."""
    from concurrent.futures import ThreadPoolExecutor

    from codegen_lab.prompts import build_messages
    from evaluation.generate import generate
    from evaluation.grading import Answer, grade

    problems = {p.question_id: p for p in benchmark.problems}
    scope = benchmark.provenance["test_scope"]
    requests = [
        Request(
            build_messages(problems[qid].question_content, problems[qid].starter_code, config.prompt_style),
            models[name],
        )
        for name, qid in todo
    ]

    def judge_batch(indices: list[int], outputs: list[list[str]]) -> None:
        answers = [
            Answer(text, problems[todo[i][1]].tests(scope), problems[todo[i][1]].func_name)
            for i, texts in zip(indices, outputs, strict=True)
            for text in texts
        ]
        graded = iter(
            grade(answers, time_limit=config.time_limit, sandbox=config.sandbox, semantics=config.semantics)
        )
        for i, texts in zip(indices, outputs, strict=True):
            name, qid = todo[i]
            record = problem_record(qid, [next(graded).record() for _ in texts])
            writers[name].add(record)
            progress.problem(record["n_passed"] > 0)

    # One judging thread: batch k is judged (in sandboxed processes) while batch k+1 is generated,
    # so a program that loops until the time limit does not hold up the model.
    pending = []

    def submit(indices: list[int], outputs: list[list[str]]) -> None:
        for future in pending:
            if future.done():
                future.result()  # a judging error stops the run now, not after all generation
        pending.append(judging.submit(judge_batch, indices, outputs))

    common = {"sampling": config.sampling, "max_new_tokens": config.max_new_tokens,
              "batch_size": config.batch_size, "on_batch": submit, "should_stop": should_stop,
              "on_progress": progress.step}  # fmt: skip
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="judge") as judging:
        try:
            if isinstance(loaded, LlamaCppLoaded):
                generate_llama_cpp(loaded, requests, **common)
            else:
                generate(loaded.model, loaded.tokenizer, requests, generate_fn=loaded.generate, **common)
        finally:
            for future in pending:
                future.result()
            progress.close()
