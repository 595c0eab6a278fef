"""The engine's figures as Prometheus metric families: what one scrape gathered (:class:`Scrape`), rendered.

No Ray here: ``actors/metrics.py`` gathers, this turns the answers into families. Names and labels (also in
``docs/architecture.md``, "Metrics"):

- hosts, label ``host``: ``redband_host_up``, ``redband_host_restarts_total``, ``redband_host_events_accepted_total``,
  ``..._duplicate_total``, ``..._refused_total``, ``redband_host_incidents_open``, ``redband_host_deadlines``,
  ``redband_host_devices_offline``, ``redband_host_sites_offline``, ``redband_host_journal_writes_total``,
  ``redband_host_journal_failures_total``, ``redband_host_deadline_errors_total``, histograms
  ``redband_host_step_seconds`` and ``redband_journal_commit_seconds``;
- bridge processes, labels ``bridge``, ``lanes``: ``redband_bridge_process_up``,
  ``redband_bridge_process_restarts_total``;
- bridge lanes, labels ``bridge``, ``lane``: ``redband_bridge_lane_up``, ``redband_bridge_lane_state`` (``state``:
  up, backing_off, connecting; 1 for the lane's state now), ``redband_bridge_lane_connects_total``,
  ``redband_bridge_events_received_total``, ``..._accepted_total``, ``..._duplicate_total``,
  ``redband_bridge_acks_total``,
  ``redband_bridge_naks_total`` (``reason``: the field a NAK names, ``unavailable``, ``other``),
  ``redband_bridge_dead_letters_total``, ``redband_bridge_not_taken_total``, ``redband_bridge_retrying``,
  ``redband_bridge_queue_overflowed_total``, histogram ``redband_alarm_ack_seconds`` (the alarm lane's);
- the console gateway actor, when one runs: ``redband_console_up``, ``redband_console_restarts_total``,
  ``redband_console_sessions``;
- ``redband_scrape_seconds``: how long gathering took.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from actors.host_metrics import HostMetrics
from engine.measures import Buckets


@dataclass(frozen=True)
class Scrape:
    hosts: dict[str, HostMetrics | None]
    """Host id → its figures, None when it did not answer in time."""
    bridges: dict[str, dict | None]
    """Bridge process name (``bridge:b0:alarm``) → its ``statistics()``, None when it did not answer in time."""
    starts: dict[str, int] = field(default_factory=dict)
    """Actor name → how often it started (the directory's count; a restart is a start after the first)."""
    took_s: float = 0.0
    console: dict[str, dict | None] = field(default_factory=dict)
    """The console gateway actor's name → its ``where()`` (None: not answering); empty when none was started."""


_HOST_COUNTERS = (
    ("events_accepted", "accepted", "Device messages a host accepted (journaled before their ack)."),
    ("events_duplicate", "duplicates", "Device messages a host had already (acked again, not handled again)."),
    ("events_refused", "refused", "Device messages a host refused (NAKed with a reason)."),
    ("journal_writes", "journal_writes", "Journal writes (one per step that changed anything)."),
    ("journal_failures", "journal_failures", "Steps whose journal write failed (nothing of them kept or acked)."),
    ("deadline_errors", "deadline_errors", "Deadline handlings that raised (each tried again later)."),
)
_HOST_GAUGES = (
    ("incidents_open", "incidents_open", "Open incidents a host owns."),
    ("deadlines", "deadlines", "Pending deadlines (escalations, supervision, ...) of a host."),
    ("devices_offline", "devices_offline", "Supervised devices offline now."),
    ("sites_offline", "sites_offline", "Sites in an outage now (every supervised device offline)."),
)
_LANE_COUNTERS = (
    ("events_received", "received", "Messages a bridge lane read from the broker."),
    ("events_accepted", "accepted", "Messages the hosts accepted through a bridge lane."),
    ("events_duplicate", "duplicates", "Messages the hosts had already, through a bridge lane."),
    ("acks", "acked", "Positive acks a bridge lane published (duplicates' included)."),
    ("dead_letters", "dead_lettered", "Messages dead-lettered (they stopped a lane twice)."),
    ("not_taken", "not_taken", "Messages no host took (NAKed unavailable; alarms and reports kept to try again)."),
    ("lane_connects", "connects", "Connections a bridge lane made to the broker."),
    ("queue_overflowed", "queue_overflowed", "Messages a bridge lane's incoming queue shed when full."),
)
LANE_STATES = ("up", "backing_off", "connecting")


def families(scrape: Scrape) -> Iterator[Metric]:
    yield from _host_families(scrape)
    yield from _bridge_families(scrape)
    yield from _console_families(scrape)
    took = GaugeMetricFamily("redband_scrape_seconds", "How long gathering the hosts' and bridges' figures took.")
    took.add_metric([], scrape.took_s)
    yield took


def _host_families(scrape: Scrape) -> Iterator[Metric]:
    up = GaugeMetricFamily("redband_host_up", "1 if the host answered this scrape in time.", labels=["host"])
    restarts = CounterMetricFamily("redband_host_restarts_total", "Restarts of a host's process (starts after the "
                                   "first, as the engine's directory counted them).", labels=["host"])
    counters = {name: CounterMetricFamily(f"redband_host_{name}_total", doc, labels=["host"])
                for name, _, doc in _HOST_COUNTERS}
    gauges = {name: GaugeMetricFamily(f"redband_host_{name}", doc, labels=["host"]) for name, _, doc in _HOST_GAUGES}
    step = HistogramMetricFamily("redband_host_step_seconds", "A host's calls into its core (an ingest batch, a "
                                 "delivery, a command), journal write included.", labels=["host"])
    commit = HistogramMetricFamily("redband_journal_commit_seconds", "A host's journal writes, one per step.",
                                   labels=["host"])
    for host_id, metrics in sorted(scrape.hosts.items()):
        up.add_metric([host_id], 0 if metrics is None else 1)
        restarts.add_metric([host_id], max(0, scrape.starts.get(f"host:{host_id}", 1) - 1))
        if metrics is None:
            continue
        stats = metrics.stats
        for name, attribute, _ in _HOST_COUNTERS:
            counters[name].add_metric([host_id], getattr(stats, attribute))
        for name, attribute, _ in _HOST_GAUGES:
            gauges[name].add_metric([host_id], getattr(stats, attribute))
        _add_histogram(step, [host_id], metrics.step_s)
        _add_histogram(commit, [host_id], metrics.journal_commit_s)
    yield from (up, restarts, *counters.values(), *gauges.values(), step, commit)


def _bridge_families(scrape: Scrape) -> Iterator[Metric]:
    process_up = GaugeMetricFamily("redband_bridge_process_up", "1 if the bridge process answered this scrape in "
                                   "time.", labels=["bridge", "lanes"])
    restarts = CounterMetricFamily("redband_bridge_process_restarts_total", "Restarts of a bridge process.",
                                   labels=["bridge", "lanes"])
    lane_up = GaugeMetricFamily("redband_bridge_lane_up", "1 if the lane is connected and subscribed.",
                                labels=["bridge", "lane"])
    state = GaugeMetricFamily("redband_bridge_lane_state", "1 for the lane's state now: up, backing_off (waiting "
                              "to connect again after a loss), connecting.", labels=["bridge", "lane", "state"])
    counters = {name: CounterMetricFamily(f"redband_bridge_{name}_total", doc, labels=["bridge", "lane"])
                for name, _, doc in _LANE_COUNTERS}
    naks = CounterMetricFamily("redband_bridge_naks_total", "Messages refused (NAKed when the device is known), by "
                               "the field the reason names.", labels=["bridge", "lane", "reason"])
    retrying = GaugeMetricFamily("redband_bridge_retrying", "Alarms and reports kept, waiting for their host now.",
                                 labels=["bridge", "lane"])
    ack_s = HistogramMetricFamily("redband_alarm_ack_seconds", "Each alarm's time from its arrival at the bridge "
                                  "to its ack published (after the host journaled it).", labels=["bridge"])
    for name, stats in sorted(scrape.bridges.items()):
        _, bridge_id, lanes = (name.split(":") + ["", ""])[:3]
        process_up.add_metric([bridge_id, lanes], 0 if stats is None else 1)
        restarts.add_metric([bridge_id, lanes], max(0, scrape.starts.get(name, 1) - 1))
        for lane, figures in sorted((stats or {}).get("lanes", {}).items()):
            labels = [bridge_id, lane]
            lane_up.add_metric(labels, 1 if figures.get("connected") else 0)
            now = lane_state(figures)
            for s in LANE_STATES:
                state.add_metric([*labels, s], 1 if s == now else 0)
            for metric, attribute, _ in _LANE_COUNTERS:
                counters[metric].add_metric(labels, figures.get(attribute, 0))
            for reason, n in sorted(figures.get("naks", {}).items()):
                naks.add_metric([*labels, reason], n)
            retrying.add_metric(labels, figures.get("retrying", 0))
            if lane == "alarm" and (h := figures.get("ack_latency_s")):
                _add_histogram(ack_s, [bridge_id], Buckets(tuple(h["bounds"]), tuple(h["counts"]), h["sum"]))
    yield from (process_up, restarts, lane_up, state, *counters.values(), naks, retrying, ack_s)


def _console_families(scrape: Scrape) -> Iterator[Metric]:
    if not scrape.console:
        return
    up = GaugeMetricFamily("redband_console_up", "1 if the console gateway answered this scrape in time.")
    restarts = CounterMetricFamily("redband_console_restarts_total", "Restarts of the console gateway's process.")
    sessions = GaugeMetricFamily("redband_console_sessions", "Consoles connected (logged-in sessions) now.")
    for name, where in scrape.console.items():
        up.add_metric([], 0 if where is None else 1)
        restarts.add_metric([], max(0, scrape.starts.get(name, 1) - 1))
        if where is not None:
            sessions.add_metric([], where.get("consoles", 0))
    yield from (up, restarts, sessions)


def lane_state(figures: dict) -> str:
    if figures.get("connected"):
        return "up"
    return "backing_off" if figures.get("backing_off") else "connecting"


def _add_histogram(family: HistogramMetricFamily, labels: list[str], buckets: Buckets) -> None:
    family.add_metric(labels, [(floatToGoString(bound), n) for bound, n in buckets.cumulative()],
                      sum_value=buckets.sum)
