"""What a scenario run measures: alarm latency along each path it can see (HDR histograms), throughput over
time, telemetry taken, and the checker's verdict on every alarm sent.

The paths, each from the instant the alarm was due to leave its device, by the scenario's schedule (one machine, one
clock): a driver or fleet that falls behind its schedule adds to the latency, it is not hidden (stamped when the driver
handed them over, a storm's alarms that waited for the simulator were measured from after their wait):

- ``raised``: device send → incident raised (the host's ``raised_s``), when the run sees the engine's changes;
- ``ack``: device publish → ack received, over MQTT (the ack leaves only after the journal write);
- ``console``: device publish → the incident's first frame received by an operator's console.

``alarm_latency`` is the first of them the run measured (raised, else ack, else console); ``latency_paths``
has every one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

from protocols.replies import Ack
from simulation.checker import check_alarms, opener_seq

MAX_LATENCY_US = 60_000_000
MAX_POINTS = 100_000
PATHS = {
    "raised": "device send → incident raised",
    "ack": "device publish → ack received",
    "console": "device publish → console received",
}


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, MAX_LATENCY_US, 3)


def _summary(h: HdrHistogram) -> dict:
    count = h.get_total_count()
    return {"count": count, **({"p50_ms": h.get_value_at_percentile(50) / 1000,
                                "p99_ms": h.get_value_at_percentile(99) / 1000,
                                "max_ms": h.get_max_value() / 1000} if count else {})}


@dataclass
class LatencyPath:
    histogram: HdrHistogram = field(default_factory=_histogram)
    points: list[tuple[float, float]] = field(default_factory=list)  # (run time s, latency ms), the first MAX_POINTS

    def record(self, latency_s: float, at_run_s: float) -> None:
        latency_ms = max(0.0, latency_s * 1000)
        if len(self.points) < MAX_POINTS:
            self.points.append((round(at_run_s, 3), round(latency_ms, 3)))
        self.histogram.record_value(max(1, min(MAX_LATENCY_US, int(latency_ms * 1000))))


@dataclass
class RunMetrics:
    sent: dict[tuple[str, int], float] = field(default_factory=dict)
    incidents: dict[str, object] = field(default_factory=dict)
    """The newest copy of every incident seen: engine records, or console views (same fields the checker reads)."""
    incidents_from: str = ""
    """Where the checker reads the incidents: ``engine`` (its changes), ``console`` (an operator's views), or ""
    (no source: no verdict)."""
    paths: dict[str, LatencyPath] = field(default_factory=lambda: {name: LatencyPath() for name in PATHS})
    throughput: list[tuple[float, int, int | None]] = field(default_factory=list)  # (t, sent, taken)
    telemetry: dict | None = None
    alarm_lane: dict | None = None
    """The bridges' alarm lane over the run (``alarm_lane_figures``), when the engine is in sight."""
    acked_alarms: set[tuple[str, int]] = field(default_factory=set)
    """Alarms sent that got a positive ack (first or repeated: each counted once)."""

    def alarm_sent(self, device_id: str, seq: int, at_s: float) -> None:
        self.sent.setdefault((device_id, seq), at_s)

    def incident(self, record, *, new: bool, t0_s: float) -> None:
        """An engine change (``IncidentRecord``); ``new`` when it is the incident's first."""
        self.incidents[record.id] = record
        sent_at = self.sent.get((record.device_id, opener_seq(record.id))) if new else None
        if sent_at is not None:
            self.paths["raised"].record(record.raised_s - sent_at, record.raised_s - t0_s)

    def console_saw(self, view, arrived_s: float, *, first: bool, t0_s: float) -> None:
        """A console frame carrying ``view`` (an ``IncidentView``) arrived; ``first`` for its first sighting."""
        if self.incidents_from == "console":  # the engine's own records win when the run has them
            current = self.incidents.get(view.id)
            if current is None or current.version <= view.version:
                self.incidents[view.id] = view
        sent_at = self.sent.get((view.device_id, opener_seq(view.id))) if first else None
        if sent_at is not None:
            self.paths["console"].record(arrived_s - sent_at, arrived_s - t0_s)

    def acked(self, device_id: str, ack: Ack, at_s: float, *, t0_s: float) -> None:
        if ack.ok and (device_id, ack.seq) in self.sent:
            self.acked_alarms.add((device_id, ack.seq))
        sent_at = self.sent.get((device_id, ack.seq)) if ack.ok and not ack.duplicate else None
        if sent_at is not None:
            self.paths["ack"].record(at_s - sent_at, at_s - t0_s)

    def sample(self, t_s: float, sent: int, taken: int | None) -> None:
        self.throughput.append((round(t_s, 2), sent, taken))

    def primary(self) -> str:
        return next((name for name in PATHS if self.paths[name].histogram.get_total_count()), "raised")

    def p99_ms(self) -> float | None:
        h = self.paths[self.primary()].histogram
        return h.get_value_at_percentile(99) / 1000 if h.get_total_count() else None

    @property
    def alarms_measured(self) -> int:
        return self.paths[self.primary()].histogram.get_total_count()

    def finish(self, *, checker_scope: Iterable[str] | None = None) -> dict:
        """``checker_scope``: the devices whose alarms the incidents seen cover (None: every device; the
        checker is left out when no incident source was seen at all)."""
        primary = self.primary()
        summary: dict = {
            "alarm_latency": {"measured": PATHS[primary], "path": primary,
                              **_summary(self.paths[primary].histogram)},
            "latency_paths": {name: {"measured": PATHS[name], **_summary(p.histogram)}
                              for name, p in self.paths.items() if p.histogram.get_total_count()},
            "throughput": [{"t_s": t, "sent": s, "taken": k} for t, s, k in self.throughput],
            "latencies": self.paths[primary].points,
            "latency_points": {name: p.points for name, p in self.paths.items() if p.points},
        }
        if self.telemetry is not None:
            summary["telemetry"] = self.telemetry
        if self.alarm_lane is not None:
            summary["alarm_lane"] = self.alarm_lane
        if self.incidents_from:
            sent = self.sent if checker_scope is None else {
                key: at for key, at in self.sent.items() if key[0] in set(checker_scope)}
            summary["checker"] = {**check_alarms(sent, self.incidents.values()).to_json(),
                                  "incidents_from": self.incidents_from}
        if self.paths["ack"].histogram.get_total_count():  # over MQTT: the alarms' outcome in one line
            checker = summary.get("checker", {})
            summary["alarms"] = {"sent": len(self.sent), "acked": len(self.acked_alarms),
                                 "lost": checker.get("lost"), "duplicated": checker.get("duplicated"),
                                 **{f"{name}_p99_ms": summary["latency_paths"][name]["p99_ms"]
                                    for name in ("ack", "console") if name in summary["latency_paths"]}}
        return summary


def alarm_lane_figures(bridges: list[dict]) -> dict:
    """The alarm lane's figures summed over the bridge processes (``BridgeActor.statistics``): messages, batches,
    acks, the process's CPU seconds, and its arrival → ack published time as the histogram's bucket bounds."""
    lanes = [(b, b["lanes"]["alarm"]) for b in bridges if "alarm" in b.get("lanes", {})]
    out = {name: sum(lane.get(name, 0) for _, lane in lanes)
           for name in ("received", "accepted", "duplicates", "refused", "acks_sent", "batches", "not_taken")}
    out["cpu_s"] = round(sum(b.get("cpu_s", 0.0) for b, _ in lanes), 2)
    out["mean_batch"] = round(out["received"] / out["batches"], 1) if out["batches"] else 0
    counts, bounds = None, ()
    for _, lane in lanes:
        h = lane.get("ack_latency_s") or {}
        bounds = tuple(h.get("bounds", ()))
        counts = [a + b for a, b in zip(counts, h["counts"])] if counts else list(h.get("counts", []))
    for q in (50, 99):
        out[f"bridge_ack_p{q}_s_at_most"] = _bucket_quantile(bounds, counts or [], q)
    return out


def _bucket_quantile(bounds: tuple, counts: list[int], q: float) -> float | None:
    """The upper bound of the bucket holding the ``q``th percentile (None: no observation; inf: above the last)."""
    total = sum(counts)
    if not total:
        return None
    seen = 0
    for k, count in enumerate(counts):
        seen += count
        if seen * 100 >= q * total:
            return bounds[k] if k < len(bounds) else float("inf")
    return float("inf")


def lateness_summary(lateness_s: list[float]) -> dict:
    """Escalation deadlines: how late each fired, p50/p99/max in an HDR histogram (microsecond precision)."""
    h = _histogram()
    for late in lateness_s:
        h.record_value(max(1, min(MAX_LATENCY_US, int(late * 1_000_000))))
    return _summary(h)
