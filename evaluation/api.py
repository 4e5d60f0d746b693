"""Evaluate a base model and its LoRA adapters on a benchmark: generate -> extract -> judge -> results.

from evaluation.api import evaluate_models
from evaluation.benchmark import load_benchmark
paths = evaluate_models("embedded:smollm2", {"deep": "outputs/deep/checkpoint-step-20-epoch-1"},
                        load_benchmark(preset="study"), "outputs/eval")
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from codegen_lab import BASE_ADAPTER
from codegen_lab.naming import arm_of, branch_name, parse_branch_name, parse_checkpoint_dirname
from evaluation.benchmark import Benchmark
from evaluation.generate import Request, Sampling
from evaluation.results import ResultsWriter, package_versions, problem_record, results_path

__all__ = ["Sampling", "evaluate_models", "adapter_model_info"]
logger = logging.getLogger(__name__)


def base_display_name(base: str) -> str:
    path = Path(base)
    return path.name if path.is_dir() else base


def adapter_model_info(name: str, spec: str) -> dict:
    """run, arm, step and source of an adapter spec (checkpoint folder or ``repo@step-000100``)."""
    path = Path(spec).expanduser()
    if path.is_dir():
        parsed = parse_checkpoint_dirname(path.name)
        run = path.parent.name if parsed else path.name
        return {"run": run, "arm": arm_of(name), "step": parsed[0] if parsed else None, "source": "local"}
    repo, _, revision = spec.partition("@")
    return {
        "run": repo.split("/")[-1],
        "arm": arm_of(name),
        "step": parse_branch_name(revision) if revision else None,
        "source": "hub",
    }


def default_adapter_name(spec: str) -> str:
    """``outputs/deep-smoke/checkpoint-step-20-epoch-1`` -> ``deep-smoke@step-000020``; a repo keeps its revision."""
    path = Path(spec).expanduser()
    if path.is_dir():
        parsed = parse_checkpoint_dirname(path.name)
        return f"{path.parent.name}@{branch_name(parsed[0])}" if parsed else path.name
    return spec.split("/")[-1]


def evaluate_models(
    base: str,
    adapters: dict[str, str] | None,
    benchmark: Benchmark,
    out_dir: str | Path,
    *,
    include_base: bool = False,
    prompt_style: str = "study",
    sampling: Sampling = Sampling(),
    max_new_tokens: int = 1024,
    time_limit: float = 6.0,
    batch_size: int = 8,
    model_info: dict | None = None,
    on_progress: Callable[[int, int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    model=None,
    tokenizer=None,
) -> dict[str, Path]:
    """One results file per model in ``out_dir``; returns {model name: file} for the finished ones.

    ``model_info`` is merged into every model block (the trainer passes run, arm, step, source).
    ``on_progress(done, total, n_passed)`` counts (model, problem) pairs and those with a passing
    sample; it is called from the judging thread. ``should_stop()`` returning True stops after the current batch; finished problems stay in
    the partial files and a rerun resumes from them. Pass ``model``/``tokenizer`` to reuse a loaded
    model (with the adapters already attached under their names).
    """
    from tqdm.auto import tqdm

    from evaluation.extract import extract_code
    from evaluation.judge import JUDGE_VERSION, JudgeJob, judge, passed
    from evaluation.prompts import build_messages

    adapters = dict(adapters or {})
    models = ({base_display_name(base): BASE_ADAPTER} if include_base or not adapters else {}) | {
        name: name for name in adapters
    }
    config = {
        "prompt_style": prompt_style,
        "sampling": {"n": sampling.n, "temperature": sampling.temperature, "top_p": sampling.top_p},
        "max_new_tokens": max_new_tokens,
        "time_limit": time_limit,
        "judge_version": JUDGE_VERSION,
        "packages": package_versions(),
    }
    problems = {p.question_id: p for p in benchmark.problems}
    order = list(problems)
    writers: dict[str, ResultsWriter] = {}
    for name, adapter in models.items():
        if adapter == BASE_ADAPTER:
            info = {
                "run": None,
                "arm": "base",
                "step": None,
                "source": "local" if Path(base).is_dir() else "hub",
            }
            spec = None
        else:
            spec = adapters[name]
            info = adapter_model_info(name, spec)
        block = {"name": name, "base": base, "adapter": spec} | info | (model_info or {})
        header = {"model": block, "benchmark": benchmark.provenance, "config": config}
        writers[name] = ResultsWriter(results_path(out_dir, name), header)

    finished = {
        name: w.final for name, w in writers.items() if w.final.is_file() and len(w.done) == len(order)
    }
    todo = [
        (name, qid)
        for name, w in writers.items()
        if name not in finished
        for qid in order
        if qid not in w.done
    ]
    total = len(models) * len(order)
    done = total - len(todo)
    n_passed = sum(1 for w in writers.values() for r in w.done.values() if r["n_passed"] > 0)
    for name, writer in writers.items():
        logger.info(
            "%s: %d problems to do, %d already done.", name, len(order) - len(writer.done), len(writer.done)
        )
    if on_progress is not None:
        on_progress(done, total, n_passed)

    if todo:
        if model is None:
            from codegen_lab.models import load_model

            model, tokenizer = load_model(base, adapters)
        requests = [
            Request(
                build_messages(problems[qid].question_content, problems[qid].starter_code, prompt_style),
                models[name],
            )
            for name, qid in todo
        ]
        scope = benchmark.provenance.get("test_scope", "full")
        bar = tqdm(total=total, initial=done, desc="evaluate", unit="problem")

        def judge_batch(indices: list[int], outputs: list[list[str]]) -> None:
            nonlocal done, n_passed
            extracted = [[extract_code(text) for text in texts] for texts in outputs]
            jobs, owners = [], []
            for k, i in enumerate(indices):
                problem = problems[todo[i][1]]
                for s, (code, _) in enumerate(extracted[k]):
                    if code:
                        jobs.append(JudgeJob(code, problem.tests(scope), problem.func_name))
                        owners.append((k, s))
            verdicts = dict(zip(owners, judge(jobs, time_limit=time_limit), strict=True))
            for k, i in enumerate(indices):
                name, qid = todo[i]
                samples = []
                for s, text in enumerate(outputs[k]):
                    code, rule = extracted[k][s]
                    tests = verdicts.get((k, s), [])
                    samples.append(
                        {
                            "output": text,
                            "code": code,
                            "extraction": rule,
                            "passed": passed(tests, len(problems[qid].tests(scope))),
                            "tests": [
                                {"verdict": t.verdict, "seconds": t.seconds, "detail": t.detail}
                                for t in tests
                            ],
                        }
                    )
                record = problem_record(qid, samples)
                writers[name].add(record)
                done += 1
                n_passed += record["n_passed"] > 0
                bar.update(1)
                if on_progress is not None:
                    on_progress(done, total, n_passed)

        from concurrent.futures import ThreadPoolExecutor

        from evaluation.generate import generate

        # One judging thread: batch k is judged (in sandboxed processes) while batch k+1 is generated,
        # so a program that loops until the time limit does not hold up the model.
        pending = []

        def submit(indices: list[int], outputs: list[list[str]]) -> None:
            for future in pending:
                if future.done():
                    future.result()  # a judging error stops the run now, not after all generation
            pending.append(judging.submit(judge_batch, indices, outputs))

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="judge") as judging:
            try:
                generate(
                    model,
                    tokenizer,
                    requests,
                    sampling=sampling,
                    max_new_tokens=max_new_tokens,
                    batch_size=batch_size,
                    on_batch=submit,
                    should_stop=should_stop,
                )
            finally:
                for future in pending:
                    future.result()
        bar.close()
        logger.info("Generated and judged %d of %d pending problems.", done - (total - len(todo)), len(todo))

    for name, writer in writers.items():
        if name not in finished and len(writer.done) == len(order):
            finished[name] = writer.finish(order)
    return {name: finished[name] for name in models if name in finished}
