"""A host's timings for ``/metrics``: how long its steps take and how long its journal takes to commit one, kept
as fixed-bucket histograms (``engine/measures.py``) in the host's process and handed out with its counters."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from engine.hosting.stats import HostStats
from engine.measures import Buckets, Histogram


@dataclass(frozen=True, slots=True)
class HostMetrics:
    """What ``HostActor.metrics`` returns."""

    stats: HostStats
    step_s: Buckets
    """Every call into the core (an ingest batch, a delivery, a command, a desk request), journal write included."""
    journal_commit_s: Buckets
    """Each journal write (one per step that changed anything), successful or not."""


class HostTimings:
    def __init__(self) -> None:
        self.step_s = Histogram()
        self.journal_commit_s = Histogram()

    @contextlib.contextmanager
    def step(self):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.step_s.observe(time.perf_counter() - started)

    def timed(self, journal):
        """``journal`` with its writes timed into :attr:`journal_commit_s`."""
        return TimedJournal(journal, self.journal_commit_s)

    def report(self, stats: HostStats) -> HostMetrics:
        return HostMetrics(stats, self.step_s.snapshot(), self.journal_commit_s.snapshot())


class TimedJournal:
    """A journal whose ``write`` is timed; everything else is the journal's own (attributes and methods alike)."""

    def __init__(self, journal, histogram: Histogram) -> None:
        self._journal = journal
        self._histogram = histogram

    def write(self, batch) -> None:
        started = time.perf_counter()
        try:
            self._journal.write(batch)
        finally:
            self._histogram.observe(time.perf_counter() - started)

    def __getattr__(self, name: str):
        return getattr(self._journal, name)

    def __setattr__(self, name: str, value) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:  # (a test's fault injection: ``journal.fail_writes = ...``)
            setattr(self._journal, name, value)
