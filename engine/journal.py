"""The journal: the store of record. Ray is not. Incidents, their transitions, pending deadlines,
accepted alarm sequence numbers, the audit trail, the points book's rows and the snapshots of the patrol parts (patrols
under way, volunteers' totals, units, dispatches) are written here before a device is acked, and a host rebuilds its
state from here after a restart.

This module holds the interface and an in-memory implementation for unit tests; the SQLite (WAL)
implementation does file I/O, so it lives in ``actors/journal_sqlite.py``, and the PostgreSQL one (every host's rows
in one schema, fenced by epochs) in ``actors/journal_postgres.py``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Protocol

from engine.audit import AuditFilter, AuditPage, AuditRow, newest_first, next_id
from protocols.records import IncidentRecord, TimelineEntry

__all__ = ["AlarmSeq", "AuditFilter", "AuditPage", "AuditRow", "Journal", "JournalBatch", "JournalState",
           "MemoryJournal"]


@dataclass(frozen=True, slots=True)
class AlarmSeq:
    """An accepted device alarm: ``seq`` of ``device_id`` (in its boot ``boot``, with the message digest
    ``digest``) raised or repeated ``incident_id``. Dedup across restarts is rebuilt from these."""

    device_id: str
    seq: int
    incident_id: str
    boot: int = 0
    digest: int = 0


@dataclass(slots=True)
class JournalBatch:
    """Everything one host step changed, written in one transaction."""

    incidents: list[IncidentRecord] = field(default_factory=list)
    transitions: list[tuple[str, int, TimelineEntry]] = field(default_factory=list)  # incident, index, entry
    alarm_seqs: list[AlarmSeq] = field(default_factory=list)
    audit: list[AuditRow] = field(default_factory=list)
    seen: dict[str, tuple[float, bool]] = field(default_factory=dict)
    """Supervised devices' (last-seen time, reported offline) (written about once a second, not at every
    heartbeat)."""
    points: list[bytes] = field(default_factory=list)
    """The points book's rows of the step (``protocols.points.encode_row``), appended in this order after every
    row written before (one sequence per book; ``Journal.points_rows``)."""
    snapshots: dict[str, bytes | None] = field(default_factory=dict)
    """The latest state of things kept by key (``engine/hosting/patrol_rows.py``: a patrol under way, a volunteer's
    totals, a unit, a dispatch): each body replaces the key's last one, None deletes the key."""

    def __bool__(self) -> bool:
        return bool(self.incidents or self.transitions or self.alarm_seqs or self.audit or self.seen or self.points
                    or self.snapshots)


@dataclass(slots=True)
class JournalState:
    """What a host needs to rebuild itself."""

    incidents: list[IncidentRecord]
    alarm_seqs: dict[str, list[AlarmSeq]]
    """Each device's most recent accepted alarms, oldest first."""
    seen: dict[str, tuple[float, bool]] = field(default_factory=dict)
    """Each supervised device's (last-seen time, reported offline) as last journaled: a restarted host supervises
    from these, and does not report again a device it reported already."""
    snapshots: dict[str, bytes] = field(default_factory=dict)
    """Every snapshot key with its latest body (``JournalBatch.snapshots``)."""


class Journal(Protocol):
    def write(self, batch: JournalBatch) -> None:
        """Persist the batch atomically; return only once it is durable."""

    def load(self, *, alarm_memory: int) -> JournalState:
        """Every incident that is not terminal, and each device's ``alarm_memory`` most recent accepted alarms."""

    def incident(self, incident_id: str) -> IncidentRecord | None: ...

    def audit_rows(self, *, limit: int = 1000) -> list[AuditRow]:
        """The newest ``limit`` audit rows, oldest first."""

    def audit_page(self, query: AuditFilter) -> AuditPage:
        """A page of the audit trail, newest first (``AuditFilter``), rows with their ids (``engine/audit.py``)."""

    def points_rows(self) -> list[bytes]:
        """Every points row ever written, in the order written (``protocols.points.decode_row`` each, then
        ``engine.points.rebuild``)."""

    def refuse_writes(self, refuse: bool) -> None:
        """Fault injection (tests, drills): every write fails until called with False."""

    def close(self) -> None: ...


class MemoryJournal:
    """A journal in a dict, for unit tests and throwaway scenario runs."""

    def __init__(self, *, host_index: int = 0) -> None:
        """``host_index``: this journal's part of the audit ids (``engine.audit.host_index``)."""
        self.host_index = host_index
        self.incidents: dict[str, IncidentRecord] = {}
        self.transitions: list[tuple[str, int, TimelineEntry]] = []
        self.alarm_seqs: dict[str, dict[tuple[int, int], AlarmSeq]] = defaultdict(dict)  # oldest first
        self.audit: list[AuditRow] = []
        self.seen: dict[str, tuple[float, bool]] = {}
        self.points: list[bytes] = []
        self.snapshots: dict[str, bytes] = {}
        self.writes = 0
        self.fail_writes: Exception | None = None
        """Fault injection: raise this at every write until cleared (a full disk, a lost volume)."""

    def write(self, batch: JournalBatch) -> None:
        if self.fail_writes is not None:
            raise self.fail_writes
        self.writes += 1
        self.seen.update(batch.seen)
        for record in batch.incidents:
            self.incidents[record.id] = record
        self.transitions.extend(batch.transitions)
        for row in batch.alarm_seqs:
            rows = self.alarm_seqs[row.device_id]
            rows.pop((row.boot, row.seq), None)
            rows[(row.boot, row.seq)] = row
        for row in batch.audit:
            last = self.audit[-1].id if self.audit else 0
            self.audit.append(replace(row, id=next_id(last, row.t_s, self.host_index)))
        self.points.extend(batch.points)
        for key, body in batch.snapshots.items():
            if body is None:
                self.snapshots.pop(key, None)
            else:
                self.snapshots[key] = body

    def load(self, *, alarm_memory: int) -> JournalState:
        open_records = [r for r in self.incidents.values() if not r.state.is_terminal]
        seqs = {device: list(rows.values())[-alarm_memory:] for device, rows in self.alarm_seqs.items()}
        return JournalState(open_records, seqs, dict(self.seen), dict(self.snapshots))

    def incident(self, incident_id: str) -> IncidentRecord | None:
        return self.incidents.get(incident_id)

    def audit_rows(self, *, limit: int = 1000) -> list[AuditRow]:
        return self.audit[-limit:]

    def audit_page(self, query: AuditFilter) -> AuditPage:
        return newest_first(self.audit, query)

    def points_rows(self) -> list[bytes]:
        return list(self.points)

    def refuse_writes(self, refuse: bool) -> None:
        """Fault injection: every write fails, as on a full disk, until called with False."""
        self.fail_writes = OSError(28, "No space left on device") if refuse else None

    def close(self) -> None:
        pass
