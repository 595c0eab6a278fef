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


def test_a_journal_from_before_alarm_digests_is_migrated_and_its_seqs_still_dedup(tmp_path):
    path = tmp_path / "h0.sqlite"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE alarm_seqs (device_id TEXT NOT NULL, seq INTEGER NOT NULL, incident_id TEXT NOT NULL, "
                "PRIMARY KEY (device_id, seq))")
    pair = Pair()
    box = pair.device("panic_box")
    old.executemany("INSERT INTO alarm_seqs VALUES (?, ?, ?)", [(box, 4, f"{box}#4"), (box, 5, f"{box}#5")])
    old.commit()
    old.close()

    journal = SqliteJournal(path)
    state = journal.load(alarm_memory=10)
    assert [(r.seq, r.boot, r.digest) for r in state.alarm_seqs[box]] == [(4, 0, 0), (5, 0, 0)]
    pair.journal = journal
    pair.restart()
    assert pair.send(box, "school.panic", seq=5).acks[0].status.value == "duplicate"  # digest unknown: any matches
    assert pair.send(box, "school.panic", seq=6).acks[0].status.value == "ack"
    assert [r.seq for r in journal.load(alarm_memory=2).alarm_seqs[box]] == [5, 6]
