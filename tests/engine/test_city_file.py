"""Validating a city file into the model, and back (engine.city_file)."""

from __future__ import annotations

import pytest

from engine.city_file import city_from_dict, city_to_dict, load_city
from engine.errors import ConfigError
from protocols import DeviceKind

BASE = {
    "city": {"id": "t", "name": "Test"},
    "command_center": {"id": "CC"},
    "precincts": [{"id": "P1", "station": "P1-station", "lat": 31.0, "lon": 117.0}],
    "sites": [{"id": "C1", "kind": "community", "precinct": "P1", "guard_room": "C1-guard", "lat": 31.5,
               "lon": 117.5}],
    "devices": [{"id": "C1-door", "kind": "door", "site": "C1", "unit": "1"},
                {"id": "C1-phone", "kind": "resident_phone", "site": "C1"}],
    "residents": [{"id": "r1", "site": "C1", "unit": "1", "phone": "C1-phone", "verified": True}],
    "teams": [{"id": "T1", "precinct": "P1"}],
    "volunteers": [],
}


def _with(**changes):
    return {**BASE, **changes}


def test_a_device_takes_its_sites_precinct_and_place_unless_it_has_its_own():
    city = city_from_dict(BASE)
    door = city.devices["C1-door"]
    assert (door.precinct_id, door.site_id, door.lat, door.lon) == ("P1", "C1", 31.5, 117.5)


def test_a_volunteer_phone_belongs_to_its_teams_precinct():
    city = city_from_dict(_with(devices=[{"id": "v", "kind": "volunteer_phone", "team": "T1"}], residents=[]))
    phone = city.devices["v"]
    assert (phone.kind, phone.precinct_id, phone.team_id, phone.site_id) == (DeviceKind.VOLUNTEER_PHONE, "P1",
                                                                              "T1", None)
    assert (phone.lat, phone.lon) == (31.0, 117.0)


@pytest.mark.parametrize("changes, field, reason", [
    (dict(devices=[{"id": "C1-guard", "kind": "camera", "site": "C1"}]), "devices[0].id", "duplicate id 'C1-guard'"),
    (dict(devices=[{"id": "P1-maint", "kind": "camera", "site": "C1"}]), "devices[0].id", "duplicate id"),
    (dict(devices=[{"id": "a/b", "kind": "camera", "site": "C1"}]), "devices[0].id", ""),
    (dict(devices=[{"id": "d", "kind": "door", "site": "C1"}]), "devices[0].unit", "a door needs the unit"),
    (dict(devices=[{"id": "d", "kind": "panic_box", "site": "C1"}]), "devices[0].kind", "cannot be at a community"),
    (dict(devices=[{"id": "v", "kind": "volunteer_phone"}]), "devices[0].team", "needs a known team"),
    (dict(sites=[{"id": "C1", "kind": "community", "precinct": "P1"}]), "sites[0].guard_room", "required"),
    (dict(sites=[{"id": "K", "kind": "kiosk_hall", "precinct": "P1", "guard_room": "g"}], devices=[],
          residents=[]), "sites[0].guard_room", "a kiosk hall has no guard room"),
    (dict(residents=[{"id": "r", "site": "C1", "unit": "1", "phone": "C1-door"}]), "residents[0].phone",
     "not a resident_phone"),
    (dict(precincts=[]), "precincts", "at least one precinct"),
])
def test_a_rule_broken_names_its_field(changes, field, reason):
    with pytest.raises(ConfigError) as caught:
        city_from_dict(_with(**changes), file="city.toml")
    assert caught.value.file == "city.toml" and caught.value.field == field and reason in caught.value.reason


def test_a_city_goes_to_a_dict_and_back_unchanged():
    city = city_from_dict(BASE)
    assert city_from_dict(city_to_dict(city)) == city


def test_a_file_that_cannot_be_read_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_city(tmp_path / "missing.toml")


def test_an_error_in_a_file_names_its_line(tmp_path):
    path = tmp_path / "city.toml"
    path.write_text('[city]\nid = "t"\n[command_center]\nid = "CC"\n[[precincts]]\nid = "P1"\nstation = "P1"\n')
    with pytest.raises(ConfigError) as caught:
        load_city(path)
    assert caught.value.line == 7 and "duplicate id 'P1'" in caught.value.reason
