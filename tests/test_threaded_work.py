"""space.threaded_work: reports in order, errors re-raised in the reader, early close halts and joins."""

from __future__ import annotations

import threading

import pytest

from space.threaded_work import END, IDLE, stream_reports


def test_reports_then_the_return_value():
    def work(report):
        for i in range(3):
            report("step", i)
        return "result"

    events = list(stream_reports(work, threading.Event(), name="t"))
    assert events == [("step", 0), ("step", 1), ("step", 2), (END, "result")]


def test_an_error_in_the_work_is_raised_in_the_reader():
    def work(report):
        report("step", 0)
        raise ValueError("bad adapter")

    reports = stream_reports(work, threading.Event(), name="t")
    assert next(reports) == ("step", 0)
    with pytest.raises(ValueError, match="bad adapter"):
        next(reports)


def test_closing_early_halts_the_work_and_waits_for_it():
    halt, finished = threading.Event(), threading.Event()

    def work(report):
        while not halt.wait(0.01):
            report("tick", None)
        finished.set()

    reports = stream_reports(work, halt, name="t")
    assert next(reports) == ("tick", None)
    reports.close()
    assert halt.is_set() and finished.is_set()  # joined: the thread did not outlive the reader


def test_idle_events_while_the_work_is_quiet():
    release = threading.Event()

    def work(report):
        release.wait(5)
        return 1

    reports = stream_reports(work, threading.Event(), name="t", poll=0.01)
    assert next(reports) == (IDLE, None)
    release.set()
    assert [kind for kind, _ in reports][-1] == END
