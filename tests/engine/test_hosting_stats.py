"""What a host counts and reports (engine.hosting.stats)."""

from __future__ import annotations

import dataclasses

import pytest

from engine.hosting.stats import Counters, HostStats, host_stats


def test_every_counter_is_reported_under_its_own_name():
    counters = Counters(**{f.name: i + 1 for i, f in enumerate(dataclasses.fields(Counters))})
    stats = host_stats("h0", counters, devices=10, devices_active=4, responders=3, incidents_open=2, deadlines=5,
                       journal_writes=7)
    for field in dataclasses.fields(Counters):
        assert getattr(stats, field.name) == getattr(counters, field.name), field.name
    assert (stats.host_id, stats.devices, stats.devices_active, stats.responders, stats.incidents_open,
            stats.deadlines, stats.journal_writes) == ("h0", 10, 4, 3, 2, 5, 7)


def test_statistics_are_a_frozen_snapshot():
    counters = Counters()
    stats = host_stats("h0", counters, devices=0, devices_active=0, responders=0, incidents_open=0, deadlines=0,
                       journal_writes=0)
    counters.accepted += 1
    assert stats.accepted == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.accepted = 1  # type: ignore[misc]
    assert isinstance(stats, HostStats)
