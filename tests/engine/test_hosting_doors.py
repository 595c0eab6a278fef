"""Doors held open (engine.hosting.doors)."""

from __future__ import annotations

from engine.hosting.doors import HELD_OPEN, Doors
from protocols.device import make_message
from protocols.kinds import IncidentKind
from tests.engine.host_parts import Parts

HELD_AFTER_S = 120.0  # door.held_open's trigger_after_s in the shipped policies


def _doors(parts: Parts) -> Doors:
    return Doors(policies=parts.policies, scheduler=parts.scheduler, store=parts.store)


def _door_event(is_open: bool, seq: int = 1):
    return make_message("door.opened", seq=seq, ts=0, data={"open": is_open})


def test_an_open_door_starts_its_timer_once_and_closing_stops_it():
    parts = Parts()
    doors, entity = _doors(parts), parts.roster.device(parts.device("door"))
    key = (HELD_OPEN, entity.device.id)
    doors.opened(entity, _door_event(True), 10.0)
    doors.opened(entity, _door_event(True, 2), 20.0)  # still open: the timer runs from the first
    assert entity.door_open_since_s == 10.0 and parts.scheduler.due_of(key) == 10.0 + HELD_AFTER_S
    doors.opened(entity, _door_event(False, 3), 30.0)
    assert entity.door_open_since_s is None and parts.scheduler.due_of(key) is None


def test_a_door_held_open_past_its_timer_raises_held_open_with_how_long():
    parts = Parts()
    doors, entity = _doors(parts), parts.roster.device(parts.device("door"))
    doors.opened(entity, _door_event(True), 10.0)
    assert doors.deadline(entity.device.id, 130.0, 130.0) == 1
    (record,) = parts.store.incidents.values()
    assert record.kind is IncidentKind.DOOR_HELD_OPEN and record.id == f"{entity.device.id}#held@130000"
    assert "open for 120 s" in record.timeline[0].note


def test_a_door_closed_since_raises_nothing():
    parts = Parts()
    doors, entity = _doors(parts), parts.roster.device(parts.device("door"))
    doors.opened(entity, _door_event(True), 10.0)
    doors.opened(entity, _door_event(False, 2), 11.0)
    assert doors.deadline(entity.device.id, 130.0, 130.0) == 0
    assert doors.deadline("never-activated", 130.0, 130.0) == 0
    assert parts.store.incidents == {}
