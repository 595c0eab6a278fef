"""Journal staging: what the current host step changed, gathered and handed to the journal as one batch at the
step's end (write-ahead: nothing is acked before the batch is written).

A step also leaves things for the shell (changes, device commands, batches for other hosts). Each of those
queues is a :class:`StepOutput`: a written step keeps what it left, a step that is not written takes it back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from engine.journal import AlarmSeq, AuditRow, JournalBatch
from protocols.points import PointsRow, encode_row
from protocols.records import IncidentRecord


class StepOutput(Protocol):
    """A queue the shell takes from, which a step adds to."""

    def keep(self) -> None:
        """The step was written: what it added stays."""

    def take_back(self) -> None:
        """The step is forgotten: what it added (and only that) is removed."""


class JournalStaging:
    __slots__ = ("dirty", "alarm_seqs", "audit_rows", "seen", "points_rows", "snapshots")

    def __init__(self) -> None:
        self.dirty: dict[str, tuple[int, IncidentRecord]] = {}  # id → (journaled length, latest)
        self.alarm_seqs: list[AlarmSeq] = []
        self.audit_rows: list[AuditRow] = []
        self.seen: dict[str, tuple[float, bool]] = {}
        self.points_rows: list[bytes] = []
        self.snapshots: dict[str, bytes | None] = {}

    def stage_record(self, record: IncidentRecord, before: IncidentRecord | None) -> None:
        """``record`` changed (``before``: as it was, None if new): its timeline entries past what the journal
        holds are written with the step."""
        known = self.dirty.get(record.id)
        journaled = known[0] if known is not None else (len(before.timeline) if before is not None else 0)
        self.dirty[record.id] = (journaled, record)

    def stage_alarm(self, row: AlarmSeq) -> None:
        self.alarm_seqs.append(row)

    def audit(self, t_s: float, actor: str, action: str, target: str, outcome: str, *, role: str, scope: str = "",
              reason: str = "") -> None:
        """An audit row written with the step (the columns: ``engine/audit.py``)."""
        self.audit_rows.append(AuditRow(t_s, actor, role, scope, action, target, outcome, reason))

    def points(self, rows: Iterable[PointsRow]) -> None:
        """Points book rows (``Credited.rows``, ``Redeemed.rows``, an ``ItemRow``) written with the step, after those
        staged before, in this order. A step that is not written drops them: the host undoes the book too
        (``PointsBook.undo_to`` a mark taken before the step, or a rebuild from the journal)."""
        self.points_rows.extend(encode_row(row) for row in rows)

    def snapshot(self, key: str, body: bytes | None) -> None:
        """The latest state of ``key`` (None: forget the key), written with the step; a later one in the same step
        replaces it."""
        self.snapshots[key] = body

    def stage_seen(self, rows: dict[str, tuple[float, bool]]) -> None:
        self.seen = rows

    def take(self) -> JournalBatch | None:
        """The step's batch (None if it changed nothing the journal keeps); the staging is empty after."""
        if not (self.dirty or self.alarm_seqs or self.audit_rows or self.seen or self.points_rows or self.snapshots):
            return None
        batch = JournalBatch(audit=self.audit_rows, alarm_seqs=self.alarm_seqs, seen=self.seen,
                             points=self.points_rows, snapshots=self.snapshots)
        for incident_id, (journaled, record) in self.dirty.items():
            batch.incidents.append(record)
            batch.transitions.extend(
                (incident_id, index, record.timeline[index]) for index in range(journaled, len(record.timeline))
            )
        self.clear()
        return batch

    def clear(self) -> dict[str, tuple[float, bool]]:
        """Forget the step; returns the last-seen rows it held (observations the next step should write)."""
        seen = self.seen
        self.dirty, self.alarm_seqs, self.audit_rows, self.seen, self.points_rows = {}, [], [], {}, []
        self.snapshots = {}
        return seen
