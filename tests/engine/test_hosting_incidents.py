"""The incident store (engine.hosting.incidents)."""

from __future__ import annotations

from msgspec.structs import replace

from engine.hosting.incidents import INCIDENT
from protocols import IncidentState, Level
from protocols.kinds import IncidentKind
from protocols.records import IncidentUpdate
from tests.engine.host_parts import Parts


def test_a_new_alarm_is_raised_indexed_timed_held_staged_and_streamed():
    parts = Parts()
    box = parts.city.devices[parts.device("panic_box")]
    incident_id = parts.store.raise_or_repeat(box, IncidentKind.SCHOOL_PANIC, 0.0, seq=3)
    record = parts.store.get(incident_id)
    assert incident_id == f"{box.id}#3" and record.state is IncidentState.RAISED
    assert parts.store.open_id(box.id, IncidentKind.SCHOOL_PANIC) == incident_id
    assert parts.scheduler.due_of((INCIDENT, incident_id)) == record.deadline_s == 30.0
    guard_room = parts.city.sites[box.site_id].guard_room_id
    assert incident_id in parts.roster.responders[guard_room].queue
    assert [c.record.id for c in parts.changes.take()] == [incident_id]
    assert [c.command for c in parts.device_commands.take()] == ["siren"]  # the school's siren
    parts.write()
    assert parts.journal.incidents[incident_id] == record


def test_the_same_alarm_again_while_open_is_a_repeat_not_a_second_incident():
    parts = Parts()
    box = parts.city.devices[parts.device("panic_box")]
    first = parts.store.raise_or_repeat(box, IncidentKind.SCHOOL_PANIC, 0.0, seq=1)
    again = parts.store.raise_or_repeat(box, IncidentKind.SCHOOL_PANIC, 1.0, seq=2)
    assert again == first and parts.store.get(first).repeats == 1


def test_a_fresh_report_is_its_own_incident_and_never_indexed():
    parts = Parts()
    phone = parts.city.devices[parts.device("volunteer_phone")]
    first = parts.store.raise_or_repeat(phone, IncidentKind.PATROL_CLUE, 0.0, seq=1, fresh=True)
    second = parts.store.raise_or_repeat(phone, IncidentKind.PATROL_CLUE, 1.0, seq=2, fresh=True)
    assert first != second and parts.store.open_id(phone.id, IncidentKind.PATROL_CLUE) is None


def test_an_id_already_used_in_the_journal_is_not_reused():
    parts = Parts()
    box = parts.city.devices[parts.device("panic_box")]
    taken = parts.store.raise_or_repeat(box, IncidentKind.SCHOOL_PANIC, 0.0, seq=1)
    parts.write()
    parts.rebuild_parts()  # a restart of the device's seqs meets an id the journal holds
    assert parts.store.fresh_incident_id(taken, 2.5) == f"{taken}@2500"


def test_a_deadline_that_still_stands_escalates_and_is_audited():
    parts = Parts()
    box = parts.city.devices[parts.device("panic_box")]
    incident_id = parts.store.raise_or_repeat(box, IncidentKind.SCHOOL_PANIC, 0.0, seq=1)
    assert parts.store.deadline(incident_id, 29.0, 29.0) == 0  # moved since: not this deadline
    assert parts.store.deadline(incident_id, 30.0, 30.0) == 1
    record = parts.store.get(incident_id)
    assert record.step == 1 and record.level is Level.COMMAND_CENTER
    (escalated,) = [r for r in parts.staging.take().audit if r.action == "escalated"]
    assert (escalated.actor, escalated.role, escalated.target, escalated.outcome, escalated.reason) == (
        "system", "system", incident_id, "ok", "to command_center")


def test_an_owned_incident_that_reaches_the_command_center_is_copied_to_its_host():
    parts = Parts()
    box = parts.city.devices[parts.device("panic_box")]
    incident_id = parts.store.raise_or_repeat(box, IncidentKind.SCHOOL_DURESS, 0.0, seq=1)
    (update,) = parts.peers.messages[parts.config.cc_host_id]
    assert isinstance(update, IncidentUpdate) and update.incident.id == incident_id


def test_an_ended_incident_leaves_memory_index_timers_and_queues():
    parts = Parts()
    box = parts.city.devices[parts.device("panic_box")]
    incident_id = parts.store.raise_or_repeat(box, IncidentKind.SCHOOL_PANIC, 0.0, seq=1)
    record = parts.store.get(incident_id)
    ended = replace(record, state=IncidentState.CANCELLED, deadline_s=None, version=record.version + 1)
    parts.store.store(ended, record, [], 1.0)
    assert parts.store.get(incident_id) is None and parts.store.open_incidents() == []
    assert parts.store.open_id(box.id, IncidentKind.SCHOOL_PANIC) is None
    assert parts.scheduler.due_of((INCIDENT, incident_id)) is None
    assert all(incident_id not in r.queue for r in parts.roster.responders.values())
    parts.write()
    assert parts.store.find(incident_id) == ended  # from the journal


def test_a_copy_older_than_the_one_held_is_ignored():
    parts = Parts()
    box = parts.city.devices[parts.device("panic_box")]
    incident_id = parts.store.raise_or_repeat(box, IncidentKind.SCHOOL_PANIC, 0.0, seq=1)
    newer = parts.store.get(incident_id)
    older = replace(newer, version=newer.version - 1, repeats=9)
    parts.store.deliver([IncidentUpdate(older)], 1.0)
    assert parts.store.get(incident_id) == newer


def test_a_journaled_record_is_adopted_without_being_staged_or_sent():
    parts = Parts()
    box = parts.city.devices[parts.device("panic_box")]
    incident_id = parts.store.raise_or_repeat(box, IncidentKind.SCHOOL_DURESS, 0.0, seq=1)
    record = parts.store.get(incident_id)
    parts.write()
    parts.changes.take(), parts.peers.take(now_s=0.0)
    parts.rebuild_parts()
    parts.store.adopt(record)
    assert parts.store.open_id(box.id, IncidentKind.SCHOOL_DURESS) == incident_id
    assert parts.scheduler.due_of((INCIDENT, incident_id)) == record.deadline_s
    assert parts.store.owned_open() == 1
    assert parts.staging.take() is None and parts.changes.take() == [] and parts.peers.messages == {}
