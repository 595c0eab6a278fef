"""An alarm storm through the real stack (Mosquitto, the engine with its bridge's alarm lane in a process of its own,
the console gateway with a command-center operator watching): 500 doors forced within 0.1 s over background heartbeats.
Every alarm acked once, none lost or doubled, every incident on the command center's console. No timing assertion:
the full storm (5,000 doors in 1 s, ``simulation/scenarios/alarm_storm.toml``) and its figures are in
``docs/benchmarks.md``."""

from __future__ import annotations

import pytest

from simulation.scenario import load_scenario

STORM = """
name = "alarm storm, small"
duration_s = 2
[city.generate]
precincts = 2
communities = 130
doors_per_community = 4
cameras_per_community = 0
residents_per_door = 0
schools = 2
kiosk_halls = 1
volunteers = 20
seed = 16
[[phases]]
kind = "heartbeat"
rate_per_s = 200
duration_s = 2
[[phases]]
kind = "door.forced"
device_kind = "door"
count = 500
distinct_devices = true
start_s = 0.5
duration_s = 0.1
seed = 16
"""


@pytest.mark.ray
@pytest.mark.mqtt
def test_500_doors_forced_at_once_are_all_acked_once_and_on_the_command_centers_console(tmp_path, ray_session):
    from redband.stack import Stack
    from simulation.console_watch import ConsoleWatch
    from simulation.driver import run_scenario

    path = tmp_path / "storm.toml"
    path.write_text(STORM)
    scenario = load_scenario(path)
    assert len({e.device_id for e in scenario.events if e.message.event_kind.is_alarm}) == 500
    with Stack(scenario.city, scenario.policies, tmp_path / "stack", precinct_hosts=2) as stack:
        with ConsoleWatch(stack.watcher) as watch:
            result = run_scenario(scenario, mqtt=stack.simulator, engine=stack.engine, take_changes=stack.take_changes,
                                  broker=stack.broker, console=watch, realtime=True)
    metrics = result.metrics
    assert metrics["alarms"]["sent"] == 500 and metrics["alarms"]["acked"] == 500, metrics["alarms"]
    assert metrics["checker"]["lost"] == 0 and metrics["checker"]["duplicated"] == 0, metrics["checker"]
    assert metrics["checker"]["unexpected"] == 0, metrics["checker"]
    paths = metrics["latency_paths"]
    assert paths["ack"]["count"] == 500, paths  # one first ack per alarm: none answered as new twice
    assert paths["console"]["count"] == 500, paths  # each incident seen on the command center's console
    lane = metrics["alarm_lane"]
    assert lane["accepted"] == 500 and lane["not_taken"] == 0, lane
    assert result.lost == 0, result.notes
