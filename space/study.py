"""The Space's Study tab: the latest study report (``python -m model_cards.report``) rendered in the page.

Reports are folders holding ``report.json`` and its figures: every folder under ``reports/`` (or the
folders in ``STUDY_REPORTS``, separated by ``:``), plus the Hub repo in ``STUDY_REPORT_REPO`` when set
(read through codegen_lab.hub). The latest one is shown first: the Hub report when configured, else the
local report written last. Everything shown comes from report.json, so the tab and report.md agree.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import gradio as gr

from codegen_lab.hub import Hub, HubError
from codegen_lab.paths import REPO_ROOT
from codegen_lab.run_folder import METRICS
from model_cards.report import sections

REPORTS_ENV = "STUDY_REPORTS"
REPORT_REPO_ENV = "STUDY_REPORT_REPO"
FIGURES = [
    ("pass_at_1", "Pass@1 per checkpoint (95 % Wilson interval)"),
    ("loss_curves", "Loss curves"),
    ("problem_matrix", "Problem × checkpoint"),
    ("failures", "Failure anatomy"),
]


def find_reports() -> dict[str, Path]:
    """{label: report folder}, latest first (a Hub report, then local ones by report.json time)."""
    reports: dict[str, Path] = {}
    repo = os.environ.get(REPORT_REPO_ENV)
    if repo:
        try:
            folder = Hub.from_env().download(repo)
            if (folder / "report.json").is_file():
                reports[f"hub:{repo}"] = folder
        except HubError:
            pass  # the Hub report is optional; local reports still show
    roots = [Path(p) for p in os.environ.get(REPORTS_ENV, "").split(os.pathsep) if p] or [
        REPO_ROOT / "reports"
    ]
    local = [p.parent for root in roots if root.is_dir() for p in root.glob("*/report.json")]
    local += [root for root in roots if (root / "report.json").is_file()]
    for folder in sorted(local, key=lambda p: (-(p / "report.json").stat().st_mtime, str(p))):
        label = os.path.relpath(folder, REPO_ROOT) if folder.is_relative_to(REPO_ROOT) else str(folder)
        reports[label] = folder
    return reports


def load_report(folder: Path) -> dict:
    return json.loads((folder / "report.json").read_text())


def headline(report: dict) -> str:
    runs = ", ".join(f"**{r['name']}** ({r['arm']}, {len(r['steps'])} checkpoints)" for r in report["runs"])
    sentence = report["paired"]["sentence"] if report["paired"] else report["paired_note"]
    return f"## {report['title']}\n\nRuns: {runs}.\n\n**{sentence}**"


def checkpoint_rows(report: dict) -> list[list]:
    return [
        [
            r["run"],
            r["step"],
            r["n_solved"],
            r["n_problems"],
            sections.pct(r["pass@1"]),
            sections.ci(r["ci95"]),
            sections.pct(r.get("validation_pass@1")),
            r["results_file"] or f"{METRICS} only",
        ]
        for r in report["checkpoints"]
    ]


CHECKPOINT_HEADERS = [
    "run",
    "step",
    "solved",
    "problems",
    "Pass@1 %",
    "95 % CI",
    "validation Pass@1 %",
    "results file",
]


def best_markdown(report: dict) -> str:
    lines = sections.benchmark_section(report)
    return "\n".join(lines[lines.index("### Reported checkpoint of each run") :])


def paired_markdown(report: dict) -> str:
    return "\n".join(sections.paired_section(report)[1:])


def regressions_markdown(report: dict) -> str:
    return "\n".join(line for line in sections.matrix_section(report)[1:] if not line.startswith("!["))


def case_choices(report: dict) -> list[str]:
    return [study["question_id"] for study in report["case_studies"]]


def case_sides(report: dict, question_id: str | None) -> tuple[str, str, str, str]:
    """(summary A, code A, summary B, code B) of one case study."""
    study = next((s for s in report["case_studies"] if s["question_id"] == question_id), None)
    if study is None:
        return "No case study.", "", "", ""
    out = []
    for side in study["sides"]:
        mark = "✅ solved" if side["passed"] else f"❌ {side['outcome']}"
        verdicts = " ".join(side["verdicts"]) or "—"
        out += [
            f"**{side['checkpoint']}** — {mark}  \nextraction `{side['extraction']}` · tests: {verdicts} · solved at "
            f"{sections.pct(side['solve_rate_over_checkpoints'])} % of checkpoints",
            side["code"],
        ]
    return tuple(out)


def qualitative_markdown(report: dict) -> str:
    return "\n".join(sections.qualitative_section(report)[1:])


def provenance_markdown(report: dict) -> str:
    return "\n".join(sections.provenance_section(report)[1:])


def figure_path(folder: Path, report: dict, name: str) -> str | None:
    file = report["figures"].get(name)
    return str(folder / file) if file else None


def report_view(folder: Path) -> dict:
    """Every value the tab shows for one report folder, by component."""
    report = load_report(folder)
    choices = case_choices(report)
    first = choices[0] if choices else None
    left_info, left_code, right_info, right_code = case_sides(report, first)
    return {
        "source": f"`{folder}`",
        "headline": headline(report),
        **{name: figure_path(folder, report, name) for name, _ in FIGURES},
        "table": checkpoint_rows(report),
        "best": best_markdown(report),
        "paired": paired_markdown(report),
        "regressions": regressions_markdown(report),
        "cases": choices,
        "left_info": left_info,
        "left_code": left_code,
        "right_info": right_info,
        "right_code": right_code,
        "qualitative": qualitative_markdown(report),
        "provenance": provenance_markdown(report),
    }


def build_study_tab() -> None:
    """The Study components and events, inside the caller's ``gr.Tab``."""
    reports = find_reports()
    if not reports:
        gr.Markdown(
            "No study report yet. Build one with `python -m model_cards.report --runs RUN_A RUN_B --output_dir "
            f"reports/NAME`, or set `{REPORT_REPO_ENV}` to a Hub repo holding one."
        )
        return
    labels = list(reports)
    view = report_view(reports[labels[0]])
    c = {}
    with gr.Row():
        choice = gr.Dropdown(labels, value=labels[0], label="Report", scale=4, elem_id="study-report")
        c["source"] = gr.Markdown(view["source"], elem_id="study-source")
    c["headline"] = gr.Markdown(view["headline"], elem_id="study-headline")

    def image(name: str, label: str):
        c[name] = gr.Image(
            view[name],
            label=label,
            type="filepath",
            interactive=False,
            visible=view[name] is not None,
            elem_id=f"study-{name}",
        )

    with gr.Row():
        for name, label in FIGURES[:2]:
            image(name, label)
    c["table"] = gr.Dataframe(
        view["table"],
        headers=CHECKPOINT_HEADERS,
        interactive=False,
        label="Every checkpoint",
        elem_id="study-table",
    )
    c["best"] = gr.Markdown(view["best"], elem_id="study-best")
    gr.Markdown("### Deep vs diverse: paired test on the same problems")
    c["paired"] = gr.Markdown(view["paired"], elem_id="study-paired")
    with gr.Row():
        for name, label in FIGURES[2:]:
            image(name, label)
    c["regressions"] = gr.Markdown(view["regressions"], elem_id="study-regressions")
    gr.Markdown("### Case studies: both arms' code side by side")
    first_case = view["cases"][0] if view["cases"] else None
    c["cases"] = gr.Dropdown(view["cases"], value=first_case, label="Problem", elem_id="study-case")
    with gr.Row():
        for side in ("left", "right"):
            with gr.Column():
                c[f"{side}_info"] = gr.Markdown(view[f"{side}_info"], elem_id=f"study-case-{side}")
                c[f"{side}_code"] = gr.Code(
                    view[f"{side}_code"], language="python", label="code", elem_id=f"study-code-{side}"
                )
    with gr.Accordion("Qualitative prompts", open=False):
        c["qualitative"] = gr.Markdown(view["qualitative"], elem_id="study-qualitative")
    with gr.Accordion("Provenance: results files, model and benchmark revisions, config", open=False):
        c["provenance"] = gr.Markdown(view["provenance"], elem_id="study-provenance")

    keys = list(c)

    def show(label: str):
        new = report_view(reports[label])
        new["cases"] = gr.Dropdown(choices=new["cases"], value=new["cases"][0] if new["cases"] else None)
        for name, _ in FIGURES:
            new[name] = gr.Image(new[name], visible=new[name] is not None)
        return [new[k] for k in keys]

    def show_case(label: str, question_id: str | None):
        return case_sides(load_report(reports[label]), question_id)

    sides = [c["left_info"], c["left_code"], c["right_info"], c["right_code"]]
    choice.change(show, choice, [c[k] for k in keys])
    c["cases"].input(show_case, [choice, c["cases"]], sides)
