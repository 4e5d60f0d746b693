"""The Study tab's data side: which reports it finds (local folders, a Hub repo) and what it shows of one."""

from __future__ import annotations

import json

import gradio as gr

from codegen_lab.hub import Hub
from model_cards.report.build import ReportArguments, write_report
from space import study
from tests.helpers import course_results


def test_study_tab_finds_local_and_hub_reports_and_renders_them(tmp_path, monkeypatch):
    results = course_results(tmp_path / "results" / "course")
    reports = tmp_path / "reports"
    write_report(
        ReportArguments(runs=[str(results)], output_dir=str(reports / "course"), no_qualitative=True)
    )
    hub = Hub.from_env()
    hub.create_repo("me/study-report")
    hub.upload_folder("me/study-report", reports / "course")
    monkeypatch.setenv(study.REPORTS_ENV, str(reports))
    assert list(study.find_reports()) == [str(reports / "course")]

    monkeypatch.setenv(study.REPORT_REPO_ENV, "me/study-report")
    found = study.find_reports()
    assert list(found)[0] == "hub:me/study-report"  # the published report comes first

    report = json.loads((reports / "course" / "report.json").read_text())
    view = study.report_view(found["hub:me/study-report"])
    assert report["paired"]["sentence"] in view["headline"]
    assert view["loss_curves"] is None and view["pass_at_1"].endswith("pass_at_1.png")
    assert [row[4] for row in view["table"]] == [f"{100 * r['pass@1']:.1f}" for r in report["checkpoints"]]
    assert f"{report['paired']['mcnemar_p']:.4f}" in view["paired"]
    first = report["case_studies"][0]
    assert view["cases"][0] == first["question_id"]
    assert view["left_code"] == first["sides"][0]["code"] and view["right_code"] == first["sides"][1]["code"]
    assert "Unavailable" in view["qualitative"]

    monkeypatch.setenv(study.REPORT_REPO_ENV, "me/missing")  # an unreachable Hub report is skipped
    assert list(study.find_reports()) == [str(reports / "course")]
    with gr.Blocks():
        study.build_study_tab()


def test_study_tab_without_reports_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.setenv(study.REPORTS_ENV, str(tmp_path / "none"))
    assert study.find_reports() == {}
    with gr.Blocks() as demo:
        study.build_study_tab()
    assert any("python -m model_cards.report" in str(getattr(b, "value", "")) for b in demo.blocks.values())
