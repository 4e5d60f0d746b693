"""The numbers the READMEs quote, written from the files that hold them, never by hand.

A Markdown file marks each generated block ``<!-- generated:NAME -->`` ... ``<!-- /generated -->``:
``study:DIR`` and ``harness:DIR`` are sentences from ``DIR/report.json``; ``results:DIR`` is a table of the
results files under DIR; ``file:PATH`` is the text of a file the repo generates (a bench/ report), in a
code block.

    python -m model_cards.report.docs README.md reports/README.md     # rewrite the blocks in place
    python -m model_cards.report.docs --check README.md reports/README.md

The test suite runs the check, so a quoted number that no longer matches its file fails CI.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from codegen_lab.paths import REPO_ROOT
from model_cards.report.sections import pct

BLOCK = re.compile(r"(<!-- generated:(?P<name>[^ ]+) -->\n)(?P<body>.*?)(<!-- /generated -->)", re.DOTALL)


def study_block(report: dict) -> str:
    """The arms' reported checkpoints, the optimistic best-on-test, and the paired test, in words."""
    lines = []
    for run in report["runs"]:
        best = run["best"]
        if "n_solved" not in best:
            continue
        low, high = best["test_ci95"]
        line = (
            f"- **{run['name']}** ({run['arm']}): reported checkpoint step {best['step']} ({best['how']}) solves "
            f"{best['n_solved']}/{best['n_problems']} ({pct(best['test_pass@1'], ' %')}, 95 % CI {pct(low, ' %')}–{pct(high, ' %')})"
        )
        if best.get("oracle_step_on_test") is not None:
            solved = round(best["oracle_pass@1_on_test"] * best["n_problems"])
            line += (
                f"; its best checkpoint on the test set, step {best['oracle_step_on_test']}, solves "
                f"{solved}/{best['n_problems']}, an optimistic pick"
            )
        lines.append(line + ".")
    paired = report["paired"]
    if paired:
        lines.append(f"- {paired['sentence']}")
    else:
        lines.append(f"- {report['paired_note']}")
    return "\n".join(lines) + "\n"


def harness_block(report: dict) -> str:
    """How many verdicts agree with the other harness, and every disagreement by problem."""
    harness = report["harness"]
    counts = harness["counts"]
    total = sum(counts.values())
    agree = counts.get("ours pass / theirs pass", 0) + counts.get("ours fail / theirs fail", 0)
    ours = sum(v for k, v in counts.items() if k.startswith("ours pass"))
    theirs = sum(v for k, v in counts.items() if k.endswith("theirs pass"))
    lines = [
        f"Our judge agrees with the other harness on {agree} of {total} answers ({ours} passes in all against "
        f"their {theirs}); {total - agree} disagree:"
    ]
    for entry in harness["disagreements"]:
        theirs_word = "pass" if entry["theirs_passed"] else "fail"
        lines.append(
            f"- **{entry['question_id']}**, {len(entry['checkpoints'])} answers: ours {entry['ours']}, theirs {theirs_word}."
        )
    return "\n".join(lines) + "\n"


def results_block(folder: Path) -> str:
    """One row per results file: model, prompt, decoding, engine, judged scope, solved, Pass@1 with its
    interval, and how many problems get the same verdict from the same model, prompt and decoding on the
    other engine (llama.cpp's Q4_K_M against transformers, say)."""
    from evaluation.results import list_results, read_results

    files = {path: read_results(path) for path in list_results(folder)}
    engines: dict[tuple, dict[str, dict]] = {}
    for data in files.values():
        engines.setdefault(same_work(data), {})[data["config"]["runtime"]["engine"]] = data
    lines = [
        "| model | prompt | decoding | engine | tests | solved | Pass@1 (95 % CI) | same verdict, other engine | file |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for path, data in files.items():
        m, config = data["metrics"], data["config"]
        sampling = config["sampling"]
        decoding = (
            "greedy" if sampling["temperature"] == 0 else f"T={sampling['temperature']}, n={sampling['n']}"
        )
        engine = config["runtime"]["engine"]
        others = [other for name, other in engines[same_work(data)].items() if name != engine]
        agreement = "; ".join(same_verdicts(data, other) for other in others) or "–"
        low, high = m["pass@1_ci95"]
        lines.append(
            f"| {data['model']['name']} | {config['prompt_style']} | {decoding}, {config['max_new_tokens']} tokens "
            f"| {engine} | {data['benchmark']['test_scope']} | {m['n_solved']}/{m['n_problems']} | {pct(m['pass@1'], ' %')} "
            f"({pct(low, ' %')}–{pct(high, ' %')}) | {agreement} | `{path.relative_to(REPO_ROOT).as_posix()}` |"
        )
    return "\n".join(lines) + "\n"


def same_work(data: dict) -> tuple:
    """What two results files must share to be the same model's answers to the same prompts."""
    config = data["config"]
    return (
        data["model"]["name"],
        config["prompt_style"],
        config["max_new_tokens"],
        json.dumps(config["sampling"], sort_keys=True),
        data["benchmark"]["test_scope"],
    )


def same_verdicts(data: dict, other: dict) -> str:
    """``37/41 (vs transformers)``: problems solved by both or by neither."""
    solved = {p["question_id"]: p["n_passed"] > 0 for p in data["problems"]}
    theirs = {p["question_id"]: p["n_passed"] > 0 for p in other["problems"]}
    same = sum(solved[q] == theirs[q] for q in solved.keys() & theirs.keys())
    return f"{same}/{len(solved)} (vs {other['config']['runtime']['engine']})"


def render_block(name: str) -> str:
    kind, _, where = name.partition(":")
    path = REPO_ROOT / where
    if kind == "file":
        return f"```\n{path.read_text().rstrip()}\n```\n"
    if kind == "results":
        return results_block(path)
    report = json.loads((path / "report.json").read_text())
    if kind == "study":
        return study_block(report)
    if kind == "harness":
        return harness_block(report)
    raise ValueError(
        f"Unknown generated block {name!r}: use study:DIR, harness:DIR, results:DIR or file:PATH."
    )


def refreshed(text: str) -> str:
    return BLOCK.sub(lambda m: m[1] + render_block(m["name"]) + m[4], text)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name in (a for a in argv if a != "--check"):
        path = Path(name)
        text = path.read_text()
        new = refreshed(text)
        if new != text:
            stale.append(name)
            if not check:
                path.write_text(new)
    if check and stale:
        print(
            f"Generated numbers are out of date in {', '.join(stale)}: run python -m model_cards.report.docs {' '.join(stale)}"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
