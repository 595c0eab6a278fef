"""What every mode of a scenario run shares: the schedule (scripted events, responders' commands, faults), carrying
out what is due, turning the engine's changes into the timeline and the responders' next steps, and the report.

A mode (``simulation.run_inprocess``, ``simulation.run_mqtt``) supplies how time passes (``_drive``) and how due
events reach the engine (``_deliver``)."""

from __future__ import annotations

import heapq
import time
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count

import msgspec

from engine.errors import ConfigError, RedbandError
from protocols.batch import Ingest
from protocols.records import Action, OperatorCommand
from protocols.device import make_message
from protocols.kinds import EventKind
from simulation.community_run import CommunitySide
from simulation.device_reply import Reply
from simulation.kiosk_users import KioskSide
from simulation.metrics import RunMetrics, lateness_summary
from simulation.patrol_phones import Answer
from simulation.patrol_run import PatrolSide
from simulation.report import RunResult, TimelineRow, check_expectations, rows_of
from simulation.scenario import Scenario, ScriptedEvent
from simulation.scenario_patrols import check_figures

REALTIME_SLACK_S = 0.5
"""How late a real-time run may see an expected timeline entry and still pass."""


@dataclass(frozen=True, slots=True)
class Act:
    """A scripted responder's command, due at its time."""

    command: OperatorCommand


@dataclass(frozen=True, slots=True)
class HostKill:
    device_id: str


@dataclass(frozen=True, slots=True)
class BrokerKill:
    down_s: float


@dataclass(frozen=True, slots=True)
class BrokerStart:
    pass


Fault = HostKill | BrokerKill | BrokerStart
Due = ScriptedEvent | Act | Fault | Answer | Reply


def refuse_broker_faults_without(scenario: Scenario, broker) -> None:
    """A ``broker_kill`` needs a broker the run owns (``--stack``)."""
    if scenario.broker_kills and broker is None:
        at_s = scenario.broker_kills[0][0]
        raise ConfigError(scenario.file, None, "faults", f"the broker_kill at {at_s:g} s needs a broker this run "
                          "owns: run with --stack (simulate --mqtt URL talks to someone else's broker)")


class RunBase:
    """One run of a scenario. ``engine``: the engine on Ray whose changes make the timeline (``None``: another's,
    out of sight); ``owns_engine``: this run starts and stops it. ``take_changes``: whoever else consumes the
    engine's changes (a console gateway) hands them over instead. ``broker``: one the run owns, which
    ``broker_kill`` faults kill and start again."""

    realtime = False
    seq_offset = 0
    """Added to every scripted seq (against an engine that outlives the run, a device's seq only grows)."""

    def __init__(self, scenario: Scenario, engine, *, owns_engine: bool = False, until_s: float | None = None,
                 on_row: Callable[[TimelineRow], None] | None = None,
                 take_changes: Callable[[], list] | None = None, broker=None) -> None:
        refuse_broker_faults_without(scenario, broker)
        self.scenario = scenario
        self.engine = engine
        self.broker = broker
        self.end_s = until_s if until_s is not None else scenario.duration_s
        self.on_row = on_row
        self.result = RunResult(scenario.name)
        self.metrics = RunMetrics(incidents_from=self._incidents_from())
        self._owns_engine = owns_engine
        self._take_changes = take_changes or (engine.take_changes if engine is not None else list)
        self._queue: list[tuple[float, int, Due]] = []
        self._tiebreak = count()
        self._planned: set[tuple[str, int]] = set()
        self._t0_s = 0.0
        self._load_times: list[float] = []  # when the load processes (over MQTT) send, by schedule
        self.patrols = PatrolSide.of(scenario, engine, push=lambda at_s, item: self._push(
            at_s, item if isinstance(item, Answer) else Act(item)))
        """The volunteer phones' and the operator's side of dispatch and tips (None: the scenario has neither)."""
        self.community = CommunitySide.of(scenario, engine, push=self._push)
        """The community's phones, doors and visitors answering the engine (None: no ``[community]`` evening)."""
        self.kiosks = KioskSide.of(scenario, engine)
        """The kiosk hall's users reading their booking codes (None: no ``[kiosks]`` hall)."""
        self._last_seq: dict[str, int] = {}
        self._seq_shift: dict[str, int] = {}  # a phone's answers, sent between its planned messages

    # -- the run, as every mode has it ---------------------------------------------------------------

    def run(self) -> RunResult:
        for event in self._scripted(e for e in self.scenario.events if e.at_s <= self.end_s):
            self._push(event.at_s, event)
        for at_s, device_id in self.scenario.host_kills:
            self._push(at_s, HostKill(device_id))
        for at_s, down_s in self.scenario.broker_kills:
            if at_s <= self.end_s:
                self._push(at_s, BrokerKill(down_s))
                self._push(at_s + down_s, BrokerStart())
        if self._owns_engine:
            self.engine.start()
        lateness = figures = None
        try:
            self._drive()
            if self.scenario.expect_figures and self.engine is not None:
                if self.community is not None:
                    figures = self.community.figures(self.engine, self.result)
                elif self.kiosks is not None:
                    figures = self.kiosks.figures(self.result, self.scenario.expect_figures)
                else:
                    figures = PatrolSide.figures(self.engine, self.result)
                    self.result.notes += self.patrols.by_hand if self.patrols else []
        finally:
            lateness = self._escalation_lateness()
            if self._owns_engine:
                self.engine.stop()
        self.result.metrics = self.metrics.finish(checker_scope=self._checker_scope())
        if lateness is not None:
            self.result.metrics["escalation_lateness"] = lateness_summary(lateness)
        self.result.expectations = check_expectations(
            self.scenario.expectations, self.result.timeline, lost=self.result.lost,
            slack_s=REALTIME_SLACK_S if self.realtime else 0.0, end_s=self.end_s)
        observed = self.community.observed() if self.community else self.patrols.observed() if self.patrols else None
        if self.kiosks is not None:
            observed = {**(observed or {}), **self.kiosks.truth(self.scenario.expect_figures)}
        self.result.expectations += check_figures(self.scenario.expect_figures, figures, self.scenario.patrol_truth,
                                                  observed)
        return self.result

    def _scripted(self, events) -> list[ScriptedEvent]:
        """The scripted events the driver itself sends at their times."""
        return list(events)

    def _drive(self) -> None:
        raise NotImplementedError

    def _deliver(self, events: list[Ingest]) -> None:
        """Hand the events due now to the engine."""
        raise NotImplementedError

    def _incidents_from(self) -> str:
        return "engine" if self.engine is not None else ""

    def _checker_scope(self):
        return None

    # -- carrying out what is due --------------------------------------------------------------------

    def _push(self, at_s: float, item: Due) -> None:
        heapq.heappush(self._queue, (at_s, next(self._tiebreak), item))

    def _perform_due(self, t: float) -> None:
        events: list[Ingest] = []
        due_s: list[float] = []  # each event's instant on the run's clock: when its device sends it
        acts: list[Act] = []
        while self._queue and self._queue[0][0] <= t:
            _, _, item = heapq.heappop(self._queue)
            if isinstance(item, HostKill | BrokerKill | BrokerStart):
                self._fault(item, t)
            elif isinstance(item, ScriptedEvent):
                received_ms = int((self._t0_s + item.at_s) * 1000)
                # stamped on the run's clock (scenario files give times from its start), as a device would; a
                # message stamped apart from its delivery time (a patrol plan's) keeps that difference
                stamp_ms = received_ms + item.message.ts - int(item.at_s * 1000)
                seq = item.message.seq + self._seq_shift.get(item.device_id, 0)
                self._last_seq[item.device_id] = seq
                source = self.kiosks.filled(item.device_id, item.message) if self.kiosks else item.message
                message = msgspec.structs.replace(source, ts=stamp_ms, seq=seq)
                events.append(Ingest(item.device_id, message, received_ms))
                due_s.append(item.at_s)
            elif isinstance(item, Answer | Reply):  # a device's answer takes the next seq; its later messages follow
                if isinstance(item, Reply) and item.cancelled:
                    continue
                seq = self._last_seq.get(item.device_id, 0) + 1
                self._last_seq[item.device_id] = seq
                self._seq_shift[item.device_id] = self._seq_shift.get(item.device_id, 0) + 1
                received_ms = int((self._t0_s + t) * 1000)
                kind, data = ((EventKind.PATROL_TASK, {"incident": item.incident, "answer": item.answer})
                              if isinstance(item, Answer) else (item.kind, item.data))
                message = make_message(kind, seq=seq, ts=int((self._t0_s + item.at_s) * 1000), data=data)
                events.append(Ingest(item.device_id, message, received_ms))
                due_s.append(item.at_s)
            else:
                acts.append(item)
        for e, at_s in zip(events, due_s):
            if e.message.event_kind.is_alarm:
                # the latency of an alarm is from the instant its device sends it, as scheduled (a driver or fleet
                # that falls behind its schedule is counted in, not hidden); virtual time: the tick's instant
                sent_at = self._t0_s + (at_s if self.realtime else t)
                self.metrics.alarm_sent(e.device_id, e.message.seq + self.seq_offset, sent_at)
        if events:
            self._deliver(events)
        for act in acts:
            if self.engine is None:
                continue  # responders act through the engine; without one they cannot
            try:
                self.engine.command(act.command)
            except RedbandError as exc:  # refused: its own type, with its message
                self.result.refusals.append(f"{act.command.action} {act.command.incident_id}: {exc}")

    def _fault(self, fault: Fault, t: float) -> None:
        if isinstance(fault, HostKill):
            if self.engine is not None:
                host = self.engine.placement.host_for_device(fault.device_id)
                self.engine.restart_host(host, start_s=t)
                self.result.faults.append(f"host {host} killed and restarted at {t:g} s")
                self.result.fault_marks.append((t, f"{host} killed"))
        elif isinstance(fault, BrokerKill):
            self.broker.kill()
            self.result.faults.append(f"broker killed at {t:.2f} s, down for {fault.down_s:g} s")
            self.result.fault_marks.append((t, "broker killed"))
        else:
            self.result.fault_marks.append((t, "broker started"))
            started = time.monotonic()
            self.broker.start()
            self.result.faults.append(f"broker started again at {t:.2f} s, listening "
                                      f"{(time.monotonic() - started) * 1000:.0f} ms later")

    # -- what the engine did -------------------------------------------------------------------------

    def _collect(self) -> None:
        if self.engine is None:
            return
        for change in self._take_changes():
            self.metrics.incident(change.record, new=change.new_from == 0, t0_s=self._t0_s)
            if self.patrols is not None and change.new_from == 0:
                self.patrols.seen(change.record, t_s=change.record.timeline[0].t_s - self._t0_s)
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
                self._push(t_s + after_s, Act(command))

    def _patrol_turn(self, t_s: float) -> None:
        """The phones answer what the engine sent them, the operator offers by hand what nobody took."""
        if self.patrols is not None:
            self.patrols.turn(t_s)
        if self.community is not None:
            self.community.turn(t_s)
        if self.kiosks is not None:
            self.kiosks.turn()

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
        return self.result.events_sent + bisect_right(self._load_times, t_s)

    def _taken(self) -> int | None:
        """Distinct events the engine took in (accepted or refused; a resent alarm's duplicate not again)."""
        if self.engine is None:
            return None
        return sum(s.accepted + s.refused for s in self.engine.statistics())
