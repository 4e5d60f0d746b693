"""The study report, one stage of its own: ``python -m model_cards.report --runs A B --output_dir DIR``.

The runs come from analysis.runs (run folders, Hub repos, folders of results files); numbers.py computes
every number of the report (comparisons through analysis.compare), figures.py (on analysis.figures) and
sections.py draw and write them, qualitative.py answers the fixed prompts; build.py is the entry that puts
them together into DIR/report.md and DIR/report.json (``model_cards.report.build``: ``build_report``,
``write_report``, ``ReportArguments``). The package itself imports nothing, so its modules never import
each other through it.
"""
