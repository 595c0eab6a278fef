"""The SQLite journal on its own (file I/O, no Ray)."""

import sqlite3

from actors.journal_sqlite import SqliteJournal
from engine.host import INCIDENT
from tests.engine.helpers import Pair


def test_alarm_survives_a_restart_with_its_deadline_and_seq(tmp_path):
    journal = SqliteJournal(tmp_path / "h0.sqlite")
    pair = Pair(journal=journal)
    box = pair.device("panic_box")
    incident_id = pair.send(box, "school.panic", seq=3).acks[0].incident_id
    journal.close()

    reopened = SqliteJournal(tmp_path / "h0.sqlite")
    assert reopened.pending_deadlines() == {incident_id: 30.0}
    pair.journal = reopened
    pair.now_s = 5.0
    pair.restart()
    assert pair.host.scheduler.due_of((INCIDENT, incident_id)) == 30.0
    assert pair.send(box, "school.panic", seq=3, ts_ms=0).acks[0].status.value == "duplicate"  # re-sent
    pair.advance(30.0)
    events = [row[1] for row in reopened.transitions(incident_id)]
    assert events == ["raised", "notified", "notified", "escalated", "notified"]
    assert reopened.incident(incident_id).level.value == "command_center"


def test_journal_is_in_wal_mode_and_audits(tmp_path):
    journal = SqliteJournal(tmp_path / "h0.sqlite")
    pair = Pair(journal=journal)
    box = pair.device("panic_box")
    pair.send(box, "heartbeat")
    for t in range(30, 121, 30):
        pair.advance(float(t))
    assert [row.action for row in journal.audit_rows()] == ["device.offline"]
    mode = sqlite3.connect(tmp_path / "h0.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_a_journal_from_before_alarm_digests_drops_its_seqs_so_no_new_alarm_is_swallowed(tmp_path):
    path = tmp_path / "h0.sqlite"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE alarm_seqs (device_id TEXT NOT NULL, seq INTEGER NOT NULL, incident_id TEXT NOT NULL, "
                "PRIMARY KEY (device_id, seq))")
    pair = Pair()
    box = pair.device("panic_box")
    old.execute("INSERT INTO alarm_seqs VALUES (?, ?, ?)", (box, 1, f"{box}#1"))
    old.commit()
    old.close()

    journal = SqliteJournal(path)
    assert journal.load(alarm_memory=10).alarm_seqs == {}
    pair.journal = journal
    pair.restart()
    assert pair.send(box, "school.panic", seq=1).acks[0].status.value == "ack"  # a rebooted box's new alarm


def test_a_rebooted_device_reusing_a_closed_incidents_seq_gets_a_new_incident_that_survives_a_restart(tmp_path):
    from protocols.kinds import Level
    from protocols.records import Action, OperatorCommand

    journal = SqliteJournal(tmp_path / "h0.sqlite")
    pair = Pair(journal=journal)
    door = pair.device("door")
    first = pair.send(door, "door.forced", seq=1, ts_ms=1_000).acks[0].incident_id
    for action, extra in ((Action.ACKNOWLEDGE, {}), (Action.RESOLVE, {}), (Action.CLOSE, {"disposition": "ok"})):
        pair.host.command(OperatorCommand(action, first, "chief", Level.COMMAND_CENTER, "CC", **extra), now_s=1)
    pair.now_s = 60.0
    again = pair.send(door, "door.forced", seq=1).acks[0].incident_id  # after a reboot, seq 1 again
    assert again != first and again.startswith(f"{first}@")
    pair.restart()
    assert [r.id for r in pair.host.open_incidents()] == [again]
    assert journal.incident(first).state.value == "closed"


def test_each_device_keeps_only_its_newest_alarm_rows(tmp_path):
    from actors.journal_sqlite import ALARM_ROWS

    journal = SqliteJournal(tmp_path / "h0.sqlite")
    pair = Pair(journal=journal)
    box = pair.device("panic_box")
    for seq in range(1, ALARM_ROWS + 40):
        pair.send(box, "school.panic", seq=seq)
    rows = journal.load(alarm_memory=10_000).alarm_seqs[box]
    assert len(rows) == ALARM_ROWS and rows[-1].seq == ALARM_ROWS + 39
