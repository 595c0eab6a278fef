"""Crash safety of the pure host: memory holds only what the journal took; a restart resumes timers and dedup."""

from __future__ import annotations

import pytest

from engine.errors import JournalUnavailable
from engine.host import HostConfig, HostCore
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
    assert pair.journal.seen[box] == 0.0
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
    real = HostCore._incident_deadline
    calls = []

    def flaky(self, incident_id, due_s, at_s):
        calls.append(at_s)
        if len(calls) == 1:
            raise RuntimeError("a bug in a policy")
        return real(self, incident_id, due_s, at_s)

    monkeypatch.setattr(HostCore, "_incident_deadline", flaky)
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
    assert [r.subject for r in failed] == [door] and "siren" in failed[0].detail
    assert pair.host.statistics().commands_failed == 1


def _offline(pair: Pair):
    return [r for r in pair.journal.incidents.values() if r.kind is IncidentKind.DEVICE_OFFLINE]
