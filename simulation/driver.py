"""Runs a scenario against the engine on Ray: scripted device events go in, scripted responders act a set time
after they are notified, faults are carried out at their times, and the timeline is collected and checked against
the scenario's expectations. One class per mode:

- :class:`VirtualRun` (``simulation.run_inprocess``): virtual time, an engine of its own, events in batches to
  ``Engine.ingest`` (seconds for a 30-minute scenario);
- :class:`RealtimeRun` (``simulation.run_inprocess``): the same in real time;
- :class:`MqttRun` (``simulation.run_mqtt``): real time, the devices publishing through the broker to an engine
  in sight (a stack's, the demo's);
- :class:`RemoteMqttRun` (``simulation.run_mqtt``): real time over MQTT against an engine started elsewhere
  (``redband run --mqtt``), judged on what the devices and (optionally) an operator's console saw.

What they share is in ``simulation.run_base``. :func:`make_run` picks the mode from the keywords the single
driver class used to take (``ScenarioRun`` is kept as its name for existing callers)."""

from __future__ import annotations

from simulation.report import RunResult
from simulation.run_base import RunBase
from simulation.run_inprocess import RealtimeRun, VirtualRun
from simulation.run_mqtt import MqttRun, RemoteMqttRun
from simulation.scenario import Scenario

__all__ = ["MqttRun", "RealtimeRun", "RemoteMqttRun", "RunBase", "ScenarioRun", "VirtualRun", "make_run",
           "run_scenario"]


def make_run(scenario: Scenario, *, realtime: bool = False, mqtt=None, own_engine: bool = True, engine=None,
             take_changes=None, until_s: float | None = None, on_row=None, on_progress=None, journal_dir=None,
             ray_address: str | None = None, json_devices: bool = False, broker=None, console=None) -> RunBase:
    """The run for these options. ``mqtt``: the devices publish through this broker endpoint (real time); then
    ``engine`` is the engine in sight, or, with none and ``own_engine=False``, the engine is another's. Without
    ``mqtt``, ``realtime`` chooses between real and virtual time, on ``engine`` or an engine of the run's own."""
    common = dict(until_s=until_s, on_row=on_row)
    if mqtt is not None:
        options = dict(common, console=console, broker=broker, json_devices=json_devices, on_progress=on_progress)
        if engine is not None:
            return MqttRun(scenario, mqtt, engine, take_changes=take_changes, **options)
        if own_engine:
            raise ValueError("over MQTT the run needs the engine in sight (engine=) or none (own_engine=False)")
        return RemoteMqttRun(scenario, mqtt, **options)
    if console is not None or not own_engine and engine is None:
        raise ValueError("without MQTT the run hands events to an engine: its own, or engine=")
    options = dict(common, journal_dir=journal_dir, ray_address=ray_address, engine=engine, take_changes=take_changes)
    if realtime:
        return RealtimeRun(scenario, on_progress=on_progress, **options)
    return VirtualRun(scenario, **options)


ScenarioRun = make_run
"""The name the single driver class had; callers that construct a run by keywords keep working."""


def run_scenario(scenario: Scenario, **options) -> RunResult:
    return make_run(scenario, **options).run()
