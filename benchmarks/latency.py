"""One percentile method for every benchmark: an HDR histogram (microsecond resolution, 3 significant digits,
up to 60 s), summed up as count, p50, p99 and max in milliseconds. Every latency figure in ``redband bench``
comes from here, so two programs' p99s mean the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable

from hdrh.histogram import HdrHistogram

MAX_LATENCY_US = 60_000_000


class Latencies:
    """Latencies recorded one by one (in seconds or milliseconds), summed up by :meth:`summary`."""

    def __init__(self) -> None:
        self._h = HdrHistogram(1, MAX_LATENCY_US, 3)
        self.clipped = 0

    def record_s(self, seconds: float) -> None:
        self.record_ms(seconds * 1000)

    def record_ms(self, ms: float) -> None:
        us = max(1, round(ms * 1000))
        if us > MAX_LATENCY_US:
            self.clipped += 1
            us = MAX_LATENCY_US
        self._h.record_value(us)

    @property
    def count(self) -> int:
        return self._h.get_total_count()

    def percentile_ms(self, p: float) -> float | None:
        return round(self._h.get_value_at_percentile(p) / 1000, 3) if self.count else None

    def summary(self) -> dict:
        """``{"count", "p50_ms", "p99_ms", "max_ms"}`` (the percentiles None when nothing was recorded)."""
        return {"count": self.count, "p50_ms": self.percentile_ms(50), "p99_ms": self.percentile_ms(99),
                "max_ms": round(self._h.get_max_value() / 1000, 3) if self.count else None,
                **({"clipped_at_60s": self.clipped} if self.clipped else {})}


def summary_ms(values_ms: Iterable[float]) -> dict:
    """The summary of latencies given in milliseconds."""
    latencies = Latencies()
    for value in values_ms:
        latencies.record_ms(value)
    return latencies.summary()
