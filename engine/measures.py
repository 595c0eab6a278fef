"""What the engine's processes measure for ``/metrics``: fixed-bucket histograms and the label of a NAK's reason.

A :class:`Histogram` keeps counts per bucket, not samples: observing is a bisect and two additions, a snapshot is a
few dozen integers however many were observed, and snapshots of several processes add up (:meth:`Buckets.merged`).
The buckets are Prometheus's: ``bounds`` are inclusive upper bounds, and one more bucket holds what is above the last.

A NAK's reason names the field at fault before a colon (``data.zone: expected str, got int``); the field is what a
metric may carry as a label (a bounded set), never the free text after it.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Final

LATENCY_BOUNDS_S: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""From half a millisecond (a journal commit) to ten seconds (an alarm held by a restarting host)."""


@dataclass(frozen=True, slots=True)
class Buckets:
    """A histogram's state at one moment: ``counts[i]`` values at most ``bounds[i]``, above the previous bound; the
    last count is above every bound."""

    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    sum: float = 0.0

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[float, int]]:
        """``(upper bound, values at most that)`` per bucket, the last one's bound ``inf`` (Prometheus's ``le``)."""
        out, total = [], 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts):
            total += n
            out.append((bound, total))
        return out

    def merged(self, other: Buckets) -> Buckets:
        if other.bounds != self.bounds:
            raise ValueError(f"bounds: cannot merge histograms of other buckets ({other.bounds} vs {self.bounds})")
        return Buckets(self.bounds, tuple(a + b for a, b in zip(self.counts, other.counts)), self.sum + other.sum)


def empty(bounds: tuple[float, ...] = LATENCY_BOUNDS_S) -> Buckets:
    return Buckets(bounds, (0,) * (len(bounds) + 1))


@dataclass(slots=True)
class Histogram:
    bounds: tuple[float, ...] = LATENCY_BOUNDS_S
    counts: list[int] = field(default_factory=list)
    sum: float = 0.0

    def __post_init__(self) -> None:
        if list(self.bounds) != sorted(set(self.bounds)):
            raise ValueError(f"bounds: expected increasing numbers, got {self.bounds}")
        if not self.counts:
            self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def snapshot(self) -> Buckets:
        return Buckets(self.bounds, tuple(self.counts), self.sum)


_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,47}")
UNAVAILABLE: Final = "unavailable"
"""The label of every "not now, send it again" NAK (``protocols.replies.RETRY_LATER``), whatever its host said."""


def reason_label(reason: str) -> str:
    """The field a NAK's reason names (``data.zone``), ``unavailable`` for a retry-later NAK, ``other`` for a reason
    that names no field."""
    if reason.startswith(UNAVAILABLE):
        return UNAVAILABLE
    head, colon, _ = reason.partition(":")
    return head if colon and _FIELD.fullmatch(head) else "other"
