"""The change stream: every incident change a host makes, queued (bounded) for observers to take."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from engine.hosting.stats import Counters
from protocols.records import IncidentRecord


@dataclass(frozen=True, slots=True)
class Change:
    """An incident changed: the record, and the index of its first new timeline entry."""

    record: IncidentRecord
    new_from: int


class ChangeStream:
    """Bounded: when full, the oldest change is dropped (and counted). A :class:`~engine.hosting.staging.StepOutput`."""

    def __init__(self, *, max_changes: int, counters: Counters) -> None:
        self.queue: deque[Change] = deque(maxlen=max_changes)
        self._counters = counters
        self._added = 0  # by the current step

    def add(self, record: IncidentRecord, before: IncidentRecord | None) -> None:
        if len(self.queue) == self.queue.maxlen:
            self._counters.changes_dropped += 1
        self.queue.append(Change(record, len(before.timeline) if before is not None else 0))
        self._added += 1

    def take(self) -> list[Change]:
        out = list(self.queue)
        self.queue.clear()
        return out

    def keep(self) -> None:
        self._added = 0

    def take_back(self) -> None:
        for _ in range(min(self._added, len(self.queue))):
            self.queue.pop()
        self._added = 0
