"""A phase of exactly ``count`` arrivals, each from a device of its own (``distinct_devices``): the alarm storm's
shape. Pure: the scenario file only."""

from __future__ import annotations

import pytest

from engine.errors import ConfigError
from simulation.scenario import load_scenario

PHASE = """
name = "storm"
duration_s = 2
[city]
generate = {{ precincts = 1, communities = 10, doors_per_community = 4, volunteers = 0, schools = 0, kiosk_halls = 0 }}
[[phases]]
kind = "door.forced"
device_kind = "door"
{size}
distinct_devices = true
start_s = 0.5
duration_s = 0.1
"""


def _load(tmp_path, size: str):
    path = tmp_path / "storm.toml"
    path.write_text(PHASE.format(size=size))
    return load_scenario(path)


def test_count_arrivals_from_distinct_devices_within_the_phase(tmp_path):
    alarms = [e for e in _load(tmp_path, "count = 40").events if e.message.event_kind.is_alarm]
    assert len(alarms) == 40 and len({e.device_id for e in alarms}) == 40
    assert all(0.5 <= e.at_s < 0.6 for e in alarms) and all(e.message.seq == 1 for e in alarms)


def test_more_distinct_arrivals_than_devices_and_rate_with_count_are_refused_by_name(tmp_path):
    with pytest.raises(ConfigError, match=r"phases\[0\]\.count: 41 arrivals from distinct devices, but 40 devices"):
        _load(tmp_path, "count = 41")
    with pytest.raises(ConfigError, match=r"phases\[0\]\.rate_per_s: give exactly one of rate_per_s or count"):
        _load(tmp_path, "count = 4\nrate_per_s = 10")
    with pytest.raises(ConfigError, match=r"phases\[0\]\.rate_per_s: give exactly one of rate_per_s or count"):
        _load(tmp_path, "")
