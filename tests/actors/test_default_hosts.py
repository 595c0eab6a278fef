"""How many precinct hosts a program starts on this machine when nobody says: one per core, at most one per
precinct shard (no Ray needed to decide)."""

from __future__ import annotations

from actors.runtime import default_precinct_hosts
from engine.topology import load_city
from simulation.shipped import DEMO_CITY, shipped


def test_one_precinct_host_per_core_at_most_one_per_precinct():
    city = load_city(shipped(DEMO_CITY))
    assert len(city.precincts) == 6
    assert [default_precinct_hosts(city, cores=n) for n in (1, 2, 4, 64)] == [1, 2, 4, 6]
