"""Grids (engine/grids.py) and grid workers (engine/operators.py Role.GRID_WORKER): scope checks, what a grid worker
sees and may do, users files and city files."""

from __future__ import annotations

import pytest

from engine.city_file import city_from_dict
from engine.citygen import CitySpec, generate_city, generate_city_dict
from engine.errors import ConfigError
from engine.grids import grid_of, grids
from engine.operators import GRID_WORKER_ACTIONS, Jurisdiction, Role, check_scope, load_operators
from protocols import Level
from protocols.community_figures import grid_id
from protocols.records import Action
from redband.files import add_operator
from tests.engine.helpers import Pair

SPEC = CitySpec(precincts=2, communities=12, schools=2, kiosk_halls=1, volunteers=2, doors_per_community=1,
                cameras_per_community=1, residents_per_door=1, seed=7)


def _two_grids(city):
    by_grid = grids(city)
    mine = next(g for g in by_grid.values() if len(g.site_ids) >= 2)
    other = next(g for g in by_grid.values() if g.id != mine.id)
    return mine, other


def test_grids_are_the_sites_of_a_zone_with_an_id_from_its_name():
    city = generate_city(SPEC)
    assert grid_id("P1 north-east grid") == "P1-north-east-grid" and grid_id("") == ""
    by_grid = grids(city)
    assert sorted(s for g in by_grid.values() for s in g.site_ids) == sorted(city.sites)  # every site in one
    for grid in by_grid.values():
        assert {city.sites[s].zone for s in grid.site_ids} == {grid.name}
        assert grid.precinct_ids == {city.sites[s].precinct_id for s in grid.site_ids}


def test_a_grid_worker_sees_only_its_grids_incidents_and_acts_for_the_sites_guard_room():
    pair = Pair(SPEC)
    mine, other = _two_grids(pair.city)
    j = Jurisdiction.of(pair.city, Role.GRID_WORKER, mine.id)
    assert j.sites == mine.site_ids and j.level is Level.GUARD_ROOM and j.responder(pair.city) == ""
    inside = next(d for d in pair.city.devices.values() if d.site_id in mine.site_ids and d.kind.value == "door")
    outside = next(d for d in pair.city.devices.values() if d.site_id in other.site_ids and d.kind.value == "camera")
    seen = pair.host.incidents[pair.send(inside.id, "door.forced").acks[0].incident_id]
    unseen = pair.host.incidents[pair.send(outside.id, "camera.intrusion").acks[0].incident_id]
    assert j.sees(seen) and not j.sees(unseen)
    assert j.sees_site(inside.site_id, inside.precinct_id) and not j.sees_site(outside.site_id, outside.precinct_id)
    assert j.responder_for(pair.city, seen) == pair.city.sites[inside.site_id].guard_room_id
    assert Jurisdiction(Role.GRID_WORKER, mine.id).sees(seen) is False  # without its sites it sees nothing


def test_a_grid_worker_may_acknowledge_report_on_scene_and_resolve_but_not_end_or_dispatch():
    j = Jurisdiction(Role.GRID_WORKER, "g")
    assert {a for a in Action if j.refuses(a) is None} == GRID_WORKER_ACTIONS == {
        Action.ACKNOWLEDGE, Action.ON_SCENE, Action.RESOLVE}
    assert j.refuses(Action.CLOSE) == "action: a grid worker may only acknowledge, on_scene, resolve, not close"
    assert all(Jurisdiction(Role.GUARD_ROOM, "S1").refuses(a) is None for a in Action)  # the others: the engine decides


def test_a_grid_workers_scope_must_be_a_grid_of_the_city(tmp_path):
    city = generate_city(SPEC)
    mine, _ = _two_grids(city)
    assert check_scope(city, Role.GRID_WORKER, mine.id) is None
    assert check_scope(city, Role.GRID_WORKER, "P9-nowhere") == (
        f"no grid 'P9-nowhere' in city {city.id} (a grid id: the zone's name with '-' for spaces, "
        "say 'P1-north-east-grid')")
    assert check_scope(city, Role.GRID_WORKER, mine.name) is not None  # the name is not the id
    users = tmp_path / "users.toml"
    with pytest.raises(ConfigError, match=r"scope: no grid 'C0001'"):
        add_operator(users, name="gw", role=Role.GRID_WORKER, scope="C0001", password="pw", city=city)
    add_operator(users, name="gw", role=Role.GRID_WORKER, scope=mine.id, password="pw", city=city)
    assert 'role = "grid_worker"' in users.read_text()
    operator = load_operators(users, city=city)["gw"]
    assert operator.jurisdiction.sites == mine.site_ids
    text = users.read_text().replace(mine.id, "P9-nowhere")
    users.write_text(text)
    with pytest.raises(ConfigError, match=r"operators\[0\]\.scope: no grid 'P9-nowhere'"):
        load_operators(users, city=city)


def test_a_city_file_whose_zones_would_be_one_grid_is_refused_and_old_files_load():
    data = generate_city_dict(SPEC)
    city = city_from_dict(data)
    assert {grid_of(s) for s in city.sites.values()} == set(grids(city))
    for site in data["sites"]:
        site.pop("zone", None)  # an old file: no zones, no grids, loads as before
    assert grids(city_from_dict(data)) == {}
    data["sites"][0]["zone"], data["sites"][1]["zone"] = "North grid", "north  grid"
    city_from_dict(data)  # two names, two grids (ids are case-sensitive)
    data["sites"][1]["zone"] = "North-grid"
    with pytest.raises(ConfigError, match=r"sites\[1\]\.zone: zone 'North-grid' and zone 'North grid' would be the "
                                          r"same grid 'North-grid'"):
        city_from_dict(data)
    data["sites"][1]["zone"] = "--"
    with pytest.raises(ConfigError, match=r"sites\[1\]\.zone: zone '--': a grid's name needs a letter or digit"):
        city_from_dict(data)
