"""One deadline heap per host, not a task per incident. Rescheduling or cancelling a key leaves its old
heap entry behind; it is skipped when it surfaces (lazy deletion), so each key costs one live entry."""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Iterator
from itertools import count


class DeadlineScheduler:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Hashable]] = []
        self._due: dict[Hashable, float] = {}
        self._tiebreak = count()

    def schedule(self, key: Hashable, due_s: float) -> None:
        """Set (or move) the one deadline of ``key``."""
        if self._due.get(key) == due_s:
            return
        self._due[key] = due_s
        heapq.heappush(self._heap, (due_s, next(self._tiebreak), key))
        if len(self._heap) > 2 * len(self._due) + 1024:
            self._compact()

    def cancel(self, key: Hashable) -> None:
        self._due.pop(key, None)

    def due_of(self, key: Hashable) -> float | None:
        return self._due.get(key)

    def next_due_s(self) -> float | None:
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now_s: float) -> tuple[float, Hashable] | None:
        """The earliest deadline at or before ``now_s`` (removed), or None."""
        self._drop_stale()
        if not self._heap or self._heap[0][0] > now_s:
            return None
        due_s, _, key = heapq.heappop(self._heap)
        del self._due[key]
        return due_s, key

    def drain_due(self, now_s: float) -> Iterator[tuple[float, Hashable]]:
        while (item := self.pop_due(now_s)) is not None:
            yield item

    def __len__(self) -> int:
        return len(self._due)

    def keys(self) -> list[Hashable]:
        return list(self._due)

    def _drop_stale(self) -> None:
        heap, due = self._heap, self._due
        while heap and due.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)

    def _compact(self) -> None:
        self._heap = [(d, n, k) for d, n, k in self._heap if self._due.get(k) == d]
        heapq.heapify(self._heap)
