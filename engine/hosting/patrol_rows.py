"""What the patrol parts of a host keep in the journal's snapshots (``JournalBatch.snapshots``): one key per thing,
its latest body (msgpack) replacing the one before, None deleting it. Written with the step that changed it.

    patrol/<device>     PatrolRow: a patrol (or a police unit's shift) under way, at most every SNAPSHOT_EVERY_S of
                        host time while its fixes come, and at its start, clock events and end (deleted)
    totals/<volunteer>  VolunteerTotals, at the end of each of their patrols
    figures             PatrolFigures of the host's volunteer patrols, at the end of each
    fixes               FixCounters: the fixes kept and discarded and the suspensions so far, with every patrol row
    unit/<unit>         UnitRow: the state of a unit, at every change (start, stop, an offer, a task)
    dispatch/<incident> DispatchRecord (``engine.patrol.offer_record``), at every change; deleted when the incident ends
"""

from __future__ import annotations

from typing import Final

import msgspec

from engine.hosting.snapshot_rows import by_name, encode, one, under
from engine.hosting.stats import PatrolFigures
from engine.patrol.offer_record import DispatchRecord
from engine.patrol.patrol import PatrolRecord, VolunteerTotals
from engine.patrol.units import UnitTracker
from protocols.patrol import UnitState

PATROL: Final = "patrol/"
TOTALS: Final = "totals/"
FIGURES: Final = "figures"
FIXES: Final = "fixes"
UNIT: Final = "unit/"
DISPATCH_ROW: Final = "dispatch/"
SNAPSHOT_EVERY_S: Final = 60.0
"""A patrol under way is journaled at most this often (host time) while fixes come: a restart loses at most this
much of its track, valid time and distance (the fixes since are acked, not journaled)."""


class PatrolRow(msgspec.Struct, array_like=True):
    device: str
    saved_s: float
    """Host time of the snapshot."""
    record: PatrolRecord


class FixCounters(msgspec.Struct, array_like=True):
    """The figures that move with every fix (the rest move when a patrol ends)."""

    kept: int
    discarded: dict[str, int]
    suspensions: int


class UnitRow(msgspec.Struct, array_like=True):
    state: UnitState
    leaving: bool = False
    """Its patrol or shift ended while it was busy: off duty once its task releases it."""


def unit_row(units: UnitTracker, unit_id: str) -> tuple[str, bytes]:
    """The key and body of a unit's row as the tracker holds it now."""
    return UNIT + unit_id, encode(UnitRow(units.state_of(unit_id), units.is_leaving(unit_id)))


class Rows(msgspec.Struct):
    """A journal's snapshots sorted by kind, decoded."""

    patrols: list[PatrolRow] = msgspec.field(default_factory=list)
    totals: list[VolunteerTotals] = msgspec.field(default_factory=list)
    figures: PatrolFigures | None = None
    fixes: FixCounters | None = None
    units: dict[str, UnitRow] = msgspec.field(default_factory=dict)
    dispatches: list[DispatchRecord] = msgspec.field(default_factory=list)


def read(snapshots: dict[str, bytes]) -> Rows:
    """Decode the snapshots a journal holds (keys of other parts are left alone)."""
    return Rows(patrols=under(snapshots, PATROL, PatrolRow), totals=under(snapshots, TOTALS, VolunteerTotals),
                figures=one(snapshots, FIGURES, PatrolFigures), fixes=one(snapshots, FIXES, FixCounters),
                units=by_name(snapshots, UNIT, UnitRow), dispatches=under(snapshots, DISPATCH_ROW, DispatchRecord))
