"""Runs a scenario against the engine on Ray, in virtual time (seconds for a 30-minute scenario)
or in real time. Scripted device events go in as batches; scripted responders act a set time after
they are notified; the timeline is collected from the hosts' changes and checked against expectations.

Over MQTT (real time only) the events are published through the broker instead, each on its device's
own topics, by a :class:`simulation.mqtt_fleet.Fleet`. With an engine of our own (``bridge`` given:
the demo) the timeline is watched as usual; without one (``redband simulate --mqtt``, against an
engine started by ``redband run --mqtt``) the run reports what the devices saw: acks, NAKs, and
alarms never acknowledged; watching an operator's console as well (``console``), it takes the timeline and the
incidents from the console's views, so the expectations and the checker are judged on them. ``broker``: a
broker the run owns (``--stack``), which ``broker_kill`` faults kill and start again."""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import msgspec

from actors.runtime import Engine, EngineOptions
from protocols.batch import Ingest
from protocols.endpoint import MqttEndpoint
from protocols.records import Action, OperatorCommand
from simulation.metrics import RunMetrics, lateness_summary
from simulation.report import ExpectationResult, RunResult, TimelineRow, check_expectations, rows_of
from engine.errors import ConfigError, RedbandError
from simulation.scenario import Scenario, ScriptedEvent

REALTIME_POLL_S = 0.05
REALTIME_SLACK_S = 0.5
VIRTUAL_TICK_S = 0.01
"""Virtual time delivers the events of each 10 ms tick together (a Poisson phase has no two equal times)."""
ACK_GRACE_S = 10.0
DRAIN_GRACE_S = 15.0
DRAIN_STEADY_S = 1.0
"""After the load: how long the run waits for the engine to take the last of it, and how long a count that does
not move means nothing more is coming."""
"""Over MQTT, how long after the scenario's end the run still waits for alarms to be acknowledged."""


@dataclass(frozen=True, slots=True)
class _Act:
    command: OperatorCommand


@dataclass(frozen=True, slots=True)
class _HostKill:
    device_id: str


@dataclass(frozen=True, slots=True)
class _BrokerKill:
    down_s: float


@dataclass(frozen=True, slots=True)
class _BrokerStart:
    pass


_Fault = _HostKill | _BrokerKill | _BrokerStart


class ScenarioRun:
    def __init__(self, scenario: Scenario, *, realtime: bool = False, until_s: float | None = None,
                 journal_dir: str | Path | None = None, ray_address: str | None = None,
                 on_row: Callable[[TimelineRow], None] | None = None, mqtt: MqttEndpoint | None = None,
                 bridge: MqttEndpoint | None = None, own_engine: bool = True, json_devices: bool = False,
                 engine: Engine | None = None, take_changes: Callable[[], list] | None = None,
                 on_progress: Callable[[float, int, object], None] | None = None, broker=None,
                 console=None) -> None:
        if scenario.broker_kills and broker is None:
            at_s = scenario.broker_kills[0][0]
            raise ConfigError(scenario.file, None, "faults", f"the broker_kill at {at_s:g} s needs a broker this run "
                              "owns: run with --stack (simulate --mqtt URL talks to someone else's broker)")
        self.broker = broker
        self.console = console
        self._console_rows: dict[str, int] = {}  # timeline entries already taken from each incident's views
        self.on_progress = on_progress
        self._lateness_s: list[float] | None = None
        self._load_times: list[float] = []
        self.scenario = scenario
        self.realtime = realtime or mqtt is not None
        self.mqtt = mqtt
        self.json_devices = json_devices
        self.fleet = None
        # against an engine that outlives this run, the scenario's seqs are lifted above every earlier run's
        # (a device's seq only grows), so running a scenario twice raises its alarms twice
        self.seq_offset = int(time.time()) * 1_000_000 if mqtt is not None and not own_engine else 0
        self.end_s = until_s if until_s is not None else scenario.duration_s
        self.on_row = on_row
        self.result = RunResult(scenario.name)
        self.metrics = RunMetrics(incidents_from="engine" if own_engine or engine is not None
                                  else "console" if console is not None else "")
        self._queue: list[tuple[float, int, ScriptedEvent | _Act | _Fault]] = []
        self._tiebreak = count()
        self._planned: set[tuple[str, int]] = set()
        self._t0_s = 0.0
        if scenario.host_kills and journal_dir is None:  # a host restarts from its journal: it must be on disk
            import tempfile

            journal_dir = tempfile.mkdtemp(prefix="redband-journal-")
        self._started_engine = own_engine and engine is None
        self.engine = engine if engine is not None else Engine(scenario.city, scenario.policies, EngineOptions(
            precinct_hosts=scenario.precinct_hosts, realtime=self.realtime,
            journal_dir=str(journal_dir) if journal_dir else None, ray_address=ray_address,
            mqtt=bridge)) if own_engine else None
        # whoever else consumes the engine's changes (the console gateway) hands them over instead
        self._take_changes = take_changes or (self.engine.take_changes if self.engine is not None else list)

    def run(self) -> RunResult:
        from simulation.load_processes import BULK_THRESHOLD, LoadProcesses
        from simulation.mqtt_fleet import Fleet

        events = [e for e in self.scenario.events if e.at_s <= self.end_s]
        bulk = [e for e in events if not e.message.event_kind.is_alarm] if self.mqtt is not None else []
        if len(bulk) < BULK_THRESHOLD:
            bulk = []
        for event in (events if not bulk else [e for e in events if e.message.event_kind.is_alarm]):
            self._push(event.at_s, event)
        for at_s, device_id in self.scenario.host_kills:
            self._push(at_s, _HostKill(device_id))
        for at_s, down_s in self.scenario.broker_kills:
            if at_s <= self.end_s:
                self._push(at_s, _BrokerKill(down_s))
                self._push(at_s + down_s, _BrokerStart())
        if self._started_engine:
            self.engine.start()
        taken_before = self._taken()
        load = None
        try:
            if self.mqtt is not None:
                self.fleet = Fleet(self.mqtt).start()
            start_at = None
            if bulk:  # telemetry at rate: pre-encoded, from processes of its own, so the driver is not the limit
                load = LoadProcesses(self.mqtt, bulk, seq_offset=self.seq_offset, json=self.json_devices).start()
                self._load_times = sorted(e.at_s for e in bulk)
                start_at = load.start_at
            self._run_realtime(start_at) if self.realtime else self._run_virtual()
            if load is not None:
                published = load.finish()
                self.result.events_sent += published
                self.result.events_accounted += published  # QoS 0: what left is all a device can know
                self.result.load = load.results
            if self.fleet is not None:
                self._await_acks()
            if load is not None and taken_before is not None:
                self._account_telemetry(taken_before, load)
        finally:
            if load is not None:
                load.stop()
            if self.fleet is not None:
                self.fleet.stop()
            self._lateness_s = self._escalation_lateness()
            if self._started_engine:
                self.engine.stop()
        scope = self.console.devices_in_view() if self.console is not None and self.engine is None else None
        self.result.metrics = self.metrics.finish(checker_scope=scope)
        if self.console is not None:
            self.result.metrics["console"] = {"operator": self.console.endpoint.username, "role": self.console.role,
                                              "connects": self.console.connects, "frames": self.console.frames,
                                              "dropped": self.console.dropped}
        if self._lateness_s is not None:
            self.result.metrics["escalation_lateness"] = lateness_summary(self._lateness_s)
        self.result.expectations = check_expectations(
            self.scenario.expectations, self.result.timeline, lost=self.result.lost,
            slack_s=REALTIME_SLACK_S if self.realtime else 0.0, end_s=self.end_s)
        if self.engine is None and (self.console is None or self.scenario.responders):
            why = ("its timeline is in the log of `redband run` (watch a console with --console to judge it)"
                   if self.console is None else "the scenario's responders act through an engine of the run's own")
            self.result.expectations = [
                e if e.name == "no event lost" else
                ExpectationResult(e.name, True, f"skipped: no engine in this run; {why}", skipped=True)
                for e in self.result.expectations]
        return self.result

    def _account_telemetry(self, taken_before: int, load) -> None:
        """With the engine in sight: how much of the load the engine took (QoS 0 telemetry has no ack, so only the
        engine's own counters can tell). Waits, within a deadline, for the last of it to drain into the hosts."""
        steady_s = DRAIN_STEADY_S if self.engine is not None else 2.5 * DRAIN_STEADY_S  # heartbeats: once a second
        deadline, last, steady_since = time.monotonic() + DRAIN_GRACE_S, -1, time.monotonic()
        while time.monotonic() < deadline:
            taken = self._taken() - taken_before
            if taken >= self.result.events_sent:
                break
            if taken != last:
                last, steady_since = taken, time.monotonic()
            elif time.monotonic() - steady_since >= steady_s:
                break  # nothing more is coming
            time.sleep(REALTIME_POLL_S)  # polling the hosts' counters, bounded by the deadline
        alarms_taken = len(self.metrics.sent) - (self.fleet.unacked if self.fleet is not None else 0)
        taken = self._taken() - taken_before - alarms_taken
        published = sum(r.get("published", 0) for r in load.results)
        offline = sum(r.get("not_sent_offline", 0) for r in load.results)
        self.metrics.telemetry = {"scheduled": published + offline, "published": published,
                                  "not_sent_while_disconnected": offline, "taken_by_engine": taken,
                                  "lost_after_publish": max(0, published - taken),
                                  "counted_by": "the engine" if self.engine is not None else
                                  "the command center's heartbeats (every event the engine took meanwhile)"}
        if self.engine is not None and self.engine.bridges:  # where a loss was: before the bridge (broker) or in it
            lane = self.engine.lane_statistics("evt")
            self.metrics.telemetry["bridge"] = {k: lane.get(k, 0) for k in (
                "received", "accepted", "duplicates", "refused", "dropped", "queue_overflowed", "connects")}

    def _await_acks(self) -> None:
        """Give the last alarms their round trip, then count the ones never acknowledged as lost."""
        deadline = time.monotonic() + ACK_GRACE_S
        while self.fleet.unacked and time.monotonic() < deadline:
            self._collect()
            time.sleep(REALTIME_POLL_S)  # polling the fleet's count, bounded by the deadline
        self._collect()
        self.result.events_accounted -= self.fleet.unacked

    # -- virtual time ------------------------------------------------------------------------------

    def _run_virtual(self) -> None:
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
            while self._queue and self._queue[0][0] <= t:
                self._perform_due(t)
                self._collect()

    # -- real time ---------------------------------------------------------------------------------

    def _run_realtime(self, start_at: float | None = None) -> None:
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

    # -- shared ------------------------------------------------------------------------------------

    def _push(self, at_s: float, item: ScriptedEvent | _Act | _Fault) -> None:
        heapq.heappush(self._queue, (at_s, next(self._tiebreak), item))

    def _perform_due(self, t: float) -> None:
        events: list[Ingest] = []
        acts: list[_Act] = []
        while self._queue and self._queue[0][0] <= t:
            _, _, item = heapq.heappop(self._queue)
            if isinstance(item, _HostKill | _BrokerKill | _BrokerStart):
                self._fault(item, t)
                continue
            if isinstance(item, ScriptedEvent):
                received_ms = int((self._t0_s + item.at_s) * 1000)
                # stamped on the run's clock (scenario files give times from its start), as a device would
                message = msgspec.structs.replace(item.message, ts=received_ms)
                events.append(Ingest(item.device_id, message, received_ms))
            else:
                acts.append(item)
        sent_at = time.time() if self.realtime else self._t0_s + t
        for e in events:
            if e.message.event_kind.is_alarm:
                seq = e.message.seq + self.seq_offset
                self.metrics.alarm_sent(e.device_id, seq, sent_at)
        if events and self.fleet is not None:
            from simulation.mqtt_fleet import Outgoing

            self.fleet.send([Outgoing(e.device_id, self._lifted(e.message), self.json_devices) for e in events])
            self.result.events_sent += len(events)
            self.result.events_accounted += len(events)  # less the alarms never acked, at the end
        elif events:
            result = self.engine.ingest(events)
            self.result.events_sent += len(events)
            self.result.events_accounted += result.accounted
            self.result.duplicates += result.duplicates
            self.result.refusals += [f"{a.device_id} seq {a.seq}: {a.reason}" for a in result.acks if a.reason]
        for act in acts:
            if self.engine is None:
                continue  # responders act through the engine; without one they cannot
            try:
                self.engine.command(act.command)
            except RedbandError as exc:  # refused: its own type, with its message
                self.result.refusals.append(f"{act.command.action} {act.command.incident_id}: {exc}")

    def _fault(self, fault: _Fault, t: float) -> None:
        if isinstance(fault, _HostKill):
            if self.engine is not None:
                host = self.engine.placement.host_for_device(fault.device_id)
                self.engine.restart_host(host, start_s=t)
                self.result.faults.append(f"host {host} killed and restarted at {t:g} s")
                self.result.fault_marks.append((t, f"{host} killed"))
        elif isinstance(fault, _BrokerKill):
            self.broker.kill()
            self.result.faults.append(f"broker killed at {t:.2f} s, down for {fault.down_s:g} s")
            self.result.fault_marks.append((t, "broker killed"))
        else:
            self.result.fault_marks.append((t, "broker started"))
            started = time.monotonic()
            self.broker.start()
            self.result.faults.append(f"broker started again at {t:.2f} s, listening "
                                      f"{(time.monotonic() - started) * 1000:.0f} ms later")

    def _escalation_lateness(self) -> list[float] | None:
        """How late the hosts fired each escalation deadline (real time, own engine only)."""
        if self.engine is None or not self.realtime or not self.engine.hosts:
            return None
        try:
            return self.engine.deadline_lateness_s()
        except Exception:  # a host that died with the run must not cost the report
            return None

    def _sent_so_far(self, t_s: float) -> int:
        """Events sent by now: the driver's own, and the load processes' by their schedule."""
        from bisect import bisect_right

        return self.result.events_sent + bisect_right(self._load_times, t_s)

    def _taken(self) -> int | None:
        """Distinct events the engine took in (accepted or refused; a resent alarm's duplicate not again): from
        the engine itself, or from the command center's heartbeats (once a second) when it is another's."""
        if self.engine is None:
            figures = self._console_figures()
            return figures.events_taken if figures is not None else None
        return sum(s.accepted + s.refused for s in self.engine.statistics())

    def _console_figures(self):
        return self.console.engine_figures if self.console is not None else None

    def _lifted(self, message):
        """The message as the device sends it now: stamped with the wall clock, its seq past an earlier run's."""
        return msgspec.structs.replace(message, seq=message.seq + self.seq_offset, ts=int(time.time() * 1000))

    def _collect(self) -> None:
        if self.fleet is not None:
            for device_id, ack, arrived_s in self.fleet.take_acks():
                self.metrics.acked(device_id, ack, arrived_s, t0_s=self._t0_s)
                self.result.duplicates += ack.duplicate
                if not ack.ok:
                    self.result.refusals.append(f"{device_id} seq {ack.seq}: {ack.reason}")
        if self.console is not None:
            for view, arrived_s, first in self.console.take():
                self.metrics.console_saw(view, arrived_s, first=first, t0_s=self._t0_s)
                if self.engine is None:  # the timeline as the operator sees it (the engine's clock)
                    self._add_rows(view, self._console_rows.get(view.id, 0))
                    self._console_rows[view.id] = max(self._console_rows.get(view.id, 0), len(view.timeline))
        if self.engine is None:
            return
        for change in self._take_changes():
            self.metrics.incident(change.record, new=change.new_from == 0, t0_s=self._t0_s)
            self._add_rows(change.record, change.new_from)
            for index in range(change.new_from, len(change.record.timeline)):
                entry = change.record.timeline[index]
                if entry.event.value == "notified":
                    self._plan_responses(change.record, entry, t_s=entry.t_s - self._t0_s)

    def _add_rows(self, record, new_from: int) -> None:
        for row in rows_of(record, new_from, t0_s=self._t0_s):
            self.result.timeline.append(row)
            if self.on_row:
                self.on_row(row)

    def _plan_responses(self, record, entry, *, t_s: float) -> None:
        for index, rule in enumerate(self.scenario.responders):
            if rule.level != entry.level or (rule.kind is not None and rule.kind != record.kind):
                continue
            key = (record.id, index)
            if key in self._planned:
                continue
            self._planned.add(key)
            operator = rule.operator or f"{entry.target}-duty"
            steps = [
                (rule.acknowledge_after_s, Action.ACKNOWLEDGE, {}),
                (rule.dispatch_after_s, Action.DISPATCH, {"unit": rule.unit}),
                (rule.on_scene_after_s, Action.ON_SCENE, {}),
                (rule.resolve_after_s, Action.RESOLVE, {}),
                (rule.close_after_s, Action.CLOSE, {"disposition": rule.disposition}),
            ]
            for after_s, action, extra in steps:
                if after_s is None:
                    continue
                command = OperatorCommand(action, record.id, operator, entry.level, entry.target, **extra)
                self._push(t_s + after_s, _Act(command))


def run_scenario(scenario: Scenario, **kwargs) -> RunResult:
    return ScenarioRun(scenario, **kwargs).run()
