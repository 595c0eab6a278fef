"""Recovery: a host's state rebuilt from its journal, at start and after a step the journal did not take. Open
incidents are held, indexed and timed again; each device's recent alarms wait for its entity (dedup survives);
supervised devices are supervised again from their journaled last-seen times; the patrol parts (patrols under way,
totals, units, dispatches) come back from their snapshots."""

from __future__ import annotations

from typing import Protocol

from engine.hosting.incidents import IncidentStore
from engine.hosting.roster import Roster
from engine.hosting.supervision import SeenRows, Supervision
from engine.journal import Journal


class Snapshotted(Protocol):
    def load(self, snapshots: dict[str, bytes]) -> None: ...


def rebuild(journal: Journal, *, alarm_memory: int, roster: Roster, store: IncidentStore,
            supervision: Supervision, parts: tuple[Snapshotted, ...] = ()) -> None:
    """Load the journal into freshly made parts, and ``parts`` (patrols, then dispatches) from its snapshots. Raises
    what the journal's ``load`` raises."""
    state = journal.load(alarm_memory=alarm_memory)
    for part in parts:
        part.load(state.snapshots)
    roster.recovered_seqs = state.alarm_seqs
    for record in state.incidents:
        store.adopt(record)
    for device_id, (seen_s, offline) in state.seen.items():
        supervision.resume(device_id, seen_s, offline)


def resume_observed(supervision: Supervision, last_seen: SeenRows) -> None:
    """After a rollback: the last-seen times memory had (newer than the journal's) stand; a device reported
    offline only by the forgotten step is supervised again, not offline."""
    for device_id, (seen_s, offline) in last_seen.items():
        if not offline:
            supervision.resume(device_id, seen_s, False)
