"""The Leaderboard and Benchmark tabs in a real browser: shipped and local rows, filters, the plots, the
paired comparison; then a benchmark run with live progress, cancelled.
Screenshots in test-artifacts/."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from space.results_store import ResultsStore
from tests.helpers import ARTIFACTS, solving, write_results


def _wait_for_text(page, selector: str, text: str, timeout: float = 30_000) -> None:
    page.wait_for_function(
        "([sel, text]) => (document.querySelector(sel)?.innerText || '').includes(text)",
        arg=[selector, text],
        timeout=timeout,
    )


def _wait_for_image(page, elem_id: str) -> None:
    """The plot's image is there and no longer being recomputed (values are recomputed on page load)."""
    page.locator(f"#{elem_id} img").first.wait_for(state="attached", timeout=30_000)
    page.wait_for_function(
        "id => !document.querySelector(`#${id}`).innerText.includes('processing')",
        arg=elem_id,
        timeout=30_000,
    )
    page.wait_for_function(
        "id => { const img = document.querySelector(`#${id} img`); return img && img.complete && img.naturalWidth > 100; }",
        arg=elem_id,
        timeout=30_000,
    )


@pytest.mark.browser
def test_leaderboard_and_benchmark_tabs(tmp_path, app_server, browser_page, monkeypatch):
    outputs = tmp_path / "outputs"
    for run, arm, counts in (("deep-run", "deep", (2, 4)), ("diverse-run", "diverse", (3, 6))):
        for step, n_solved in zip((100, 200), counts, strict=True):
            name = f"{run}@step-{step:06d}"
            write_results(
                outputs / run / "results", name, solving(*range(n_solved)), run=run, step=step, arm=arm
            )
        history = [{"step": s, "loss": 3.0 / (1 + s / 50)} for s in range(10, 210, 10)]
        (outputs / run / "loss_history.json").write_text(json.dumps(history))
    url = app_server({"BASE_MODEL": "embedded:smollm2", "CODEGEN_LAB_OUTPUTS": str(outputs)})
    page = browser_page
    page.goto(url)
    page.get_by_role("tab", name="Leaderboard").click()

    monkeypatch.setenv("CODEGEN_LAB_OUTPUTS", str(tmp_path / "no-outputs"))  # not the developer's own runs
    shipped = ResultsStore.from_env().rows()  # the study's 18 checkpoints, 16 LCB models, the demo adapters
    n_rows = len(shipped) + 4
    _wait_for_text(page, "#leaderboard-status", f"{n_rows} of {n_rows} evaluated")
    for plot in ("leaderboard-steps", "leaderboard-heatmap", "leaderboard-loss"):
        _wait_for_image(page, plot)
    page.locator("#leaderboard-compare").click()  # defaults: the best deep and the best diverse row
    _wait_for_text(page, "#leaderboard-comparison", "exact McNemar p", 15_000)
    comparison = page.locator("#leaderboard-comparison").inner_text()
    assert "0 problems only deep-run@step-000200 solves, 2 only diverse-run@" in comparison
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "leaderboard_tab.png"), full_page=True)

    # The table is virtualised, so look for rows after searching for them.
    table = page.locator("#leaderboard-table")
    search = page.locator("#leaderboard-search textarea")
    searches = {  # words -> (rows found, text that must show)
        "diverse-run": (2, ["diverse-run@step-000100", "diverse-run@step-000200", "31.3–83.2"]),
        "deep_instruction": (9, [r.key for r in shipped if r.run == "deep_instruction"]),
        "GPT": (3, ["GPT-4O-2024-08-06", "GPT-4O-mini-2024-07-18", "GPT-4-Turbo-2024-04-09", "78.3"]),
    }
    for words, (n_found, expected) in searches.items():
        search.fill(words)
        search.press("Enter")
        _wait_for_text(page, "#leaderboard-status", f"{n_found} of {n_rows} evaluated", 15_000)
        text = table.inner_text()
        assert all(item in text for item in expected), words
    assert len(searches["deep_instruction"][1]) == 9

    # A benchmark run shows live progress and can be cancelled (a full run is the unit tests' job: on a
    # shared 2-core machine even 5 problems of the embedded model take minutes).
    page.get_by_role("tab", name="Benchmark").click()
    tokens = page.locator("#benchmark-max-new-tokens input[type=number]")
    tokens.fill("32")
    tokens.press("Enter")
    page.locator("#benchmark-run").click()
    page.wait_for_function(  # polled every frame: a progress line lasts at least the model's load
        "() => /[0-5]\\/5 problems judged/.test(document.querySelector('#benchmark-status textarea').value)",
        timeout=60_000,
    )
    page.locator("#benchmark-cancel").click()  # the run stops before its next batch
    status = page.locator("#benchmark-status textarea")
    # The run itself writes every status line, so its last one is the cancellation, whatever the timing.
    expect(status).to_have_value(re.compile(r"^Cancelled .* after [0-4]/5 problems"), timeout=60_000)
    assert "run it again to resume" in status.input_value()
    page.screenshot(path=str(ARTIFACTS / "benchmark_tab.png"), full_page=True)
