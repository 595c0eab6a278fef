"""The journal on PostgreSQL: every host's rows in one schema (``actors/journal_pg_schema.py``), one transaction per
host step, the same answers as the SQLite journal (``actors/journal_sqlite.py``), row for row and in the same order.

Epochs and fencing: opening the journal for a host takes the host over, ``hosts.epoch`` incremented atomically
(``INSERT ... ON CONFLICT DO UPDATE SET epoch = epoch + 1``). Every write starts with ``SELECT epoch ... FOR SHARE``
on the host's row and is refused with :class:`engine.errors.JournalFenced`, nothing of it kept, when the epoch is no
longer its own. The takeover's update waits for that row lock, so a write in flight when a host is restarted elsewhere
either commits before the new opening reads the journal or is refused: a zombie host (cut off from Ray, still
running) can never write after its replacement has loaded.

Synchronous psycopg, called from the host actor's event loop as the SQLite journal is. A step costs one transaction:
BEGIN, the epoch check, one pipelined ``executemany`` per kind of row in the batch, COMMIT with
``synchronous_commit = on`` (the server's WAL flushed before the commit returns, so before any ack): about 4-8
round trips plus one WAL flush (measured on loopback with fsync on, a step of an alarm, a last-seen time and an audit
row: median 1.1 ms, p90 1.4 ms; a network round trip more per statement on a remote server). A connection found broken is opened again at the next call, keeping the epoch: a write after a
takeover is refused all the same.
"""

from __future__ import annotations

import msgspec
import psycopg

from actors.journal_pg_schema import connect, redact
from actors.journal_sqlite import ALARM_ROWS
from engine.audit import host_index as index_of
from engine.audit import next_id
from engine.errors import JournalFenced
from engine.journal import AlarmSeq, AuditFilter, AuditPage, AuditRow, JournalBatch, JournalState
from protocols.records import IncidentRecord

_AUDIT_COLUMNS = "t_s, actor, role, scope, action, target, outcome, reason, id"
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(IncidentRecord)

_UPSERT_INCIDENT = (
    "INSERT INTO incidents (host_id, id, kind, device_id, state, terminal, version, record) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (host_id, id) DO UPDATE SET state = excluded.state, "
    "terminal = excluded.terminal, version = excluded.version, record = excluded.record "
    "WHERE excluded.version >= incidents.version")
_UPSERT_DEADLINE = ("INSERT INTO deadlines (host_id, incident_id, due_s) VALUES (%s, %s, %s) "
                    "ON CONFLICT (host_id, incident_id) DO UPDATE SET due_s = excluded.due_s, n = excluded.n")
_UPSERT_ALARM = (  # a reused seq gets a new n (as SQLite's REPLACE gives a new rowid): newest last
    "INSERT INTO alarm_seqs (host_id, device_id, boot, seq, digest, incident_id) VALUES (%s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (host_id, device_id, boot, seq) DO UPDATE SET digest = excluded.digest, "
    "incident_id = excluded.incident_id, n = excluded.n")
_TRIM_ALARMS = (  # each device keeps its newest ALARM_ROWS: a chatty device cannot grow the table
    "DELETE FROM alarm_seqs WHERE host_id = %s AND device_id = %s AND n <= (SELECT n FROM alarm_seqs "
    "WHERE host_id = %s AND device_id = %s ORDER BY n DESC OFFSET %s LIMIT 1)")
_UPSERT_SEEN = ("INSERT INTO device_seen (host_id, device_id, seen_s, offline) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (host_id, device_id) DO UPDATE SET seen_s = greatest(device_seen.seen_s, "
                "excluded.seen_s), offline = excluded.offline")
_UPSERT_SNAPSHOT = ("INSERT INTO snapshots (host_id, key, body) VALUES (%s, %s, %s) "
                    "ON CONFLICT (host_id, key) DO UPDATE SET body = excluded.body, n = excluded.n")


class PostgresJournal:
    def __init__(self, url: str, host_id: str, *, host_index: int | None = None) -> None:
        """Open ``host_id``'s journal at ``url`` and take the host over (the next epoch). ``host_index``: this
        journal's part of the audit ids (default ``engine.audit.host_index(host_id)``)."""
        self.url, self.host_id = url, host_id
        self.host_index = index_of(host_id) if host_index is None else host_index
        self._refusing = False
        self._db = connect(url)
        try:
            self.epoch = self._db.execute(
                "INSERT INTO hosts (host_id, epoch) VALUES (%s, 1) ON CONFLICT (host_id) DO UPDATE "
                "SET epoch = hosts.epoch + 1 RETURNING epoch", (host_id,)).fetchone()[0]
            self._audit_id = self._db.execute("SELECT coalesce(max(id), 0) FROM audit WHERE host_id = %s",
                                              (host_id,)).fetchone()[0]
        except BaseException:
            self._db.close()
            raise
        self.writes = 0

    def __repr__(self) -> str:
        return f"PostgresJournal({redact(self.url)!r}, {self.host_id!r}, epoch={self.epoch})"

    def _conn(self) -> psycopg.Connection:
        """The connection, opened again if it broke (the epoch is kept: a takeover since then still fences)."""
        if self._db.closed or self._db.broken:
            self._db.close()
            self._db = connect(self.url)
            if self._refusing:
                self._db.execute("SET default_transaction_read_only = on")
        return self._db

    def refuse_writes(self, refuse: bool) -> None:
        """Fault injection (tests, drills): every write fails with PostgreSQL's own error (a read-only transaction)
        until called with False."""
        self._refusing = refuse
        self._conn().execute(f"SET default_transaction_read_only = {'on' if refuse else 'off'}")

    def write(self, batch: JournalBatch) -> None:
        db, host = self._conn(), self.host_id
        audit_id = self._audit_id
        with db.transaction(), db.cursor() as cur:
            row = cur.execute("SELECT epoch FROM hosts WHERE host_id = %s FOR SHARE", (host,)).fetchone()
            if row is None or row[0] != self.epoch:
                raise JournalFenced(host, self.epoch, row[0] if row else 0)
            if batch.incidents:
                cur.executemany(_UPSERT_INCIDENT, [
                    (host, r.id, r.kind.value, r.device_id, r.state.value, r.state.is_terminal, r.version,
                     _encoder.encode(r)) for r in batch.incidents])
                if gone := [(host, r.id) for r in batch.incidents if r.deadline_s is None]:
                    cur.executemany("DELETE FROM deadlines WHERE host_id = %s AND incident_id = %s", gone)
                if due := [(host, r.id, r.deadline_s) for r in batch.incidents if r.deadline_s is not None]:
                    cur.executemany(_UPSERT_DEADLINE, due)
            if batch.transitions:
                cur.executemany(
                    "INSERT INTO transitions VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    [(host, iid, idx, e.t_s, e.event.value, e.level.value if e.level else None, e.target, e.actor,
                      e.note) for iid, idx, e in batch.transitions])
            if batch.alarm_seqs:
                cur.executemany(_UPSERT_ALARM, [(host, a.device_id, a.boot, a.seq, a.digest, a.incident_id)
                                                for a in batch.alarm_seqs])
                devices = sorted({a.device_id for a in batch.alarm_seqs})
                cur.executemany(_TRIM_ALARMS, [(host, d, host, d, ALARM_ROWS) for d in devices])
            if batch.seen:
                cur.executemany(_UPSERT_SEEN, [(host, d, t, bool(off)) for d, (t, off) in batch.seen.items()])
            if batch.audit:
                rows = []
                for a in batch.audit:
                    audit_id = next_id(audit_id, a.t_s, self.host_index)
                    rows.append((host, audit_id, a.t_s, a.actor, a.role, a.scope, a.action, a.target, a.outcome,
                                 a.reason))
                cur.executemany("INSERT INTO audit (host_id, id, t_s, actor, role, scope, action, target, outcome, "
                                "reason) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
            if batch.points:  # seq from the identity, so in the batch's order after every row before
                cur.executemany("INSERT INTO points_rows (host_id, body) VALUES (%s, %s)",
                                [(host, body) for body in batch.points])
            if batch.snapshots:
                if gone := [(host, key) for key, body in batch.snapshots.items() if body is None]:
                    cur.executemany("DELETE FROM snapshots WHERE host_id = %s AND key = %s", gone)
                if kept := [(host, key, body) for key, body in batch.snapshots.items() if body is not None]:
                    cur.executemany(_UPSERT_SNAPSHOT, kept)
        self._audit_id = audit_id  # only once written: a rolled-back step's ids are given again
        self.writes += 1

    def _rows(self, sql: str, args: tuple = ()) -> list[tuple]:
        return self._conn().execute(sql, args).fetchall()

    def load(self, *, alarm_memory: int) -> JournalState:
        host = self.host_id
        records = [_decoder.decode(blob) for (blob,) in self._rows(
            "SELECT record FROM incidents WHERE host_id = %s AND NOT terminal ORDER BY n", (host,))]
        seqs: dict[str, list[AlarmSeq]] = {}
        for device_id, boot, seq, digest, incident_id in self._rows(
                "SELECT device_id, boot, seq, digest, incident_id FROM (SELECT *, ROW_NUMBER() OVER "
                "(PARTITION BY device_id ORDER BY n DESC) AS k FROM alarm_seqs WHERE host_id = %s) AS newest "
                "WHERE k <= %s ORDER BY device_id COLLATE \"C\", n", (host, alarm_memory)):
            seqs.setdefault(device_id, []).append(AlarmSeq(device_id, seq, incident_id, boot, digest))
        seen = {d: (t, off) for d, t, off in self._rows(
            "SELECT device_id, seen_s, offline FROM device_seen WHERE host_id = %s ORDER BY n", (host,))}
        snapshots = {key: bytes(body) for key, body in self._rows(
            "SELECT key, body FROM snapshots WHERE host_id = %s ORDER BY n", (host,))}
        return JournalState(records, seqs, seen, snapshots)

    def points_rows(self) -> list[bytes]:
        """Every points row written, in ``seq`` (write) order."""
        return [bytes(body) for (body,) in self._rows(
            "SELECT body FROM points_rows WHERE host_id = %s ORDER BY seq", (self.host_id,))]

    def incident(self, incident_id: str) -> IncidentRecord | None:
        rows = self._rows("SELECT record FROM incidents WHERE host_id = %s AND id = %s", (self.host_id, incident_id))
        return _decoder.decode(rows[0][0]) if rows else None

    def all_incidents(self) -> list[IncidentRecord]:
        return [_decoder.decode(blob) for (blob,) in self._rows(
            "SELECT record FROM incidents WHERE host_id = %s ORDER BY id COLLATE \"C\"", (self.host_id,))]

    def transitions(self, incident_id: str) -> list[tuple[float, str, str | None, str, str, str]]:
        return self._rows("SELECT t_s, event, level, target, actor, note FROM transitions "
                          "WHERE host_id = %s AND incident_id = %s ORDER BY idx", (self.host_id, incident_id))

    def pending_deadlines(self) -> dict[str, float]:
        return dict(self._rows("SELECT incident_id, due_s FROM deadlines WHERE host_id = %s ORDER BY n",
                               (self.host_id,)))

    def audit_rows(self, *, limit: int = 1000) -> list[AuditRow]:
        rows = self._rows(f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE host_id = %s ORDER BY id DESC LIMIT %s",
                          (self.host_id, limit))
        return [AuditRow(*row) for row in reversed(rows)]

    def audit_page(self, query: AuditFilter) -> AuditPage:
        """Walks the host's rows by id (the primary key) newest first; a filter that matches little reads further."""
        where, args = query.sql_conditions(mark="%s", id_column="id")
        where, args = ["host_id = %s", *where], [self.host_id, *args]
        sql = f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT %s"
        rows = [AuditRow(*row) for row in self._rows(sql, (*args, query.limit + 1))]
        return AuditPage(rows[:query.limit], len(rows) > query.limit)

    def close(self) -> None:
        self._db.close()
