"""The loaded city and its lookups (engine.city_model)."""

from __future__ import annotations

from engine.city_model import City, CommandCenter, Device, Precinct, Site, subset_for
from protocols import DeviceKind, Level, SiteKind


def _city() -> City:
    city = City("t", "Test", CommandCenter("CC", "Command", 0.0, 0.0),
                {"P1": Precinct("P1", "One", "P1-station", 0.0, 0.0, None),
                 "P2": Precinct("P2", "Two", "P2-station", 0.0, 0.0, None)})
    city.sites["C1"] = Site("C1", SiteKind.COMMUNITY, "P1", "", 0.0, 0.0, "C1-guard")
    city.sites["K1"] = Site("K1", SiteKind.KIOSK_HALL, "P2", "", 0.0, 0.0, None)
    city.devices["C1-door"] = Device("C1-door", DeviceKind.DOOR, "P1", "C1", None, "1", 0.0, 0.0, None)
    city.devices["K1-kiosk"] = Device("K1-kiosk", DeviceKind.KIOSK, "P2", "K1", None, "", 0.0, 0.0, None)
    return city


def test_each_level_answers_for_a_device_through_its_site_and_precinct():
    city = _city()
    door = city.devices["C1-door"]
    assert city.target_for(Level.GUARD_ROOM, door) == "C1-guard"
    assert city.target_for(Level.POLICE_STATION, door) == "P1-station"
    assert city.target_for(Level.MAINTENANCE, door) == "P1-maint"
    assert city.target_for(Level.COMMAND_CENTER, door) == "CC"


def test_a_site_without_a_guard_room_has_no_one_at_that_level():
    city = _city()
    assert city.target_for(Level.GUARD_ROOM, city.devices["K1-kiosk"]) is None


def test_every_responder_with_its_level_and_precinct():
    assert _city().responder_ids() == {
        "CC": (Level.COMMAND_CENTER, ""),
        "P1-station": (Level.POLICE_STATION, "P1"), "P1-maint": (Level.MAINTENANCE, "P1"),
        "P2-station": (Level.POLICE_STATION, "P2"), "P2-maint": (Level.MAINTENANCE, "P2"),
        "C1-guard": (Level.GUARD_ROOM, "P1"),
    }


def test_a_hosts_subset_keeps_its_devices_and_sites_and_every_precinct():
    city = _city()
    part = subset_for(city, {"C1-door"}, {"C1"})
    assert list(part.devices) == ["C1-door"] and list(part.sites) == ["C1"]
    assert part.precincts == city.precincts and part.command_center == city.command_center
    assert part.summary() == {"precincts": 2, "sites": 1, "devices": 1, "residents": 0, "teams": 0,
                              "volunteers": 0}
