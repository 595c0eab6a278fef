"""The journals on their own (no Ray): SQLite, and PostgreSQL where a test takes ``journal_backend`` (the same test on
both, ``tests/actors/journal_backends.py``); the migrations of old SQLite files on SQLite only."""

import sqlite3

import pytest

from actors.journal_sqlite import SqliteJournal
from engine.host import INCIDENT
from engine.audit import MAX_HOSTS
from engine.journal import AuditFilter, AuditRow, JournalBatch, MemoryJournal
from tests.actors.journal_backends import journal_backend  # noqa: F401 (a fixture)
from tests.engine.helpers import Pair


def test_alarm_survives_a_restart_with_its_deadline_and_seq(journal_backend):
    journal = journal_backend.open()
    pair = Pair(journal=journal)
    box = pair.device("panic_box")
    incident_id = pair.send(box, "school.panic", seq=3).acks[0].incident_id
    journal.close()

    reopened = journal_backend.open()
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


def test_a_rebooted_device_reusing_a_closed_incidents_seq_gets_a_new_incident_that_survives_a_restart(
        journal_backend):
    from protocols.kinds import Level
    from protocols.records import Action, OperatorCommand

    journal = journal_backend.open()
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


def test_each_device_keeps_only_its_newest_alarm_rows(journal_backend):
    from actors.journal_sqlite import ALARM_ROWS

    journal = journal_backend.open()
    pair = Pair(journal=journal)
    box = pair.device("panic_box")
    for seq in range(1, ALARM_ROWS + 40):
        pair.send(box, "school.panic", seq=seq)
    rows = journal.load(alarm_memory=10_000).alarm_seqs[box]
    assert len(rows) == ALARM_ROWS and rows[-1].seq == ALARM_ROWS + 39


def _audit(t_s: float, actor: str = "cc", action: str = "login", outcome: str = "ok") -> AuditRow:
    return AuditRow(t_s, actor, "command_center", "", action, f"{action}-target", outcome, "why")


@pytest.fixture(params=["sqlite", "memory", "postgres"])
def audit_journal(request, tmp_path):
    """Every journal answers the audit query the same way (journal 2's ids)."""
    if request.param == "postgres":
        from actors.journal_postgres import PostgresJournal

        journal = PostgresJournal(request.getfixturevalue("postgres_server").fresh_url(), "h1", host_index=2)
    else:
        journal = (SqliteJournal(tmp_path / "h1.sqlite", host_index=2) if request.param == "sqlite"
                   else MemoryJournal(host_index=2))
    yield journal
    journal.close()


def test_the_audit_trail_pages_newest_first_with_ids_and_more(audit_journal):
    audit_journal.write(JournalBatch(audit=[_audit(float(t)) for t in range(7)] + [_audit(6.0, "p1")]))
    audit_journal.write(JournalBatch(audit=[_audit(9.0, "p2")]))
    everything = audit_journal.audit_page(AuditFilter(limit=100)).rows
    assert [(r.t_s, r.id) for r in everything] == [(9.0, 9000 * MAX_HOSTS + 2), (6.0, 6001 * MAX_HOSTS + 2)] + [
        (float(t), t * 1000 * MAX_HOSTS + 2) for t in range(6, -1, -1)]
    assert everything[0] == AuditRow(9.0, "p2", "command_center", "", "login", "login-target", "ok", "why",
                                     9000 * MAX_HOSTS + 2)
    seen, before = [], None
    while True:
        page = audit_journal.audit_page(AuditFilter(limit=3, before=before))
        seen += page.rows
        if not page.more:
            break
        before = page.rows[-1].id
    assert seen == everything


def test_the_audit_filters_are_exact_and_the_time_range_inclusive(audit_journal):
    audit_journal.write(JournalBatch(audit=[_audit(1.0, "p1", "login", "refused"), _audit(2.0, "p1"),
                                            _audit(3.0, "p10", "auth", "refused"), _audit(4.0, "cc", "audit")]))

    def ask(**filters) -> list[float]:
        return [r.t_s for r in audit_journal.audit_page(AuditFilter(limit=10, **filters)).rows]

    assert ask(actor="p1") == [2.0, 1.0]
    assert ask(action="auth") == [3.0]
    assert ask(outcome="refused") == [3.0, 1.0]
    assert ask(since_s=2.0, until_s=3.0) == [3.0, 2.0]
    assert ask(actor="p1", outcome="refused", since_s=0.5) == [1.0]
    assert audit_journal.audit_page(AuditFilter(limit=1, actor="p1")).more is True


def test_audit_ids_carry_on_after_a_reopen(journal_backend):
    journal = journal_backend.open("cc")
    journal.write(JournalBatch(audit=[_audit(5.0), _audit(5.0)]))
    journal.close()
    reopened = journal_backend.open("cc")
    reopened.write(JournalBatch(audit=[_audit(5.0)]))
    assert [r.id for r in reopened.audit_rows()] == [5000 * MAX_HOSTS, 5001 * MAX_HOSTS, 5002 * MAX_HOSTS]


def test_a_journal_with_the_old_audit_columns_opens_keeps_its_rows_and_takes_new_ones(tmp_path):
    path = tmp_path / "cc.sqlite"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE audit (rowid INTEGER PRIMARY KEY, t_s REAL NOT NULL, actor TEXT NOT NULL, "
                "action TEXT NOT NULL, subject TEXT NOT NULL, outcome TEXT NOT NULL, at TEXT NOT NULL, "
                "detail TEXT NOT NULL)")
    old.executemany("INSERT INTO audit (t_s, actor, action, subject, outcome, at, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(1.0, "p1", "login", "p1", "refused", "P1", "wrong password"),
                     (1.0, "system", "escalated", "X#1", "command_center", "P1", "")])
    old.commit()
    old.close()

    journal = SqliteJournal(path, host_index=0)
    journal.write(JournalBatch(audit=[AuditRow(2.0, "cc", "command_center", "", "audit", "audit trail", "ok")]))
    rows = journal.audit_page(AuditFilter(limit=10)).rows
    assert rows == [
        AuditRow(2.0, "cc", "command_center", "", "audit", "audit trail", "ok", "", 2000 * MAX_HOSTS),
        AuditRow(1.0, "system", "", "P1", "escalated", "X#1", "command_center", "", 1001 * MAX_HOSTS),
        AuditRow(1.0, "p1", "", "P1", "login", "p1", "refused", "wrong password", 1000 * MAX_HOSTS)]
    journal.close()
    assert SqliteJournal(path).audit_rows() == list(reversed(rows))  # and opens again as it is


def test_a_journal_missing_only_some_new_audit_columns_gets_them(tmp_path):
    path = tmp_path / "cc.sqlite"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE audit (rowid INTEGER PRIMARY KEY, t_s REAL NOT NULL, actor TEXT NOT NULL, "
                "action TEXT NOT NULL, outcome TEXT NOT NULL)")
    old.execute("INSERT INTO audit (t_s, actor, action, outcome) VALUES (1.0, 'p1', 'login', 'ok')")
    old.commit()
    old.close()
    journal = SqliteJournal(path)
    assert journal.audit_rows() == [AuditRow(1.0, "p1", "", "", "login", "", "ok", "", 1)]


def _patrol_and_offer(pair: Pair) -> tuple[str, str]:
    """A volunteer on patrol 100 m from a school, and the school's P1 offered to them."""
    phone = sorted(d for d, dev in pair.host.city.devices.items() if dev.kind.value == "volunteer_phone")[0]
    box = pair.host.city.devices[pair.device("panic_box")]
    pair.send(phone, "patrol.start", {})
    for t in range(0, 121, 10):
        pair.now_s = float(t)
        pair.send(phone, "patrol.position", {"lat": box.lat + (100 + t) / 111_195.0, "lon": box.lon,
                                             "accuracy_m": 5.0})
    pair.now_s = 130.0
    incident = pair.send(box.id, "school.panic").acks[0].incident_id
    return phone, incident


def test_patrols_units_and_dispatches_survive_a_restart(journal_backend):
    journal = journal_backend.open()
    pair = Pair(journal=journal)
    phone, incident = _patrol_and_offer(pair)
    before = pair.host.patrols.summary_of(phone)
    journal.close()

    pair.journal = journal_backend.open()
    pair.restart()
    after = pair.host.patrols.summary_of(phone)
    assert after.patrol_id == before.patrol_id and after.valid_s >= before.valid_s - 60.0
    assert pair.host.patrols.units.state_of(phone).value == "offered"
    dispatch = pair.host.dispatches.dispatches[incident]
    assert (dispatch.state.value, dispatch.unit_id, dispatch.deadline_s) == ("offering", phone, 160.0)
    assert pair.host.scheduler.due_of(("d", incident)) == 160.0
    pair.now_s = 140.0
    pair.send(phone, "patrol.task", {"incident": incident, "answer": "accept"})
    pair.send(phone, "patrol.stop", {})
    volunteer = next(v.id for v in pair.host.city.volunteers.values() if v.phone_id == phone)
    totals = pair.host.patrols.totals[volunteer]
    pair.journal.close()

    pair.journal = journal_backend.open()
    pair.restart()
    assert pair.host.patrols.totals[volunteer] == totals and pair.host.patrols.under_way == {}
    assert pair.host.patrols.units.state_of(phone).value == "en_route"  # off duty once the task releases it
    assert pair.host.patrols.units.is_leaving(phone)
    assert pair.host.dispatches.dispatches[incident].state.value == "en_route"


def test_a_journal_from_before_snapshots_gets_the_table_and_starts_with_every_unit_off_duty(tmp_path):
    path = tmp_path / "h0.sqlite"
    pair = Pair(journal=SqliteJournal(path))
    box = pair.device("panic_box")
    incident = pair.send(box, "school.panic").acks[0].incident_id
    pair.journal.close()
    old = sqlite3.connect(path)
    old.execute("DROP TABLE snapshots")
    old.commit()
    old.close()

    pair.journal = SqliteJournal(path)
    pair.restart()
    assert pair.host.incident(incident) is not None and pair.host.patrols.under_way == {}
    assert set(pair.host.patrols.units.count_by_state()) == {"off_duty"}
    phone = sorted(d for d, dev in pair.host.city.devices.items() if dev.kind.value == "volunteer_phone")[0]
    pair.send(phone, "patrol.start", {})
    assert f"patrol/{phone}" in pair.journal.load(alarm_memory=1).snapshots
