"""simulation.driver: the run's mode follows from how it is asked for, and a mode refuses what it cannot do. No Ray:
an own engine is only made here, never started."""

from __future__ import annotations

import dataclasses

import pytest

from engine.errors import ConfigError
from protocols.endpoint import parse_mqtt_url
from simulation.driver import MqttRun, RealtimeRun, RemoteMqttRun, ScenarioRun, VirtualRun, make_run
from simulation.scenario import load_scenario

SCENARIO = """
name = "modes"
duration_s = 20
[city]
generate = { seed = 1 }
[[events]]
at_s = 1
device = "S0001-panic1"
kind = "school.panic"
"""


class _EngineInSight:
    """Stands for an engine the run does not own: the runs only keep it until they are run."""

    def take_changes(self) -> list:
        return []


@pytest.fixture()
def scenario(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO)
    return load_scenario(path)


MQTT = parse_mqtt_url("mqtt://sim:pw@127.0.0.1:1883")


def test_without_mqtt_the_run_hands_events_to_an_engine_of_its_own_in_virtual_or_real_time(scenario):
    virtual, real = make_run(scenario), make_run(scenario, realtime=True, until_s=5)
    assert type(virtual) is VirtualRun and not virtual.realtime and virtual.end_s == scenario.duration_s
    assert type(real) is RealtimeRun and real.realtime and real.end_s == 5
    assert virtual._owns_engine and real._owns_engine and real.engine.options.realtime
    assert not virtual.engine.options.realtime
    assert ScenarioRun is make_run  # the old name still builds runs


def test_over_mqtt_the_run_publishes_to_the_engine_in_sight_or_to_another_engine(scenario):
    engine = _EngineInSight()
    in_sight = make_run(scenario, realtime=True, mqtt=MQTT, engine=engine)
    assert type(in_sight) is MqttRun and in_sight.engine is engine and not in_sight._owns_engine
    assert in_sight.realtime and in_sight.seq_offset == 0
    remote = make_run(scenario, mqtt=MQTT, own_engine=False)
    assert type(remote) is RemoteMqttRun and remote.engine is None and remote.realtime
    assert remote.seq_offset > 0  # a device's seq only grows: a second run's alarms are new alarms


def test_combinations_no_mode_can_run_are_refused(scenario):
    with pytest.raises(ValueError, match="engine in sight"):
        make_run(scenario, mqtt=MQTT)  # over MQTT, an engine of the run's own would have no bridge
    with pytest.raises(ValueError, match="without MQTT"):
        make_run(scenario, own_engine=False)
    killing = dataclasses.replace(scenario, broker_kills=((5.0, 1.0),))
    for mode in (lambda: make_run(killing), lambda: make_run(killing, mqtt=MQTT, own_engine=False)):
        with pytest.raises(ConfigError, match="--stack"):
            mode()
