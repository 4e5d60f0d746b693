"""Arena speed: both panes in ONE mixed-adapter batch vs two sequential generations, on the embedded model.

    python bench/app.py [--max_new_tokens 64] [--repeats 3]

Prints time to first token and tokens/s per pane, side by side, with ratios. Target: first tokens of both
panes within 1 s on CPU. The two adapters are random LoRAs made here (the demo adapters when present).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from codegen_lab import EMBEDDED_MODEL  # noqa: E402

PROMPT = "Read two integers A and B from standard input and print A + B. Write a Python program."


def random_adapters(base_dir: Path, out: Path) -> dict[str, str]:
    """Two LoRAs with non-zero random weights on the base (q/v projections, r=8)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    adapters = {}
    for seed, name in ((1, "deep"), (2, "diverse")):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_pretrained(base_dir)
        config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
        get_peft_model(model, config).save_pretrained(out / name)
        adapters[name] = str(out / name)
    return adapters


def demo_or_random_adapters(out: Path) -> dict[str, str]:
    from codegen_lab.embedded import embedded_model_dir
    from space.catalog import model_choices

    demo = {c.arm: c.spec for c in model_choices(EMBEDDED_MODEL) if c.source == "demo"}
    if len(demo) == 2:
        return demo
    return random_adapters(embedded_model_dir(), out)


def measure(engine, panes, settings) -> dict:
    """One generation: per-pane time to first token, tokens and tokens/s, and the wall time."""
    start = time.perf_counter()
    *_, last = engine.stream(panes, settings)
    wall = time.perf_counter() - start
    return {
        "ttft": [t - start for t in last.first_token_at],
        "tokens": last.n_tokens,
        "wall": wall,
    }


@dataclass
class AppBenchArguments:
    max_new_tokens: int = 64
    repeats: int = 3
    threads: int | None = field(default=None, metadata={"help": "torch CPU threads (default: torch's)"})


def main(args: AppBenchArguments) -> None:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from space.engine import Engine, GenerationSettings

    with tempfile.TemporaryDirectory() as tmp:
        adapters = demo_or_random_adapters(Path(tmp))
        engine = Engine(EMBEDDED_MODEL)
        for spec in adapters.values():
            engine.load_adapter(spec)
        settings = GenerationSettings(max_new_tokens=args.max_new_tokens, temperature=0.0)
        messages = engine.build_messages([], PROMPT, settings.system_prompt)
        # ignore_eos is not exposed; count whatever each pane produces (greedy, so it is the same each run)
        panes = [(adapters["deep"], messages), (adapters["diverse"], messages)]
        measure(engine, panes, settings)  # warm-up
        batched, sequential = [], []
        for _ in range(args.repeats):
            batched.append(measure(engine, panes, settings))
            start = time.perf_counter()
            one = measure(engine, panes[:1], settings)
            two = measure(engine, panes[1:], settings)
            offset = one["wall"]  # the second pane starts only after the first finished
            sequential.append(
                {
                    "ttft": [one["ttft"][0], offset + two["ttft"][0]],
                    "tokens": [one["tokens"][0], two["tokens"][0]],
                    "pane_wall": [one["wall"], two["wall"]],
                    "wall": time.perf_counter() - start,
                }
            )

    def med(runs, key, i=None):
        return statistics.median(r[key] if i is None else r[key][i] for r in runs)

    print(
        f"embedded model {EMBEDDED_MODEL} on {engine.model.device} ({torch.get_num_threads()} threads), "
        f"{args.max_new_tokens} new tokens max, median of {args.repeats}"
    )
    print(f"{'':34}{'one mixed batch':>18}{'two sequential':>18}{'ratio seq/batch':>18}")
    for i, pane in enumerate(("deep", "diverse")):
        b, s = med(batched, "ttft", i), med(sequential, "ttft", i)
        print(f"{'first token, ' + pane + ' pane (s)':34}{b:>18.3f}{s:>18.3f}{s / b:>18.2f}")
    both_b = statistics.median(max(r["ttft"]) for r in batched)
    both_s = statistics.median(max(r["ttft"]) for r in sequential)
    print(f"{'first tokens of both panes (s)':34}{both_b:>18.3f}{both_s:>18.3f}{both_s / both_b:>18.2f}")
    for i, pane in enumerate(("deep", "diverse")):
        b = statistics.median(r["tokens"][i] / r["wall"] for r in batched)
        s = statistics.median(r["tokens"][i] / r["pane_wall"][i] for r in sequential)  # the pane alone
        print(f"{'tokens/s, ' + pane + ' pane':34}{b:>18.1f}{s:>18.1f}{b / s:>18.2f}")
    tb = statistics.median(sum(r["tokens"]) / r["wall"] for r in batched)
    ts = statistics.median(sum(r["tokens"]) / r["wall"] for r in sequential)
    print(f"{'tokens/s, both panes together':34}{tb:>18.1f}{ts:>18.1f}{tb / ts:>18.2f}")
    wb, ws = med(batched, "wall"), med(sequential, "wall")
    print(f"{'wall time for both answers (s)':34}{wb:>18.2f}{ws:>18.2f}{ws / wb:>18.2f}")
    verdict = "MET" if both_b <= 1.0 else "MISSED"
    print(f"target: first tokens of both panes within 1 s on CPU -> {verdict} ({both_b:.3f} s)")


if __name__ == "__main__":
    from record import recorded
    from transformers import HfArgumentParser

    with recorded("app"):
        main(*HfArgumentParser(AppBenchArguments).parse_args_into_dataclasses())
