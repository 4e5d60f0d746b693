"""The study report's Markdown, rendered only from the report dict (so report.md and report.json agree)."""

from __future__ import annotations

import json

from codegen_lab.run_folder import METRICS


def pct(value: float | None, sign: str = "") -> str:
    """A rate as a percentage with one decimal (``sign`` after it: the README's " %"); — when missing."""
    return "—" if value is None else f"{100 * value:.1f}{sign}"


def ci(interval: list[float] | None) -> str:
    return "—" if not interval else f"[{pct(interval[0])}, {pct(interval[1])}]"


def cite(text: str, target: str | None) -> str:
    return f"[{text}]({target})" if target else text


def table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines + [""]


def figure(report: dict, name: str, alt: str) -> list[str]:
    file = report["figures"].get(name)
    return [f"![{alt}]({file})", ""] if file else []


def training_section(report: dict) -> list[str]:
    lines = ["## Training", ""]
    runs = report["runs"]
    if not any(r["loss_curves"] for r in runs):
        return lines + ["No run has a loss history (results-only inputs), so there are no loss curves.", ""]
    lines += figure(report, "loss_curves", "train/validation/test loss of every run")
    rows = []
    for run in runs:
        loss, guard = run["loss"], run["loss"]["lossguard"]
        if not loss["has_loss_history"]:
            rows.append([run["name"], "no loss history", "—", "—", "—"])
            continue
        onset = loss.get("overfitting_onset_step")
        minimum = (
            f"{loss['min_validation_loss']:.4f} @ {loss['min_validation_step']}"
            if "min_validation_loss" in loss
            else "—"
        )
        stop = f"stopped at step {guard['stopped_at_step']}" if guard["stopped"] else "did not stop early"
        reason = guard.get("reason") or "—"
        rows.append([run["name"], minimum, "none seen" if onset is None else f"step {onset}", stop, reason])
    lines += table(["run", "min validation loss", "overfitting onset", "LossGuard", "reason"], rows)
    lines += [
        "Overfitting onset is the step of the lowest validation loss when the last validation loss is more "
        f"than {100 * report['settings']['overfit_tolerance']:.1f} % above it.",
        "",
    ]
    return lines


def benchmark_section(report: dict) -> list[str]:
    lines = ["## Benchmark per checkpoint", ""]
    lines += figure(report, "pass_at_1", "Pass@1 per checkpoint with 95 % Wilson intervals")
    rows = [
        [
            r["run"],
            r["step"],
            cite(r["id"], r["results_file"]),
            r["n_solved"] if r["n_solved"] is not None else "—",
            r["n_problems"] if r["n_problems"] is not None else "—",
            pct(r["pass@1"]),
            ci(r["ci95"]),
            pct(r.get("validation_pass@1")) if "validation_pass@1" in r else "—",
        ]
        for r in report["checkpoints"]
    ]
    header = ["run", "step", "checkpoint", "solved", "problems", "Pass@1 %", "95 % CI", "validation Pass@1 %"]
    lines += ["<!-- table:checkpoints -->", *table(header, rows)]
    lines += ["### Reported checkpoint of each run", ""]
    rows, notes = [], []
    for run in report["runs"]:
        best = run["best"]
        if best.get("step") is None:
            continue
        rows.append(
            [
                run["name"],
                best["step"],
                best["how"],
                best["n_solved"],
                best["n_problems"],
                pct(best["test_pass@1"]),
                ci(best["test_ci95"]),
            ]
        )
        notes.append(f"- **{run['name']}**: {best['note']}.")
        if best["how"].startswith("last"):
            notes.append(
                f"  The best checkpoint on the test set would be step {best['oracle_step_on_test']} "
                f"({pct(best['oracle_pass@1_on_test'])} %); that number is optimistic and not the result."
            )
    lines += [
        "<!-- table:best -->",
        *table(["run", "step", "chosen on", "solved", "problems", "test Pass@1 %", "95 % CI"], rows),
    ]
    return lines + notes + [""]


def paired_section(report: dict) -> list[str]:
    lines = ["## Deep vs diverse: paired test on the same problems", ""]
    t = report["paired"]
    if t is None:
        return lines + [report["paired_note"], ""]
    rows = [
        [t["a"], t["solved_a"], t["n_problems"]],
        [t["b"], t["solved_b"], t["n_problems"]],
    ]
    lines += table(["checkpoint", "solved", "problems"], rows)
    lines += table(
        [
            "both solve",
            f"only {t['a']}",
            f"only {t['b']}",
            "neither",
            "exact McNemar p",
            "bootstrap 95 % CI of Pass@1 diff",
        ],
        [
            [
                t["both"],
                len(t["only_a"]),
                len(t["only_b"]),
                t["neither"],
                f"{t['mcnemar_p']:.4f}",
                f"[{t['bootstrap_ci95'][0]:+.3f}, {t['bootstrap_ci95'][1]:+.3f}]",
            ]
        ],
    )
    lines += [f"**{t['sentence']}**", ""]
    lines += [
        f"- only {t['a']}: {', '.join(t['only_a']) or '—'}",
        f"- only {t['b']}: {', '.join(t['only_b']) or '—'}",
        "",
    ]
    per_step = report["paired_per_step"]
    if per_step:
        lines += ["Same step, both arms (exploratory; not corrected for multiple comparisons):", ""]
        lines += table(
            ["step", t["arm_a"], t["arm_b"], f"only {t['arm_a']}", f"only {t['arm_b']}", "McNemar p"],
            [
                [
                    s["step"],
                    s["solved_a"],
                    s["solved_b"],
                    len(s["only_a"]),
                    len(s["only_b"]),
                    f"{s['mcnemar_p']:.3f}",
                ]
                for s in per_step
            ],
        )
    return lines


def matrix_section(report: dict) -> list[str]:
    lines = ["## Problem × checkpoint", ""]
    lines += figure(report, "problem_matrix", "problem by checkpoint heatmap")
    rows = []
    for run in report["runs"]:
        reg = run["regressions"]
        if reg is None:
            continue
        lost = ", ".join(f"{e['question_id']} ({e['solved_at']}→{e['lost_at']})" for e in reg["lost"]) or "—"
        rows.append(
            [
                run["name"],
                reg["ever_solved"],
                len(reg["always_solved"]),
                len(reg["gained"]),
                len(reg["lost"]),
                ", ".join(reg["forgotten_by_last"]) or "—",
                lost,
            ]
        )
    lines += ["Regressions: a problem solved at one checkpoint and failed at the next one (forgetting).", ""]
    lines += table(
        [
            "run",
            "ever solved",
            "always solved",
            "gains",
            "losses",
            "solved before, lost at the last",
            "losses (solved→lost step)",
        ],
        rows,
    )
    return lines


def failure_section(report: dict) -> list[str]:
    lines = ["## Failure anatomy", ""]
    lines += figure(report, "failures", "verdict breakdown per checkpoint")
    rows = [r for r in report["checkpoints"] if r.get("per_problem")]
    # AC always comes first, even when nothing passed, so the table reads the same for every report
    outcomes = sorted(
        {"AC"} | {k for r in rows for k in r["outcomes"]}, key=lambda k: (k.startswith("RE:"), k != "AC", k)
    )
    lines += [
        "<!-- table:outcomes -->",
        *table(
            ["checkpoint", *outcomes], [[r["id"], *(r["outcomes"].get(k, 0) for k in outcomes)] for r in rows]
        ),
    ]
    styles = sorted({k for r in rows for k in r["answer_styles"]})
    lines += [
        "`unextractable`: the answer has no fenced block and its text does not parse as Python (prose, or "
        "code with a syntax error), so nothing was run. `syntax error`: extracted code that Python rejected.",
        "",
        "How answers were written (extraction rule: `whole` = clean code, `fenced` = a ``` block, `trimmed` = "
        "prose around code, `none` = no parseable code, `given` = code supplied with the generations):",
        "",
        "<!-- table:styles -->",
        *table(
            ["checkpoint", *styles],
            [[r["id"], *(r["answer_styles"].get(k, 0) for k in styles)] for r in rows],
        ),
    ]
    return lines


def case_section(report: dict) -> list[str]:
    lines = ["## Case studies", ""]
    if not report["case_studies"]:
        return lines + ["No case studies: two runs with per-problem results are needed.", ""]
    lines += [
        "Problems where the arms differ most (different outcome at the reported checkpoints, then the "
        "largest gap in solve rate over all checkpoints).",
        "",
    ]
    for study in report["case_studies"]:
        lines += [f"### {study['question_id']}", ""]
        lines += table(
            ["", *(s["checkpoint"] for s in study["sides"])],
            [
                ["outcome", *(s["outcome"] for s in study["sides"])],
                [
                    "solved at (share of checkpoints)",
                    *(pct(s["solve_rate_over_checkpoints"]) + " %" for s in study["sides"]),
                ],
                ["extraction", *(s["extraction"] for s in study["sides"])],
                ["test verdicts", *(" ".join(s["verdicts"]) or "—" for s in study["sides"])],
            ],
        )
        for side in study["sides"]:
            lines += [
                f"**{side['checkpoint']}**",
                "",
                "```python",
                side["code"].rstrip() or "# (no code)",
                "```",
                "",
            ]
    return lines


def qualitative_section(report: dict) -> list[str]:
    lines = ["## Qualitative prompts", ""]
    q = report["qualitative"]
    if not q["available"]:
        return lines + [f"Unavailable: {q['reason']}", ""]
    lines += [
        f"Greedy decoding, at most {q['max_new_tokens']} new tokens, each run's reported checkpoint.",
        "",
    ]
    for item in q["answers"]:
        lines += [f"### {item['prompt']}", ""]
        for run, answer in item["answers"].items():
            lines += [f"**{run}**", "", "````text", answer.rstrip(), "````", ""]
    return lines


def harness_section(report: dict) -> list[str]:
    h = report.get("harness")
    if not h:
        return []
    lines = [
        "## Versus the original harness",
        "",
        f"Our judge's verdicts against the ones in `{h['reference']}` "
        "(same generations, first sample of each problem).",
        "",
    ]
    lines += table(["agreement", "answers"], [[k, v] for k, v in h["counts"].items()])
    lines += [
        "<!-- table:harness -->",
        *table(
            ["checkpoint", "solved (ours)", "solved (theirs)"],
            [[r["id"], r["ours"], r["theirs"]] for r in h["per_checkpoint"]],
        ),
    ]
    rows = [
        [
            d["question_id"],
            "pass" if d["theirs_passed"] else "fail",
            d["ours"],
            json.dumps(d["theirs_tests"]),
            len(d["checkpoints"]),
        ]
        for d in h["disagreements"]
    ]
    lines += ["Disagreements by problem:", ""]
    return lines + table(["problem", "theirs", "ours", "their test counts", "checkpoints"], rows)


def provenance_section(report: dict) -> list[str]:
    lines = ["## Provenance", ""]
    rows = []
    for r in report["checkpoints"]:
        if not r.get("per_problem"):
            rows.append([r["id"], f"{METRICS} only", r["revision"], "—", "—"])
            continue
        b, c = r["benchmark"], r["config"]
        sampling = c["sampling"] or {}
        config = (
            f"prompt={c['prompt_style']} T={sampling.get('temperature')} n={sampling.get('n')} "
            f"max_new_tokens={c['max_new_tokens']} judge={c['judge_version']}"
        )
        rows.append(
            [
                r["id"],
                cite("results", r["results_file"]),
                r["model"]["adapter"] or r["revision"] or "—",
                f"{b['source']} @ {b['revision']} ({b['test_scope']})",
                config,
            ]
        )
    lines += table(["checkpoint", "results file", "model revision", "benchmark", "config"], rows)
    inputs = ", ".join(f"`{s}`" for s in report["inputs"])
    lines += [f"Inputs: {inputs}. Every number above is also in `report.json`.", ""]
    return lines


def render(report: dict) -> str:
    lines = [f"# {report['title']}", ""]
    described = [
        f"**{r['name']}** ({r['arm']}, {r['source']}, {len(r['steps'])} checkpoints)" for r in report["runs"]
    ]
    lines += [f"Runs: {', '.join(described)}.", ""]
    if report["paired"]:
        lines += [f"Headline: {report['paired']['sentence']}", ""]
    for section in (
        training_section,
        benchmark_section,
        paired_section,
        matrix_section,
        failure_section,
        case_section,
        qualitative_section,
        harness_section,
        provenance_section,
    ):
        lines += section(report)
    return "\n".join(lines).rstrip() + "\n"
