"""The study's analysis layer, one idea per module, called by the Space's tabs, the report and the CLI.

``runs.py``: the data model (an `Evaluation`, a run's `Checkpoint`s, a `Run`) and its loaders;
``compare.py``: the problem matrix, the paired comparison and the one sentence that reports it, Pass@1
against step; ``figures.py``: loss curves, Pass@1 against step and the problem heatmap as matplotlib
figures (the Space shows them, the report and the trainer save them). The statistics themselves are
``evaluation.metrics``.
"""
