"""Runs in which the driver hands device events to the engine on Ray itself (``Engine.ingest``, in batches): in
virtual time (a 30-minute scenario in seconds, the engine's clock moved by the driver) or in real time."""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from actors.runtime import Engine, EngineOptions
from protocols.batch import Ingest
from simulation.report import TimelineRow
from simulation.run_base import RunBase, refuse_broker_faults_without
from simulation.scenario import Scenario

REALTIME_POLL_S = 0.05
"""How often a real-time run looks at the engine (and the fleet) when nothing is due sooner."""
VIRTUAL_TICK_S = 0.01
"""Virtual time delivers the events of each 10 ms tick together (a Poisson phase has no two equal times)."""


def own_engine(scenario: Scenario, *, realtime: bool, journal_dir: str | Path | None = None,
               ray_address: str | None = None) -> Engine:
    """An engine for this run alone (not started). A scenario that kills hosts gets a journal on disk, since a
    host restarts from it."""
    if scenario.host_kills and journal_dir is None:
        journal_dir = tempfile.mkdtemp(prefix="redband-journal-")
    return Engine(scenario.city, scenario.policies, EngineOptions(
        precinct_hosts=scenario.precinct_hosts, realtime=realtime,
        journal_dir=str(journal_dir) if journal_dir else None, ray_address=ray_address))


class _IngestRun(RunBase):
    """Due events go to ``Engine.ingest`` as one batch."""

    def __init__(self, scenario: Scenario, *, until_s: float | None = None,
                 on_row: Callable[[TimelineRow], None] | None = None, journal_dir: str | Path | None = None,
                 ray_address: str | None = None, engine: Engine | None = None,
                 take_changes: Callable[[], list] | None = None) -> None:
        owns = engine is None
        if owns:
            refuse_broker_faults_without(scenario, None)  # before making a journal directory for nothing
            engine = own_engine(scenario, realtime=self.realtime, journal_dir=journal_dir, ray_address=ray_address)
        super().__init__(scenario, engine, owns_engine=owns, until_s=until_s, on_row=on_row,
                         take_changes=take_changes)

    def _deliver(self, events: list[Ingest]) -> None:
        result = self.engine.ingest(events)
        self.result.events_sent += len(events)
        self.result.events_accounted += result.accounted
        self.result.duplicates += result.duplicates
        self.result.refusals += [f"{a.device_id} seq {a.seq}: {a.reason}" for a in result.acks if a.reason]


class VirtualRun(_IngestRun):
    """Virtual time: the driver moves the engine's clock from one due action or deadline to the next."""

    realtime = False

    def _drive(self) -> None:
        engine = self.engine
        while True:
            next_action = self._queue[0][0] if self._queue else math.inf
            if next_action < math.inf:  # load phases: deliver a tick's arrivals together, not one Ray call each
                next_action = math.ceil(next_action / VIRTUAL_TICK_S - 1e-9) * VIRTUAL_TICK_S
            next_deadline = engine.next_deadline_s()
            t = min(next_action, next_deadline if next_deadline is not None else math.inf)
            if t > self.end_s:
                engine.advance_to(self.end_s)
                self._collect()
                return
            engine.advance_to(t)
            self._collect()
            self._patrol_turn(t)
            while self._queue and self._queue[0][0] <= t:
                self._perform_due(t)
                self._collect()
                self._patrol_turn(t)


class RealtimeDrive:
    """Real time: the wall clock; events are sent when due, the engine's changes collected as they come.
    ``on_progress(t_s, sent, metrics)`` is called once a second."""

    realtime = True
    on_progress: Callable[[float, int, object], None] | None = None

    def _realtime_loop(self, start_at: float | None = None) -> None:
        if start_at is not None:
            time.sleep(max(0.0, start_at - time.time()))  # the load processes start at the same instant
        self._t0_s = start_at or time.time()
        end_wall = self._t0_s + self.end_s
        next_sample = self._t0_s
        while True:
            now = time.time()
            self._collect()
            if now >= next_sample:  # the throughput curve: events sent and taken, once a second
                next_sample += 1.0
                self.metrics.sample(now - self._t0_s, self._sent_so_far(now - self._t0_s), self._taken())
                if self.on_progress is not None:
                    self.on_progress(now - self._t0_s, self._sent_so_far(now - self._t0_s), self.metrics)
            if now >= end_wall:
                return
            if self._queue and self._t0_s + self._queue[0][0] <= now:
                self._perform_due(now - self._t0_s)
                continue
            next_wall = self._t0_s + self._queue[0][0] if self._queue else end_wall
            time.sleep(max(0.0, min(REALTIME_POLL_S, next_wall - now, end_wall - now)))


class RealtimeRun(RealtimeDrive, _IngestRun):
    """Real time, the driver calling ``Engine.ingest`` itself (no broker in between)."""

    def __init__(self, scenario: Scenario, *, on_progress: Callable[[float, int, object], None] | None = None,
                 **options) -> None:
        super().__init__(scenario, **options)
        self.on_progress = on_progress

    def _drive(self) -> None:
        self._realtime_loop()
