"""Crash safety of the pure host: memory holds only what the journal took; a restart resumes timers and dedup."""

from __future__ import annotations

import pytest

from engine.errors import JournalUnavailable
from engine.host import HostConfig
from engine.hosting.incidents import IncidentStore
from engine.hosting.intake import Intake
from engine.journal import MemoryJournal
from protocols.batch import Ingest
from protocols.device import make_message
from protocols.kinds import AckStatus, IncidentKind, IncidentState
from tests.engine.helpers import Pair

DISK_FULL = OSError(28, "No space left on device")


def test_a_step_the_journal_refuses_is_not_acked_and_not_remembered():
    pair = Pair()
    box = pair.device("panic_box")
    pair.journal.fail_writes = DISK_FULL
    with pytest.raises(JournalUnavailable, match="No space left"):
        pair.send(box, "school.panic", seq=7, ts_ms=1000)
    assert pair.host.incidents == {} and pair.host.open_incidents() == []
    assert pair.host.take_changes() == []  # observers never hear of what the journal does not hold
    assert pair.host.statistics().journal_failures == 1

    pair.journal.fail_writes = None
    retry = pair.send(box, "school.panic", seq=7, ts_ms=1000)  # the device's retry: raised now, once
    (ack,) = retry.acks
    assert ack.status is AckStatus.ACK and ack.incident_id
    assert pair.journal.incidents[ack.incident_id].state is IncidentState.RAISED
    again = pair.send(box, "school.panic", seq=7, ts_ms=1000)
    assert again.acks[0].status is AckStatus.DUPLICATE and again.acks[0].incident_id == ack.incident_id
    assert len(pair.journal.incidents) == 1


def test_a_failed_step_keeps_what_earlier_steps_left_for_the_shell():
    pair = Pair()
    box, door = pair.device("panic_box"), pair.device("door")
    first = pair.host.ingest([Ingest(box, make_message("school.panic", seq=1, ts=0))], now_s=0.0)
    earlier_changes = len(pair.host.changes)
    earlier_outbox = sum(len(m) for m in pair.host.outbox.values())
    assert first.acks[0].status is AckStatus.ACK and earlier_changes
    pair.journal.fail_writes = DISK_FULL
    with pytest.raises(JournalUnavailable):
        pair.host.ingest([Ingest(door, make_message("door.forced", seq=1, ts=0))], now_s=1.0)
    assert len(pair.host.changes) == earlier_changes
    assert sum(len(m) for m in pair.host.outbox.values()) == earlier_outbox
    assert [c.record.device_id for c in pair.host.take_changes()] == [box] * earlier_changes
    assert first.acks[0].incident_id in pair.host.incidents  # rebuilt from the journal


def test_a_failed_deadline_step_fires_again_once_the_journal_writes():
    pair = Pair()
    box = pair.device("panic_box")
    (ack,) = pair.send(box, "school.panic").acks
    due = pair.host.incidents[ack.incident_id].deadline_s
    pair.journal.fail_writes = DISK_FULL
    with pytest.raises(JournalUnavailable):
        pair.advance(due + 1)
    assert pair.host.incidents[ack.incident_id].level == pair.journal.incidents[ack.incident_id].level
    pair.journal.fail_writes = None
    pair.advance(due + 2)
    escalated = pair.journal.incidents[ack.incident_id]
    assert escalated.deadline_s != due and escalated.step == 1


def test_a_journal_that_cannot_be_read_back_marks_the_host_broken():
    class Unreadable(MemoryJournal):
        def load(self, *, alarm_memory):
            if self.fail_writes is not None:
                raise OSError(5, "Input/output error")
            return super().load(alarm_memory=alarm_memory)

    journal = Unreadable()
    pair = Pair(journal=journal)
    journal.fail_writes = OSError(5, "Input/output error")
    with pytest.raises(JournalUnavailable):
        pair.send(pair.device("panic_box"), "school.panic")
    assert pair.host.broken


def test_a_tip_sent_again_after_a_restart_is_a_duplicate():
    pair = Pair()
    phone = pair.device("volunteer_phone")
    tip = {"category": "theft", "text": "bike taken", "lat": 31.8, "lon": 117.2}
    (ack,) = pair.send(phone, "patrol.clue", tip, seq=5, ts_ms=1000, boot=2).acks
    assert ack.status is AckStatus.ACK
    pair.restart()
    (again,) = pair.send(phone, "patrol.clue", tip, seq=5, ts_ms=1000, boot=2).acks
    assert again.status is AckStatus.DUPLICATE and again.incident_id == ack.incident_id
    other = dict(tip, text="another bike")
    (second,) = pair.send(phone, "patrol.clue", other, seq=6, ts_ms=2000, boot=2).acks
    assert second.status is AckStatus.ACK and second.incident_id != ack.incident_id
    clues = [r for r in pair.journal.incidents.values() if r.kind is IncidentKind.PATROL_CLUE]
    assert len(clues) == 2


def test_a_device_silent_since_before_the_restart_is_reported_offline_on_time():
    pair = Pair()
    box = pair.device("panic_box")
    pair.send(box, "heartbeat")
    pair.advance(5.0)  # the last-seen times are journaled about once a second
    assert pair.journal.seen[box] == (0.0, False)
    pair.now_s = 30.0
    pair.restart()  # the host died at 30 s; the device died too and never speaks again
    offline_at = 0.0 + 30.0 * 3  # heartbeat interval × misses after it was last seen
    assert pair.host.next_deadline_s() == offline_at
    pair.advance(offline_at - 0.5)
    assert not _offline(pair)
    pair.advance(offline_at)
    (offline,) = _offline(pair)
    assert offline.timeline[0].t_s == offline_at


def test_a_device_already_reported_offline_is_not_reported_again_after_a_restart():
    pair = Pair()
    box = pair.device("panic_box")
    pair.send(box, "heartbeat")
    pair.advance(1.0)
    pair.advance(91.0)
    assert len(_offline(pair)) == 1
    pair.restart()
    pair.advance(200.0)
    (offline,) = _offline(pair)
    assert offline.repeats == 0
    pair.now_s = 201.0
    pair.send(box, "heartbeat")  # back: the incident is cancelled, as without the restart
    assert pair.journal.incidents[offline.id].state is IncidentState.CANCELLED


def test_a_deadline_whose_handling_raises_is_retried_and_counted(monkeypatch):
    pair = Pair()
    box = pair.device("panic_box")
    (ack,) = pair.send(box, "school.panic").acks
    due = pair.host.incidents[ack.incident_id].deadline_s
    real = IncidentStore.deadline
    calls = []

    def flaky(self, incident_id, due_s, at_s):
        calls.append(at_s)
        if len(calls) == 1:
            raise RuntimeError("a bug in a policy")
        return real(self, incident_id, due_s, at_s)

    monkeypatch.setattr(IncidentStore, "deadline", flaky)
    pair.advance(due)
    assert pair.host.statistics().deadline_errors == 1
    assert pair.host.next_deadline_s() == due + pair.host.config.deadline_retry_s
    pair.advance(due + pair.host.config.deadline_retry_s)
    assert pair.journal.incidents[ack.incident_id].step == 1


def test_device_commands_not_confirmed_are_handed_out_again_then_audited_as_failed():
    pair = Pair()
    door = pair.device("door")
    pair.host.command_device(door, "open_door", {}, actor="guard", now_s=0.0)
    (first,) = pair.host.take_device_commands(now_s=0.0)
    assert pair.host.take_device_commands(now_s=0.0) == []
    config: HostConfig = pair.host.config
    pair.advance(config.command_confirm_s)
    (second,) = pair.host.take_device_commands(now_s=pair.now_s)
    assert (second.number, second.attempt) == (first.number, 2)
    pair.host.confirm_device_commands([second.number])
    pair.advance(pair.now_s + 10 * config.command_confirm_s)
    assert pair.host.take_device_commands(now_s=pair.now_s) == []

    pair.host.command_device(door, "siren", {}, actor="guard", now_s=pair.now_s)
    for _ in range(config.command_attempts):
        assert len(pair.host.take_device_commands(now_s=pair.now_s)) == 1
        pair.advance(pair.now_s + config.command_confirm_s)
    assert pair.host.take_device_commands(now_s=pair.now_s) == []
    failed = [r for r in pair.journal.audit if r.action == "device.command" and r.outcome == "failed"]
    assert [r.target for r in failed] == [door] and "siren" in failed[0].reason
    assert pair.host.statistics().commands_failed == 1


def _offline(pair: Pair):
    return [r for r in pair.journal.incidents.values() if r.kind is IncidentKind.DEVICE_OFFLINE]


def test_heartbeats_during_a_journal_outage_are_not_forgotten():
    """An outage longer than the offline window: the devices that kept speaking are not reported offline after it."""
    pair = Pair()
    box = pair.device("panic_box")
    pair.send(box, "heartbeat")
    pair.advance(1.0)
    pair.journal.fail_writes = DISK_FULL
    for t in range(30, 151, 30):
        pair.now_s = float(t)
        pair.send(box, "heartbeat")  # taken: a heartbeat writes nothing at once
        with pytest.raises(JournalUnavailable):
            pair.advance(t + 1.0)
    pair.journal.fail_writes = None
    pair.advance(152.0)
    assert not _offline(pair)
    assert pair.journal.seen[box] == (150.0, False)


def test_a_device_whose_offline_incident_was_closed_is_not_reported_again_after_a_restart():
    pair = Pair()
    box = pair.device("panic_box")
    pair.send(box, "heartbeat")
    pair.advance(1.0)
    pair.advance(91.0)
    (offline,) = _offline(pair)
    from protocols.kinds import Level
    from protocols.records import Action, OperatorCommand

    maintenance = pair.city.precincts[pair.city.devices[box].precinct_id].maintenance_id
    assert maintenance in offline.notified
    pair.host.command(OperatorCommand(Action.FALSE_ALARM, offline.id, "duty", Level.MAINTENANCE, maintenance,
                                      disposition="known: power cut"), now_s=pair.now_s)
    assert not pair.journal.incidents[offline.id].is_active
    pair.advance(95.0)  # the flag reaches the journal with the next seen flush
    pair.restart()
    pair.advance(400.0)
    assert [r.id for r in _offline(pair)] == [offline.id]  # the device is still silent: nothing new


def test_a_supervision_deadline_whose_incident_cannot_be_raised_is_retried_until_it_is(monkeypatch):
    pair = Pair()
    box = pair.device("panic_box")
    pair.send(box, "heartbeat")
    real = IncidentStore.raise_or_repeat
    calls = []

    def flaky(self, device, kind, now_s, **kw):
        calls.append(kind)
        if kind is IncidentKind.DEVICE_OFFLINE and len(calls) == 1:
            raise RuntimeError("a bug")
        return real(self, device, kind, now_s, **kw)

    monkeypatch.setattr(IncidentStore, "raise_or_repeat", flaky)
    pair.advance(90.0)
    assert not _offline(pair) and pair.host.statistics().deadline_errors == 1
    pair.advance(91.0)
    (offline,) = _offline(pair)
    assert offline.raised_s == 90.0  # raised for the time it was due


def test_commands_due_again_are_not_lost_with_a_failed_step():
    pair = Pair()
    door = pair.device("door")
    pair.host.command_device(door, "open_door", {}, actor="guard", now_s=0.0)
    pair.host.take_device_commands(now_s=0.0)
    pair.journal.fail_writes = DISK_FULL
    pair.send(pair.device("camera"), "heartbeat")  # something for the seen flush to write
    with pytest.raises(JournalUnavailable):
        pair.advance(pair.host.config.command_confirm_s)
    pair.journal.fail_writes = None
    pair.advance(pair.now_s + 0.5)
    (again,) = pair.host.take_device_commands(now_s=pair.now_s)
    assert (again.command, again.attempt) == ("open_door", 2)


def test_a_step_that_raises_half_way_is_forgotten_whole(monkeypatch):
    pair = Pair()
    box, door = pair.device("panic_box"), pair.device("door")
    real = Intake.handle

    def failing_on_the_door(self, item, now_s):
        if item.device_id == door:
            raise OSError(5, "a journal read failed")
        return real(self, item, now_s)

    monkeypatch.setattr(Intake, "handle", failing_on_the_door)
    with pytest.raises(OSError):
        pair.host.ingest([Ingest(box, make_message("school.panic", seq=1, ts=0)),
                          Ingest(door, make_message("door.forced", seq=1, ts=0))], now_s=0.0)
    assert pair.host.incidents == {} and pair.host.take_changes() == [] and pair.journal.incidents == {}
