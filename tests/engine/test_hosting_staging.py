"""Journal staging: one batch per step (engine.hosting.staging)."""

from __future__ import annotations

from engine.hosting.staging import JournalStaging
from engine.journal import AlarmSeq, AuditRow
from tests.engine.host_parts import make_record


def test_a_step_that_changed_nothing_has_no_batch():
    assert JournalStaging().take() is None


def test_a_record_changed_twice_in_a_step_writes_its_latest_and_every_entry_past_the_journal():
    staging = JournalStaging()
    first, second, third = make_record(2), make_record(3, 2), make_record(5, 3)
    staging.stage_record(second, first)  # the journal holds first's 2 entries
    staging.stage_record(third, second)
    batch = staging.take()
    assert batch.incidents == [third]
    assert [index for _, index, _ in batch.transitions] == [2, 3, 4]
    assert staging.take() is None  # taken: the staging is empty


def test_a_new_record_writes_all_its_entries():
    staging = JournalStaging()
    staging.stage_record(make_record(2), None)
    assert [index for _, index, _ in staging.take().transitions] == [0, 1]


def test_alarms_audit_and_seen_rows_go_in_the_batch():
    staging = JournalStaging()
    staging.stage_alarm(AlarmSeq("d", 3, "d#3"))
    staging.audit(1.0, "op", "acknowledge", "d#3", "ok", role="guard_room", scope="S1", reason="seen")
    staging.stage_seen({"d": (1.0, False)})
    batch = staging.take()
    assert batch.alarm_seqs == [AlarmSeq("d", 3, "d#3")]
    assert batch.audit == [AuditRow(1.0, "op", "guard_room", "S1", "acknowledge", "d#3", "ok", "seen")]
    assert batch.seen == {"d": (1.0, False)}


def test_clearing_a_step_forgets_it_and_gives_back_its_seen_rows():
    staging = JournalStaging()
    staging.stage_record(make_record(1), None)
    staging.stage_seen({"d": (2.0, False)})
    assert staging.clear() == {"d": (2.0, False)}
    assert staging.take() is None
