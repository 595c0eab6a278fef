"""Operator commands on incidents and devices (engine.hosting.commands)."""

from __future__ import annotations

import pytest

from engine.errors import InvalidTransition, UnknownDevice, UnknownIncident
from engine.hosting.commands import OperatorCommands
from protocols import IncidentState, Level
from protocols.kinds import IncidentKind
from protocols.records import Action, OperatorCommand
from tests.engine.host_parts import Parts


def _desk(parts: Parts) -> tuple[OperatorCommands, list[int]]:
    flushes: list[int] = []
    desk = OperatorCommands(host_id="h0", policies=parts.policies, roster=parts.roster, store=parts.store,
                            staging=parts.staging, device_commands=parts.device_commands,
                            flush=lambda: (flushes.append(1), parts.write()))
    return desk, flushes


def _panic(parts: Parts) -> tuple[str, str]:
    box = parts.city.devices[parts.device("panic_box")]
    incident_id = parts.store.raise_or_repeat(box, IncidentKind.SCHOOL_PANIC, 0.0, seq=1)
    parts.write()
    return incident_id, parts.city.sites[box.site_id].guard_room_id


def test_an_acknowledgement_changes_the_incident_is_audited_and_written():
    parts = Parts()
    desk, flushes = _desk(parts)
    incident_id, guard_room = _panic(parts)
    command = OperatorCommand(Action.ACKNOWLEDGE, incident_id, "guard-1", Level.GUARD_ROOM, guard_room, note="seen")
    updated = desk.on_incident(command, 2.0)
    assert updated.state is IncidentState.ACKNOWLEDGED and parts.store.get(incident_id) == updated
    assert flushes == [1] and parts.journal.incidents[incident_id] == updated
    row = parts.journal.audit[-1]
    site = next(s.id for s in parts.city.sites.values() if s.guard_room_id == guard_room)
    assert (row.actor, row.role, row.scope, row.action, row.target, row.outcome, row.reason) == (
        "guard-1", "guard_room", site, "acknowledge", incident_id, "ok", "seen")


def test_a_command_for_an_unknown_incident_is_refused_audited_and_written():
    parts = Parts()
    desk, flushes = _desk(parts)
    command = OperatorCommand(Action.ACKNOWLEDGE, "nope#1", "guard-1", Level.GUARD_ROOM, "g")
    with pytest.raises(UnknownIncident):
        desk.on_incident(command, 1.0)
    assert flushes == [1] and (parts.journal.audit[-1].outcome, parts.journal.audit[-1].reason) == (
        "refused", "unknown incident")


def test_a_transition_the_lifecycle_refuses_is_audited_with_its_reason_and_changes_nothing():
    parts = Parts()
    desk, _ = _desk(parts)
    incident_id, guard_room = _panic(parts)
    before = parts.store.get(incident_id)
    command = OperatorCommand(Action.CLOSE, incident_id, "guard-1", Level.GUARD_ROOM, guard_room)
    with pytest.raises(InvalidTransition):
        desk.on_incident(command, 1.0)
    assert parts.store.get(incident_id) == before
    assert parts.journal.audit[-1].outcome == "refused" and parts.journal.audit[-1].reason


def test_a_device_command_is_audited_then_queued():
    parts = Parts()
    desk, flushes = _desk(parts)
    door = parts.device("door")
    desk.on_device(door, "open_door", {"for_s": 5}, actor="guard-1", now_s=3.0)
    (queued,) = parts.device_commands.take()
    assert (queued.device_id, queued.command, queued.args, queued.at_s) == (door, "open_door", {"for_s": 5}, 3.0)
    row = parts.journal.audit[-1]
    assert (row.actor, row.action, row.target, row.outcome) == ("guard-1", "device.command", door, "ok")
    assert row.reason == "open_door {'for_s': 5}"
    assert flushes == [1]


def test_a_command_for_a_device_not_on_this_host_is_refused():
    parts = Parts()
    desk, flushes = _desk(parts)
    with pytest.raises(UnknownDevice):
        desk.on_device("nowhere", "open_door", {}, actor="guard-1", now_s=0.0)
    assert flushes == [] and parts.device_commands.take() == []
