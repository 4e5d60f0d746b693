"""The study report, one stage of its own: ``python -m model_cards.report --runs A B --output_dir DIR``.

data.py reads runs (run folders, Hub repos, folders of results files), analysis.py computes every number,
figures.py and sections.py draw and write them, qualitative.py answers the fixed prompts; build.py is the
entry that puts them together into DIR/report.md and DIR/report.json.
"""

from model_cards.report.build import ReportArguments, build_report, main, write_report

__all__ = ["ReportArguments", "build_report", "main", "write_report"]
