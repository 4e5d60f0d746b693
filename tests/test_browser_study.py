"""The Study tab in a real browser: a report built here is shown with its figures, tables, paired test
and both arms' code side by side (screenshot in test-artifacts/)."""

from __future__ import annotations

import json

import pytest

from model_cards.report.build import ReportArguments, write_report
from tests.helpers import ARTIFACTS, course_results


@pytest.mark.browser
def test_study_tab_shows_the_report(tmp_path, app_server, browser_page):
    reports = tmp_path / "reports"
    results = course_results(tmp_path / "results" / "course")
    write_report(
        ReportArguments(runs=[str(results)], output_dir=str(reports / "course"), no_qualitative=True)
    )
    report = json.loads((reports / "course" / "report.json").read_text())

    url = app_server({"BASE_MODEL": "embedded:smollm2", "STUDY_REPORTS": str(reports)})
    page = browser_page
    page.goto(url)
    page.get_by_role("tab", name="Study").click()

    headline = page.locator("#study-headline")
    headline.get_by_text("No significant difference at n=41").wait_for(timeout=30_000)
    for name in report["figures"]:
        image = page.locator(f"#study-{name} img")
        image.wait_for(state="attached", timeout=30_000)
        image.scroll_into_view_if_needed()
        page.wait_for_function(
            "id => { const img = document.querySelector(`#${id} img`); return img.complete && img.naturalWidth > 100; }",
            arg=f"study-{name}",
            timeout=30_000,
        )
    assert (
        page.locator("#study-loss_curves").count() == 0 or not page.locator("#study-loss_curves").is_visible()
    )
    table = page.locator("#study-table")
    first = report["checkpoints"][0]
    assert f"{100 * first['pass@1']:.1f}" in table.inner_text()
    paired = page.locator("#study-paired").inner_text()
    assert f"{report['paired']['mcnemar_p']:.4f}" in paired and "only deep_instruction@846" in paired

    study = report["case_studies"][0]
    left, right = (page.locator(f"#study-code-{side}") for side in ("left", "right"))
    first_line = next(line for line in study["sides"][0]["code"].splitlines() if line.strip())
    assert first_line.strip() in left.inner_text()
    assert study["sides"][1]["checkpoint"] in page.locator("#study-case-right").inner_text()
    assert left.inner_text() != right.inner_text()

    # another case study replaces both codes
    second = report["case_studies"][1]
    page.locator("#study-case input").click()
    page.get_by_role("option", name=second["question_id"]).click()
    page.locator("#study-case-left").get_by_text(second["sides"][0]["checkpoint"]).wait_for()
    other_line = next(line for line in second["sides"][1]["code"].splitlines() if line.strip())
    page.locator("#study-code-right").get_by_text(other_line.strip()).first.wait_for(timeout=15_000)

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "study_tab.png"), full_page=True)
