"""What a scenario run measures: alarm latency in an HDR histogram, throughput over time, and the
checker's verdict on every alarm sent.

Latency is *device send → incident raised* when the run has its own engine (the host's ``raised_s`` minus
the moment the alarm left the simulator, one clock), and *device publish → ack received* when it talks to
another engine over MQTT (the ack leaves only after the journal write, so it bounds the raise from above).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

from protocols.records import IncidentRecord
from protocols.replies import Ack
from simulation.checker import check_alarms

MAX_LATENCY_US = 60_000_000
MAX_POINTS = 100_000


@dataclass
class RunMetrics:
    sent: dict[tuple[str, int], float] = field(default_factory=dict)
    incidents: dict[str, IncidentRecord] = field(default_factory=dict)
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (run time s, latency ms)
    throughput: list[tuple[float, int, int | None]] = field(default_factory=list)  # (t, sent, taken)
    histogram: HdrHistogram = field(default_factory=lambda: HdrHistogram(1, MAX_LATENCY_US, 3))
    measured_by: str = "raised"

    def alarm_sent(self, device_id: str, seq: int, at_s: float) -> None:
        self.sent.setdefault((device_id, seq), at_s)

    def incident(self, record: IncidentRecord, *, new: bool, t0_s: float) -> None:
        self.incidents[record.id] = record
        sent_at = self.sent.get((record.device_id, record.seq)) if new else None
        if sent_at is not None:
            self._record(record.raised_s - sent_at, record.raised_s - t0_s)

    def acked(self, device_id: str, ack: Ack, at_s: float, *, t0_s: float) -> None:
        self.measured_by = "ack"
        sent_at = self.sent.get((device_id, ack.seq)) if ack.ok and not ack.duplicate else None
        if sent_at is not None:
            self._record(at_s - sent_at, at_s - t0_s)

    def sample(self, t_s: float, sent: int, taken: int | None) -> None:
        self.throughput.append((round(t_s, 2), sent, taken))

    def _record(self, latency_s: float, at_run_s: float) -> None:
        latency_ms = max(0.0, latency_s * 1000)
        self.latencies.append((round(at_run_s, 3), round(latency_ms, 3)))
        self.histogram.record_value(max(1, min(MAX_LATENCY_US, int(latency_ms * 1000))))

    def finish(self, *, engine_seen: bool) -> dict:
        h = self.histogram
        count = h.get_total_count()
        summary: dict = {
            "alarm_latency": {
                "measured": f"device send → incident {self.measured_by}" if self.measured_by == "raised"
                else "device publish → ack received",
                "count": count,
                **({"p50_ms": h.get_value_at_percentile(50) / 1000, "p99_ms": h.get_value_at_percentile(99) / 1000,
                    "max_ms": h.get_max_value() / 1000} if count else {}),
            },
            "throughput": [{"t_s": t, "sent": s, "taken": k} for t, s, k in self.throughput],
            "latencies": self.latencies[:MAX_POINTS],
        }
        if engine_seen:
            summary["checker"] = check_alarms(self.sent, self.incidents.values()).to_json()
        return summary


def lateness_summary(lateness_s: list[float]) -> dict:
    """Escalation deadlines: how late each fired, p50/p99/max in an HDR histogram (microsecond precision)."""
    h = HdrHistogram(1, MAX_LATENCY_US, 3)
    for late in lateness_s:
        h.record_value(max(1, min(MAX_LATENCY_US, int(late * 1_000_000))))
    count = h.get_total_count()
    return {"count": count, **({"p50_ms": h.get_value_at_percentile(50) / 1000,
                                "p99_ms": h.get_value_at_percentile(99) / 1000,
                                "max_ms": h.get_max_value() / 1000} if count else {})}
