"""The entities living on a host (engine.hosting.roster)."""

from __future__ import annotations

from engine.hosting.roster import Roster, make_responders
from engine.journal import AlarmSeq
from protocols import Level
from protocols.kinds import AckStatus
from tests.engine.host_parts import CITY, HOST_CITY


def test_a_device_entity_is_made_on_first_use_only_for_a_device_of_the_host():
    roster = Roster(HOST_CITY, is_cc=False, alarm_memory=8)
    door = next(iter(HOST_CITY.devices))
    assert roster.devices == {}
    entity = roster.device(door)
    assert entity is roster.device(door) and list(roster.devices) == [door]
    assert roster.device("nowhere") is None and "nowhere" not in roster.devices


def test_an_activated_entity_remembers_the_alarms_the_journal_kept_for_it():
    roster = Roster(HOST_CITY, is_cc=False, alarm_memory=8)
    box = next(d.id for d in HOST_CITY.devices.values() if d.kind == "panic_box")
    roster.recovered_seqs = {box: [AlarmSeq(box, 7, f"{box}#7", boot=1, digest=99)]}
    verdict = roster.device(box).check_alarm(7, boot=1, digest=99)
    assert verdict.status is AckStatus.DUPLICATE and verdict.incident_id == f"{box}#7"
    assert roster.recovered_seqs == {}


def test_speaks_json_and_last_seen_are_read_from_the_entities():
    roster = Roster(HOST_CITY, is_cc=False, alarm_memory=8)
    a, b = list(HOST_CITY.devices)[:2]
    assert roster.speaks_json(a) is False
    roster.device(a).speaks_json = True
    roster.device(a).last_seen_s = 4.0
    roster.device(b)  # activated, never seen
    assert roster.speaks_json(a) is True
    assert roster.last_seen() == {a: (4.0, False)}


def test_a_precinct_host_has_the_stations_maintenance_queues_and_guard_rooms_of_its_sites():
    responders = make_responders(HOST_CITY, is_cc=False)
    precinct = HOST_CITY.precincts["P1"]
    assert responders[precinct.station_id].level is Level.POLICE_STATION
    assert responders[precinct.maintenance_id].level is Level.MAINTENANCE
    guard_rooms = {s.guard_room_id for s in HOST_CITY.sites.values() if s.guard_room_id}
    assert {r.id for r in responders.values() if r.level is Level.GUARD_ROOM} == guard_rooms
    assert CITY.command_center.id not in responders


def test_the_command_center_host_has_the_command_center_only():
    responders = make_responders(CITY, is_cc=True)
    assert list(responders) == [CITY.command_center.id]
    assert responders[CITY.command_center.id].level is Level.COMMAND_CENTER
