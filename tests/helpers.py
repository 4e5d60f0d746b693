"""What several test modules share that is not a fixture (the fixtures are in conftest.py, used by name):
where the shipped data is, the tiny models built here, results files and run folders in the documented
formats (written with the evaluation stage's own writer), the sandbox tests' programs, and servers on
loopback standing in for the Hub."""

from __future__ import annotations

import contextlib
import json
import os
import textwrap
import threading
import time
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from codegen_lab import naming
from codegen_lab.paths import REPO_ROOT
from evaluation.judge import JudgeJob, TestCase, judge

ARTIFACTS = REPO_ROOT / "test-artifacts"
CHATML_TEMPLATE = (REPO_ROOT / "codegen_lab" / "chatml_generation.jinja").read_text()
# What the repo ships of the study's published generations: 18 re-judged results files, and the
# original harness's verdicts (the raw outputs are in the results files).
COURSE_RESULTS = REPO_ROOT / "results" / "course"
COURSE_VERDICTS = REPO_ROOT / "results" / "course_harness_verdicts.jsonl"
LCB_REFERENCE = REPO_ROOT / "results" / "lcb_leaderboard_41.json"


def course_generations() -> list[dict]:
    """The 738 published generations: checkpoint, question_id, the raw output and the course's verdict."""
    verdicts = {
        (row["checkpoint"], row["question_id"]): row
        for row in map(json.loads, COURSE_VERDICTS.read_text().splitlines())
    }
    rows = []
    for path in sorted(COURSE_RESULTS.glob("*.json")):
        data = json.loads(path.read_text())
        for problem in data["problems"]:
            key = (data["model"]["name"], problem["question_id"])
            rows.append(verdicts[key] | {"output": problem["samples"][0]["output"]})
    return rows


# -- tiny models ----------------------------------------------------------------------------------
CORPUS = [
    "def solve():\n    n = int(input())\n    print(n * 2)\n",
    "You are an expert Python programmer. Please read the problem carefully.",
    "Read N integers from standard input and print their sum.",
    "for line in sys.stdin:\n    a, b = map(int, line.split())\n    print(a + b)\n",
    "<think>We need the sum.</think> import sys\nprint(sum(map(int, sys.stdin.read().split())))",
    "Yes No 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ ()[]{}:=+-*/%<>,.'\"",
]


def build_tiny_tokenizer():
    """A byte-level BPE tokenizer with ChatML special tokens, trained in well under a second."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    fast.chat_template = CHATML_TEMPLATE
    return fast


def build_tiny_model(path: Path, seed: int = 0, hidden: int = 64) -> Path:
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    tokenizer = build_tiny_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, do_sample=False
    )
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def build_tiny_adapter(base_dir: Path, out_dir: Path, seed: int, r: int = 4) -> Path:
    """A LoRA adapter with random (non-zero) weights, so it visibly changes the base's outputs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(base_dir)
    config = LoraConfig(r=r, lora_alpha=2 * r, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    peft_model = get_peft_model(base, config)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_" in name:
                param.mul_(20.0)
    peft_model.save_pretrained(out_dir)
    return out_dir


# -- results files and run folders ----------------------------------------------------------------
QIDS = [f"abc{365 + i // 2}_{'ab'[i % 2]}" for i in range(10)]


def sample(
    passed: bool, verdict: str = "WA", detail: str = "", extraction: str = "whole", code: str = "print(1)"
) -> dict:
    """One judged sample as the evaluation records it: a failed one stops at its first failing test."""
    tests = [{"verdict": "AC", "seconds": 0.01, "detail": ""}]
    if not passed:
        tests.append({"verdict": verdict, "seconds": 0.02, "detail": detail})
    return {"output": code, "code": code, "extraction": extraction, "passed": passed, "tests": tests}


def solving(*indices: int) -> dict[str, dict]:
    """A sample for each of QIDS, passed for the given indices."""
    return {qid: sample(i in indices) for i, qid in enumerate(QIDS)}


def write_results(
    folder: Path,
    name: str,
    samples: Mapping[str, dict],
    *,
    run: str | None = None,
    step: int | None = None,
    arm: str | None = None,
    scope: str = "full",
    source: str = "local",
    preset: str = "study",
) -> Path:
    """``folder/<slug of name>.json``: one sample per problem, written by evaluation.results as a run does."""
    from codegen_lab.atomic import write_json_atomic
    from evaluation.results import build_results, problem_record, results_path

    model = {"name": name, "base": "base-model", "adapter": None, "run": run, "arm": arm, "step": step}
    benchmark = {"source": "bench.jsonl", "revision": "sha256:0123", "preset": preset, "filters": {}}
    benchmark |= {"test_scope": scope, "n_problems": len(samples), "n_tests": 2 * len(samples)}
    config = {"prompt_style": "study", "sampling": {"n": 1, "temperature": 0.0, "top_p": 1.0}}
    config |= {"max_new_tokens": 64, "time_limit": 6.0, "judge_version": "test", "packages": {}}
    header = {"model": model | {"source": source}, "benchmark": benchmark, "config": config}
    problems = [problem_record(qid, [s]) for qid, s in samples.items()]
    return write_json_atomic(results_path(folder, name), build_results(header, problems))


def checkpoint_results(folder: Path, run: str, step: int, samples: Mapping[str, dict], **kwargs) -> Path:
    """The results file of checkpoint ``step`` of ``run``, named as the evaluation names it."""
    name = f"{run}@{naming.branch_name(step)}"
    return write_results(folder, name, samples, run=run, step=step, arm=naming.arm_of(run), **kwargs)


def course_results(out: Path) -> Path:
    """The 738 course generations as results files, with the course harness's verdicts as ours.

    A few answers are rewritten (deterministically) into the other failure kinds the report tells apart.
    """
    by_checkpoint: dict[str, dict[str, dict]] = {}
    for i, row in enumerate(course_generations()):
        results = row["course_test_results"]
        verdict = "TLE" if results["timeout"] else "RE" if results["error"] else "WA"
        s = sample(row["course_passed"], verdict, "ValueError" if verdict == "RE" else "")
        s["output"] = s["code"] = row["output"]
        s["extraction"] = "fenced" if "```" in row["output"] else "whole"
        if not row["course_passed"] and i % 37 == 0:
            s |= {"code": "", "extraction": "none"}
        elif not row["course_passed"] and i % 41 == 0:
            s["tests"][-1] = {"verdict": "RE", "seconds": 0.01, "detail": "SyntaxError: invalid syntax"}
            s["extraction"] = "trimmed"
        by_checkpoint.setdefault(row["checkpoint"], {})[row["question_id"]] = s
    for checkpoint, samples in by_checkpoint.items():
        step = naming.parse_checkpoint_dirname(checkpoint)[0]
        checkpoint_results(out, checkpoint.split("_checkpoint")[0], step, samples)
    return out


def run_folder(root: Path, name: str, solved_by_step: dict[int, set[str]], problems: list[str], adapter=None):
    """A training run folder as training.sft writes it: checkpoints, loss history, run state, results."""
    run = root / name
    for i, (step, solved) in enumerate(sorted(solved_by_step.items())):
        checkpoint = run / naming.checkpoint_dirname(step, i + 1)
        checkpoint.mkdir(parents=True)
        if adapter is not None:
            for file in adapter.iterdir():
                (checkpoint / file.name).write_bytes(file.read_bytes())
        test = checkpoint_results(run / "results", name, step, {q: sample(q in solved) for q in problems})
        val_solved = {0: 1, 1: 3, 2: 0}[
            i % 3
        ]  # validation: the last checkpoint is the worst, the middle the best
        validation = checkpoint_results(
            run / "results" / "validation",
            name,
            step,
            {f"val_{k}": sample(k < val_solved) for k in range(4)},
            preset="validation",
        )
        metrics = {
            "split": "test",
            "metrics": json.loads(test.read_text())["metrics"],
            "results_file": test.relative_to(run).as_posix(),
            "validation": {"metrics": json.loads(validation.read_text())["metrics"]},
        }
        (checkpoint / "metrics.json").write_text(json.dumps(metrics))
    write_run_files(run, sorted(solved_by_step))
    return run


def write_run_files(run: Path, steps: list[int]) -> None:
    """The run's loss history (lowest validation loss at the middle step) and a LossGuard stop."""
    losses = zip(steps, [0.9, 0.7, 0.8], strict=False)
    history = {
        "train": [
            {"step": s, "epoch": 1.0, "loss": 1.0 - 0.1 * k} for k, s in enumerate(range(5, steps[-1] + 1, 5))
        ],
        "validation": [{"step": s, "epoch": 1.0, "loss": v} for s, v in losses],
    }
    history["test"] = [row | {"loss": row["loss"] + 0.05} for row in history["validation"]]
    (run / "loss_history.json").write_text(json.dumps(history))
    state = {
        "stopped_early": True,
        "stop_step": steps[-1],
        "stop_reason": "LossGuard stopped training: rising",
    }
    (run / "run_state.json").write_text(json.dumps(state))


# -- the sandbox's test programs ------------------------------------------------------------------
SUM = [TestCase("1 2\n", "3\n"), TestCase("20 22\n", "42\n")]
CORRECT = JudgeJob("a, b = map(int, input().split())\nprint(a + b)", SUM)


def job(code: str, tests: list[TestCase]) -> JudgeJob:
    return JudgeJob(textwrap.dedent(code), tests)


def verdicts(code: str, tests: list[TestCase], **kwargs) -> list[str]:
    return [v.verdict for v in judge([job(code, tests)], workers=1, **kwargs)[0]]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (read from the host's /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def programs_left(worker, timeout: float = 5.0) -> int:
    """Processes in a worker's programs' PID namespace beyond its init and the spare the zygote forks
    for the next test just after each report (waited for, so it is never mistaken for a leftover)."""
    deadline = time.monotonic() + timeout
    while True:
        nspids = {}
        for pid in descendants(worker.process.pid):
            with contextlib.suppress(OSError):
                status = Path(f"/proc/{pid}/status").read_text()
                nspids[pid] = [int(n) for n in status.split("NSpid:", 1)[1].splitlines()[0].split()]
        depth = max(len(ids) for ids in nspids.values())
        held = [pid for pid, ids in nspids.items() if len(ids) == depth and ids[-1] != 1]
        if held or time.monotonic() > deadline:
            return len(held) - 1


# -- the Hub on loopback --------------------------------------------------------------------------
@contextlib.contextmanager
def loopback_hub(monkeypatch, handler: type[BaseHTTPRequestHandler], **state) -> Iterator[tuple[type, str]]:
    """``handler`` (a subclass with fresh class-level ``state``) serving on loopback as the real Hub would:
    the local hub unset and huggingface_hub online for the test; yields (handler class, endpoint URL)."""
    from huggingface_hub import constants

    monkeypatch.delenv("CODEGEN_LAB_HUB")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # an earlier offline test may have set it
    handler = type("Handler", (handler,), state)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield handler, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
