"""Runs in which the devices speak MQTT: the scenario's events are published through the broker, each on its
device's own topics, by a :class:`simulation.mqtt_fleet.Fleet` (real time only); telemetry at rate comes from
load processes of its own.

- :class:`MqttRun`: the engine is in sight (a stack's, the demo's): its changes make the timeline, as usual. A
  scenario with emergencies or tips has its volunteer phones and police units answer the engine's task offers
  through the broker (:meth:`simulation.mqtt_fleet.Fleet.answer_offers`) and its station operator close what they
  handled (offers by hand are the virtual-time run's only).
- :class:`RemoteMqttRun`: against an engine started elsewhere (``redband simulate --mqtt`` next to
  ``redband run --mqtt``): the run reports what the devices saw (acks, NAKs, alarms never acknowledged); watching
  an operator's console as well, it takes the timeline and the incidents from the console's views, so the
  expectations and the checker are judged on them."""

from __future__ import annotations

import time
from collections.abc import Callable

import msgspec

from protocols.batch import Ingest
from protocols.endpoint import MqttEndpoint
from simulation.report import ExpectationResult, RunResult, TimelineRow
from simulation.run_base import Act, RunBase
from simulation.run_inprocess import REALTIME_POLL_S, RealtimeDrive
from simulation.scenario import Scenario, ScriptedEvent

ACK_GRACE_S = 10.0
"""How long after the scenario's end the run still waits for alarms to be acknowledged."""
DRAIN_GRACE_S = 15.0
DRAIN_STEADY_S = 1.0
"""After the load: how long the run waits for the engine to take the last of it, and how long a count that does
not move means nothing more is coming."""


class MqttRun(RealtimeDrive, RunBase):
    """Devices publish through ``mqtt`` (the simulator's endpoint) to ``engine``'s bridges. ``console``: a
    :class:`simulation.console_watch.ConsoleWatch` whose views are measured too."""

    def __init__(self, scenario: Scenario, mqtt: MqttEndpoint, engine, *, take_changes: Callable[[], list] | None = None,
                 console=None, broker=None, json_devices: bool = False, until_s: float | None = None,
                 on_row: Callable[[TimelineRow], None] | None = None,
                 on_progress: Callable[[float, int, object], None] | None = None) -> None:
        self.console = console
        super().__init__(scenario, engine, until_s=until_s, on_row=on_row, take_changes=take_changes, broker=broker)
        self.mqtt = mqtt
        self.json_devices = json_devices
        self.on_progress = on_progress
        self.fleet = None
        self._bulk: list[ScriptedEvent] = []
        self._console_rows: dict[str, int] = {}  # timeline entries already taken from each incident's views

    def run(self) -> RunResult:
        result = super().run()
        if self.console is not None:
            result.metrics["console"] = {"operator": self.console.endpoint.username, "role": self.console.role,
                                         "connects": self.console.connects, "frames": self.console.frames,
                                         "dropped": self.console.dropped}
        return result

    def _scripted(self, events) -> list[ScriptedEvent]:
        from simulation.load_processes import BULK_THRESHOLD

        events = list(events)
        bulk = [e for e in events if not e.message.event_kind.is_alarm]
        if len(bulk) < BULK_THRESHOLD:
            return events
        self._bulk = bulk  # telemetry at rate: from load processes, so the driver is not the limit
        return [e for e in events if e.message.event_kind.is_alarm]

    def _drive(self) -> None:
        from simulation.load_processes import LoadProcesses
        from simulation.mqtt_fleet import Fleet

        taken_before = self._taken()
        load = None
        try:
            self.fleet = Fleet(self.mqtt).start()
            if self.patrols is not None:
                self.fleet.answer_offers(self.patrols.phones, units_of(self.scenario.city))
            start_at = None
            if self._bulk:  # pre-encoded, from processes of its own
                load = LoadProcesses(self.mqtt, self._bulk, seq_offset=self.seq_offset, json=self.json_devices).start()
                self._load_times = sorted(e.at_s for e in self._bulk)
                start_at = load.start_at
            self._realtime_loop(start_at)
            if load is not None:
                published = load.finish()
                self.result.events_sent += published
                self.result.events_accounted += published  # QoS 0: what left is all a device can know
                self.result.load = load.results
            self._await_acks()
            if self.engine is not None and self.engine.bridges:
                from simulation.metrics import alarm_lane_figures

                self.metrics.alarm_lane = alarm_lane_figures(self.engine.bridge_statistics())
            if load is not None and taken_before is not None:
                self._account_telemetry(taken_before, load)
        finally:
            if load is not None:
                load.stop()
            if self.fleet is not None:
                self.fleet.stop()

    def _deliver(self, events: list[Ingest]) -> None:
        from simulation.mqtt_fleet import Outgoing

        self.fleet.send([Outgoing(e.device_id, self._lifted(e.message), self.json_devices) for e in events])
        self.result.events_sent += len(events)
        self.result.events_accounted += len(events)  # less the alarms never acked, at the end

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
            if self.fleet.tasks is not None:  # the station's operator closes what the phones handled (wall clock)
                for operate in self.fleet.tasks.take_operated():
                    self._push(operate.at_s - self._t0_s, Act(operate.command))
        if self.console is not None:
            for view, arrived_s, first in self.console.take():
                self.metrics.console_saw(view, arrived_s, first=first, t0_s=self._t0_s)
                if self.engine is None:  # the timeline as the operator sees it (the engine's clock)
                    self._add_rows(view, self._console_rows.get(view.id, 0))
                    self._console_rows[view.id] = max(self._console_rows.get(view.id, 0), len(view.timeline))
        super()._collect()

    def _await_acks(self) -> None:
        """Give the last alarms their round trip, then count the ones never acknowledged as lost."""
        deadline = time.monotonic() + ACK_GRACE_S
        while self.fleet.unacked and time.monotonic() < deadline:
            self._collect()
            time.sleep(REALTIME_POLL_S)  # polling the fleet's count, bounded by the deadline
        self._collect()
        self.result.events_accounted -= self.fleet.unacked

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
        alarms_taken = len(self.metrics.sent) - self.fleet.unacked
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


def units_of(city) -> list[str]:
    """The devices that answer task offers: volunteer phones, police car terminals and foot officers' radios."""
    from protocols.patrol import UNIT_KIND_OF

    return [d.id for d in city.devices.values() if d.kind in UNIT_KIND_OF]


class RemoteMqttRun(MqttRun):
    """Against an engine that outlives this run: the scenario's seqs are lifted above every earlier run's (a
    device's seq only grows), so running a scenario twice raises its alarms twice."""

    def __init__(self, scenario: Scenario, mqtt: MqttEndpoint, **options) -> None:
        super().__init__(scenario, mqtt, None, **options)
        self.seq_offset = int(time.time()) * 1_000_000

    def run(self) -> RunResult:
        result = super().run()
        if self.console is None or self.scenario.responders:
            why = ("its timeline is in the log of `redband run` (watch a console with --console to judge it)"
                   if self.console is None else "the scenario's responders act through an engine of the run's own")
            result.expectations = [
                e if e.name == "no event lost" else
                ExpectationResult(e.name, True, f"skipped: no engine in this run; {why}", skipped=True)
                for e in result.expectations]
        return result

    def _incidents_from(self) -> str:
        return "console" if self.console is not None else ""

    def _checker_scope(self):
        return self.console.devices_in_view() if self.console is not None else None

    def _taken(self) -> int | None:
        """From the command center's heartbeats (once a second), the engine being another's."""
        figures = self.console.engine_figures if self.console is not None else None
        return figures.events_taken if figures is not None else None
