"""Run blocking model work in a thread and stream what it reports into a Gradio generator.

Gradio handlers are generators; model generation and benchmark runs block. Both tabs hand their work a
``report(kind, payload)`` callback and read the reports here, in the session's thread, where errors are
re-raised and where closing the generator (a closed tab, an error) tells the work to stop and waits.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

Report = Callable[[str, Any], None]
IDLE = "idle"  # yielded every ``poll`` seconds without a report, so the reader can look at its flags
END = "end"  # the last event; its payload is what the work returned


def stream_reports(
    work: Callable[[Report], Any], halt: threading.Event, *, name: str, poll: float | None = None
) -> Iterator[tuple[str, Any]]:
    """Yield ``(kind, payload)`` for each report of ``work(report)``, then ``(END, its return value)``.

    ``halt`` is set when the reader stops early, for the work to notice and return; the generator joins
    the thread before it closes, so nothing outlives the request that started it.
    """
    events: queue.Queue = queue.Queue()

    def run() -> None:
        try:
            events.put((END, work(lambda kind, payload: events.put((kind, payload)))))
        except Exception as err:  # re-raised in the reader's thread
            events.put(("error", err))

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    try:
        while True:
            try:
                kind, payload = events.get(timeout=poll)
            except queue.Empty:
                yield IDLE, None
                continue
            if kind == "error":
                raise payload
            yield kind, payload
            if kind == END:
                return
    finally:
        halt.set()
        worker.join()
