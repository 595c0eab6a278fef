"""Thrown objects (engine/hosting/throws.py) and community doors (engine/hosting/doors.py) through a host."""

from __future__ import annotations

import msgspec

from engine.journal import MemoryJournal
from protocols.device import make_message
from protocols.kinds import IncidentKind, IncidentState, Level
from tests.engine.helpers import Pair

CAMERA, DOOR = "C0001-cam1", "C0001-door1"


def _throw(pair: Pair, facade: str = "east", **data) -> str:
    result = pair.send(CAMERA, "camera.throw", {"facade": facade, **data})
    assert result.accepted == 1
    return result.acks[0].incident_id


def test_a_throw_shows_building_facade_and_floor_and_repeats_within_10_min_join_it():
    pair = Pair()
    first = _throw(pair, building="7", floor_low=12, floor_high=14, trajectory="parabolic", clip="clips/1.mp4")
    record = pair.host.incidents[first]
    assert record.kind is IncidentKind.CAMERA_THROW
    assert record.timeline[0].note.startswith("building 7, facade east, floors 12-14, trajectory parabolic, "
                                              "clip clips/1.mp4")
    pair.now_s = 300.0
    assert _throw(pair, clip="clips/2.mp4") == first
    pair.now_s = 850.0  # 550 s after the last one
    assert _throw(pair, floor=9) == first
    assert pair.host.incidents[first].repeats == 2
    joined = pair.host._domains[1].throws.open[(CAMERA, "east")]  # noqa: SLF001
    assert (joined.repeats, joined.clips) == (2, ["clips/1.mp4", "clips/2.mp4"])


def test_another_facade_or_a_throw_after_10_min_is_a_new_incident():
    pair = Pair()
    first = _throw(pair)
    assert _throw(pair, facade="north") != first
    pair.now_s = 601.0
    later = _throw(pair)
    assert later != first and len({r.id for r in pair.host.open_incidents()}) == 3
    assert pair.host.incidents[first].repeats == 0


def test_a_throw_after_its_incident_ended_is_a_new_one():
    pair = Pair()
    first = _throw(pair)
    record = pair.host.incidents[first]
    closed = msgspec.structs.replace(record, state=IncidentState.CLOSED, version=record.version + 1)
    pair.host._store.store(closed, record, [], 1.0)  # noqa: SLF001 - as an operator's close would
    pair.now_s = 10.0
    assert _throw(pair) != first


def test_old_throw_payloads_stay_valid_and_a_restarted_host_still_joins():
    assert make_message("camera.throw", seq=1, ts=0, data={"snapshot": "s.jpg", "floor": 3}).data.facade == ""
    journal = MemoryJournal()
    pair = Pair(journal=journal)
    first = _throw(pair, facade="")
    assert "facade ?, floor ?" in pair.host.incidents[first].timeline[0].note
    pair.restart()
    pair.now_s = 60.0
    assert _throw(pair, facade="") == first


def _held(pair: Pair) -> list:
    return [r for r in pair.host.open_incidents() if r.kind is IncidentKind.DOOR_HELD_OPEN]


def test_a_forced_door_reaches_the_guard_room_then_the_precincts_station_and_flapping_repeats_join():
    pair = Pair()
    incident = pair.send(DOOR, "door.forced").acks[0].incident_id
    site = pair.city.sites["C0001"]
    record = pair.host.incidents[incident]
    assert record.level is Level.GUARD_ROOM and record.notified == (site.guard_room_id,)
    for t in (1.0, 2.0, 3.0):
        pair.now_s = t
        assert pair.send(DOOR, "door.forced").acks[0].incident_id == incident
    assert pair.host.incidents[incident].repeats == 3
    pair.advance(60.0)
    record = pair.host.incidents[incident]
    station = pair.city.precincts[site.precinct_id].station_id
    assert record.level is Level.POLICE_STATION and station in record.notified


def test_a_door_held_open_past_120_s_is_raised_to_the_guard_room_then_the_station():
    pair = Pair()
    pair.send(DOOR, "door.opened", {"open": True})
    pair.advance(119.0)
    assert _held(pair) == []
    pair.advance(120.0)
    (record,) = _held(pair)
    assert record.kind is IncidentKind.DOOR_HELD_OPEN and record.level is Level.GUARD_ROOM
    pair.advance(180.0)
    assert pair.host.incidents[record.id].level is Level.POLICE_STATION


def test_a_flapping_door_contact_does_not_restart_the_held_open_timer():
    pair = Pair()
    pair.send(DOOR, "door.opened", {"open": True})
    pair.now_s = 50.0
    pair.send(DOOR, "door.opened", {"open": False})
    pair.now_s = 52.0  # open again within the 5 s debounce: never closed
    pair.send(DOOR, "door.opened", {"open": True})
    pair.advance(120.0)
    (record,) = _held(pair)
    assert "open for 120 s" in record.timeline[0].note


def test_a_door_closed_longer_than_the_debounce_starts_afresh():
    pair = Pair()
    pair.send(DOOR, "door.opened", {"open": True})
    pair.now_s = 50.0
    pair.send(DOOR, "door.opened", {"open": False})
    pair.now_s = 60.0
    pair.send(DOOR, "door.opened", {"open": True})
    pair.advance(179.0)
    assert _held(pair) == []
    pair.advance(180.0)
    assert len(_held(pair)) == 1
