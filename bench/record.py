"""Bench scripts print their side-by-side tables and keep them in reports/bench/<name>.txt, which the
README quotes (python -m model_cards.report.docs), so a quoted number always comes from a generated file."""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator

from codegen_lab.atomic import write_text_atomic  # the bench scripts put the repo on sys.path
from codegen_lab.paths import REPO_ROOT

REPORTS = REPO_ROOT / "reports" / "bench"


class _Tee(io.TextIOBase):
    def __init__(self, *streams):
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


@contextlib.contextmanager
def recorded(name: str) -> Iterator[None]:
    """Print as usual and write the same text to reports/bench/<name>.txt (only when the run completes)."""
    captured = io.StringIO()
    original = sys.stdout
    sys.stdout = _Tee(original, captured)
    try:
        yield
    finally:
        sys.stdout = original
    write_text_atomic(REPORTS / f"{name}.txt", captured.getvalue())
