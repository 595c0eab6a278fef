"""The journal on SQLite in WAL mode: one file per host, one transaction per host step.

Tables: ``incidents`` (the latest record of each, with state and deadline as columns), ``transitions``
(every timeline entry, append-only), ``deadlines`` (the pending deadline of each unacknowledged
incident), ``alarm_seqs`` (accepted device alarms by boot and seq, with their message digest, for dedup across
restarts; the newest 256 per device), ``device_seen`` (supervised devices' last-seen times, written about once a
second, from which a restarted host supervises), ``audit`` (``engine/audit.py``: one meaning per column, paged newest
first by time) and ``points_rows`` (the points book's rows, ``protocols.points.encode_row``, append-only in ``seq``
order; a journal from before points gets the table, empty, when opened) and ``snapshots`` (the latest body of each
key of the patrol parts: patrols under way, volunteers' totals, units, dispatches; replaced or deleted by key; a
journal from before them gets the table, empty, when opened: its host starts with every unit off duty). A journal written before alarm digests
existed loses its ``alarm_seqs`` when opened, and one written before the audit columns were fixed has its ``audit``
table rebuilt (see ``_migrate``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec

from engine.audit import next_id
from engine.entities import ALARM_MEMORY
from engine.journal import AlarmSeq, AuditFilter, AuditPage, AuditRow, JournalBatch, JournalState
from protocols.records import IncidentRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, device_id TEXT NOT NULL, state TEXT NOT NULL,
    terminal INTEGER NOT NULL, version INTEGER NOT NULL, record BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS incidents_open ON incidents (terminal);
CREATE TABLE IF NOT EXISTS transitions (
    incident_id TEXT NOT NULL, idx INTEGER NOT NULL, t_s REAL NOT NULL, event TEXT NOT NULL,
    level TEXT, target TEXT NOT NULL, actor TEXT NOT NULL, note TEXT NOT NULL,
    PRIMARY KEY (incident_id, idx));
CREATE TABLE IF NOT EXISTS deadlines (incident_id TEXT PRIMARY KEY, due_s REAL NOT NULL);
CREATE TABLE IF NOT EXISTS alarm_seqs (
    device_id TEXT NOT NULL, boot INTEGER NOT NULL, seq INTEGER NOT NULL, digest INTEGER NOT NULL,
    incident_id TEXT NOT NULL, PRIMARY KEY (device_id, boot, seq));
CREATE TABLE IF NOT EXISTS device_seen (device_id TEXT PRIMARY KEY, seen_s REAL NOT NULL, offline INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS points_rows (seq INTEGER PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (key TEXT PRIMARY KEY, body BLOB NOT NULL);
"""
_AUDIT_TABLE = """
CREATE TABLE IF NOT EXISTS audit (
    rowid INTEGER PRIMARY KEY, t_s REAL NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL DEFAULT '',
    scope TEXT NOT NULL DEFAULT '', action TEXT NOT NULL, target TEXT NOT NULL DEFAULT '', outcome TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '')
"""

_AUDIT_COLUMNS = "t_s, actor, role, scope, action, target, outcome, reason, rowid"
_INSERT_AUDIT = ("INSERT INTO audit (rowid, t_s, actor, role, scope, action, target, outcome, reason) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")

ALARM_ROWS = ALARM_MEMORY
"""Alarm rows kept per device: what a restarted host remembers for dedup, no more."""

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(IncidentRecord)


class SqliteJournal:
    def __init__(self, path: str | Path, *, synchronous: str = "NORMAL", host_index: int = 0) -> None:
        """``synchronous=NORMAL`` in WAL mode survives a process crash (our failure model: a host actor
        dies); ``FULL`` also survives power loss, at a cost per commit. ``host_index``: this journal's part of the
        audit ids (``engine.audit.host_index``)."""
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous: expected NORMAL or FULL, got {synchronous!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self.host_index = host_index
        self._migrate()
        self._db.executescript(_SCHEMA)
        self._db.execute(_AUDIT_TABLE)
        self._audit_id = self._db.execute("SELECT coalesce(max(rowid), 0) FROM audit").fetchone()[0]
        self.writes = 0

    def refuse_writes(self, refuse: bool) -> None:
        """Fault injection (tests, drills): every write fails with SQLite's own error until called with False, as
        on a full disk. The connection is switched to ``query_only``, so SQLite itself refuses the writes."""
        self._db.execute(f"PRAGMA query_only={'ON' if refuse else 'OFF'}")

    def _migrate(self) -> None:
        """``alarm_seqs`` from before boots and digests is dropped, not converted: a row without a digest cannot tell
        a re-sent alarm from a new one with the same seq (a rebooted device's), and treating it as a match would
        swallow that new alarm. Re-sends come within minutes; what is lost is dedup across the upgrade only."""
        columns = [row[1] for row in self._db.execute("PRAGMA table_info(alarm_seqs)")]
        if columns and "digest" not in columns:
            self._db.executescript("DROP TABLE alarm_seqs;")
        seen_columns = [row[1] for row in self._db.execute("PRAGMA table_info(device_seen)")]
        if seen_columns and "offline" not in seen_columns:  # an early form: last-seen times only, rebuilt in a second
            self._db.executescript("DROP TABLE device_seen;")
        self._migrate_audit()

    def _migrate_audit(self) -> None:
        """An ``audit`` table from before the fixed columns (``subject``, ``at``, ``detail``) is rebuilt with them in
        one transaction, its rows in their order with ids as new rows get (``engine.audit.next_id``): subject becomes
        target, detail reason, and ``at`` scope (it was the actor's jurisdiction on most rows; on command rows it was
        ``level:responder``). Adding the columns alone would not do: the old ones are NOT NULL without a default, so
        every new row would still have to fill them, and the old ids are not unique across hosts. A table that has
        some of the new columns but not all (none was ever written so) gets the missing ones."""
        columns = [row[1] for row in self._db.execute("PRAGMA table_info(audit)")]
        if not columns:
            return
        if "subject" in columns:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                old = self._db.execute("SELECT t_s, actor, at, action, subject, outcome, detail FROM audit "
                                       "ORDER BY rowid").fetchall()
                self._db.execute("DROP TABLE audit")
                self._db.execute(_AUDIT_TABLE)
                last, rows = 0, []
                for t_s, actor, at, action, subject, outcome, detail in old:
                    last = next_id(last, t_s, self.host_index)
                    rows.append((last, t_s, actor, "", at, action, subject, outcome, detail))
                self._db.executemany(_INSERT_AUDIT, rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return
        for column in ("role", "scope", "target", "reason"):
            if column not in columns:
                self._db.execute(f"ALTER TABLE audit ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")

    def write(self, batch: JournalBatch) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if batch.incidents:
                db.executemany(
                    "INSERT INTO incidents (id, kind, device_id, state, terminal, version, record) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state, "
                    "terminal = excluded.terminal, version = excluded.version, record = excluded.record "
                    "WHERE excluded.version >= incidents.version",
                    [(r.id, r.kind.value, r.device_id, r.state.value, int(r.state.is_terminal), r.version,
                      _encoder.encode(r)) for r in batch.incidents],
                )
                db.executemany("DELETE FROM deadlines WHERE incident_id = ?",
                               [(r.id,) for r in batch.incidents if r.deadline_s is None])
                db.executemany("INSERT OR REPLACE INTO deadlines (incident_id, due_s) VALUES (?, ?)",
                               [(r.id, r.deadline_s) for r in batch.incidents if r.deadline_s is not None])
            if batch.transitions:
                db.executemany(
                    "INSERT OR IGNORE INTO transitions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(iid, idx, e.t_s, e.event.value, e.level.value if e.level else None, e.target, e.actor,
                      e.note) for iid, idx, e in batch.transitions],
                )
            if batch.alarm_seqs:
                db.executemany(  # REPLACE: a reused seq gets a new row, so rowid order stays newest last
                    "INSERT OR REPLACE INTO alarm_seqs (device_id, boot, seq, digest, incident_id) VALUES (?, ?, ?, ?, ?)",
                    [(a.device_id, a.boot, a.seq, a.digest, a.incident_id) for a in batch.alarm_seqs])
                db.executemany(  # each device keeps its newest ALARM_ROWS: a chatty device cannot grow the table
                    "DELETE FROM alarm_seqs WHERE device_id = ? AND rowid NOT IN "
                    "(SELECT rowid FROM alarm_seqs WHERE device_id = ? ORDER BY rowid DESC LIMIT ?)",
                    [(d, d, ALARM_ROWS) for d in {a.device_id for a in batch.alarm_seqs}])
            if batch.seen:
                db.executemany("INSERT INTO device_seen (device_id, seen_s, offline) VALUES (?, ?, ?) "
                               "ON CONFLICT (device_id) DO UPDATE SET seen_s = max(seen_s, excluded.seen_s), "
                               "offline = excluded.offline",
                               [(d, t, int(off)) for d, (t, off) in batch.seen.items()])
            audit_id = self._audit_id
            if batch.audit:
                rows = []
                for a in batch.audit:
                    audit_id = next_id(audit_id, a.t_s, self.host_index)
                    rows.append((audit_id, a.t_s, a.actor, a.role, a.scope, a.action, a.target, a.outcome, a.reason))
                db.executemany(_INSERT_AUDIT, rows)
            if batch.points:  # seq: one more than the last (rows are never deleted), so in the batch's order
                db.executemany("INSERT INTO points_rows (body) VALUES (?)", [(body,) for body in batch.points])
            if batch.snapshots:
                db.executemany("DELETE FROM snapshots WHERE key = ?",
                               [(key,) for key, body in batch.snapshots.items() if body is None])
                db.executemany("INSERT OR REPLACE INTO snapshots (key, body) VALUES (?, ?)",
                               [(key, body) for key, body in batch.snapshots.items() if body is not None])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._audit_id = audit_id  # only once written: a rolled-back step's ids are given again
        self.writes += 1

    def load(self, *, alarm_memory: int) -> JournalState:
        records = [_decoder.decode(blob) for (blob,) in
                   self._db.execute("SELECT record FROM incidents WHERE terminal = 0")]
        seqs: dict[str, list[AlarmSeq]] = {}
        rows = self._db.execute(
            "SELECT device_id, boot, seq, digest, incident_id FROM (SELECT rowid AS r, *, ROW_NUMBER() OVER "
            "(PARTITION BY device_id ORDER BY rowid DESC) AS n FROM alarm_seqs) WHERE n <= ? ORDER BY device_id, r",
            (alarm_memory,),
        )
        for device_id, boot, seq, digest, incident_id in rows:
            seqs.setdefault(device_id, []).append(AlarmSeq(device_id, seq, incident_id, boot, digest))
        seen = {d: (t, bool(off)) for d, t, off in self._db.execute("SELECT device_id, seen_s, offline FROM device_seen")}
        snapshots = {key: bytes(body) for key, body in self._db.execute("SELECT key, body FROM snapshots")}
        return JournalState(records, seqs, seen, snapshots)

    def points_rows(self) -> list[bytes]:
        """Every points row written, in ``seq`` (write) order."""
        return [bytes(body) for (body,) in self._db.execute("SELECT body FROM points_rows ORDER BY seq")]

    def incident(self, incident_id: str) -> IncidentRecord | None:
        row = self._db.execute("SELECT record FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        return _decoder.decode(row[0]) if row else None

    def all_incidents(self) -> list[IncidentRecord]:
        return [_decoder.decode(blob) for (blob,) in self._db.execute("SELECT record FROM incidents ORDER BY id")]

    def transitions(self, incident_id: str) -> list[tuple[float, str, str | None, str, str, str]]:
        return list(self._db.execute(
            "SELECT t_s, event, level, target, actor, note FROM transitions WHERE incident_id = ? ORDER BY idx",
            (incident_id,)))

    def pending_deadlines(self) -> dict[str, float]:
        return dict(self._db.execute("SELECT incident_id, due_s FROM deadlines"))

    def audit_rows(self, *, limit: int = 1000) -> list[AuditRow]:
        rows = self._db.execute(f"SELECT {_AUDIT_COLUMNS} FROM audit ORDER BY rowid DESC LIMIT ?", (limit,))
        return [AuditRow(*row) for row in reversed(list(rows))]

    def audit_page(self, query: AuditFilter) -> AuditPage:
        """Walks the table by id (its primary key) newest first; a filter that matches little reads further."""
        where, args = query.sql_conditions(mark="?", id_column="rowid")
        sql = (f"SELECT {_AUDIT_COLUMNS} FROM audit {'WHERE ' + ' AND '.join(where) if where else ''} "
               "ORDER BY rowid DESC LIMIT ?")
        rows = [AuditRow(*row) for row in self._db.execute(sql, (*args, query.limit + 1))]
        return AuditPage(rows[:query.limit], len(rows) > query.limit)

    def close(self) -> None:
        self._db.close()
