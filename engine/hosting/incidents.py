"""The incident store of a host: the incidents it holds (its own, and copies of others' that reached its
responders), the index of open ones per device and kind (one active incident per device + kind; a repeat is
counted on it), their escalation deadlines, and the adoption of every changed record: index, deadline,
responders, journal staging, change stream, device commands, and the copy for the command center.
"""

from __future__ import annotations

from collections.abc import Callable

from typing import Final

from engine.entities import Responder
from engine.hosting.changes import ChangeStream
from engine.hosting.config import HostConfig
from engine.hosting.outboxes import DeviceCommandOutbox, PeerOutbox
from engine.hosting.staging import JournalStaging
from engine.incident import DeviceCommand, Effect, NewIncident, deadline_passed, open_incident, repeat
from engine.journal import Journal
from engine.policy import PolicySet
from engine.scheduler import DeadlineScheduler
from engine.topology import City, Device
from protocols.kinds import IncidentKind
from protocols.records import HostMessage, IncidentRecord, IncidentUpdate, Tip

INCIDENT: Final = "i"
"""Deadline key kind: ``(INCIDENT, incident id)``, the incident's next escalation step or reminder."""

UNINDEXED: Final = frozenset({IncidentKind.PATROL_CLUE, IncidentKind.CAMERA_THROW})
"""Kinds the store never joins to an open incident of the device: every tip is an incident of its own; a thrown
object joins by its domain's rule (the same facade within 10 min, ``engine/hosting/throws.py``)."""


class IncidentStore:
    def __init__(self, config: HostConfig, *, city: City, policies: PolicySet, journal: Journal,
                 scheduler: DeadlineScheduler, responders: dict[str, Responder], staging: JournalStaging,
                 changes: ChangeStream, device_commands: DeviceCommandOutbox, peers: PeerOutbox) -> None:
        self.host_id = config.host_id
        self.cc_host_id = config.cc_host_id
        self.is_cc = config.host_id == config.cc_host_id
        self.city = city
        self.policies = policies
        self.journal = journal
        self.scheduler = scheduler
        self.responders = responders
        self.staging = staging
        self.changes = changes
        self.device_commands = device_commands
        self.peers = peers
        self.incidents: dict[str, IncidentRecord] = {}
        self.open_index: dict[tuple[str, IncidentKind], str] = {}
        self.observer: Callable[[IncidentRecord, IncidentRecord | None, float], None] | None = None
        """Told of every change of an incident this host owns (the dispatch of units), after it is stored."""

    # -- queries -------------------------------------------------------------------------------------

    def get(self, incident_id: str) -> IncidentRecord | None:
        """An incident held here (None once it ended)."""
        return self.incidents.get(incident_id)

    def owned(self, incident_id: str) -> IncidentRecord | None:
        """An open incident this host owns (not a copy of another host's)."""
        record = self.incidents.get(incident_id)
        return record if record is not None and record.host_id == self.host_id else None

    def find(self, incident_id: str) -> IncidentRecord | None:
        """An incident held here, else as the journal last wrote it (an ended one)."""
        return self.incidents.get(incident_id) or self.journal.incident(incident_id)

    def open_id(self, device_id: str, kind: IncidentKind) -> str | None:
        return self.open_index.get((device_id, kind))

    def open_incidents(self) -> list[IncidentRecord]:
        return [r for r in self.incidents.values() if r.is_open]

    def owned_open(self) -> int:
        return sum(1 for r in self.incidents.values() if r.host_id == self.host_id and r.is_open)

    # -- changes -------------------------------------------------------------------------------------

    def raise_or_repeat(self, device: Device, kind: IncidentKind, now_s: float, *, seq: int = 0, note: str = "",
                        fresh: bool = False, incident_id: str | None = None, tip: Tip | None = None,
                        place: tuple[float | None, float | None] = (None, None)) -> str:
        """Count a repeat on the device's open incident of ``kind``, or raise a new one (always, ``fresh``). A tip
        carries what it says; ``place``, where it happened when the device says (else the device's own place)."""
        existing_id = None if fresh else self.open_index.get((device.id, kind))
        if existing_id is not None:
            record = self.incidents[existing_id]
            self.store(repeat(record, seq=seq), record, [], now_s)
            return existing_id
        incident_id = self.fresh_incident_id(incident_id or f"{device.id}#{seq}", now_s)
        policy = self.policies.for_incident(kind, device.kind)
        new = NewIncident(incident_id, kind, device.id, device.site_id or "", device.precinct_id, self.host_id,
                          seq=seq, lat=device.lat if place[0] is None else place[0],
                          lon=device.lon if place[1] is None else place[1], note=note, tip=tip)
        record, effects = open_incident(new, policy=policy, targets=lambda level: self.city.target_for(level, device),
                                        now_s=now_s)
        self.store(record, None, effects, now_s)
        return incident_id

    def fresh_incident_id(self, wanted: str, now_s: float) -> str:
        """``wanted`` unless an incident had it already, open or closed (a device that rebooted reuses its seqs; an
        engine-made id may meet a device's own): then ``wanted@<ms>``, and a counter after that if need be."""
        candidate, n = wanted, 0
        while candidate in self.incidents or self.journal.incident(candidate) is not None:
            n += 1
            candidate = f"{wanted}@{int(now_s * 1000)}" + (f".{n}" if n > 1 else "")
        return candidate

    def deadline(self, incident_id: str, due_s: float, at_s: float) -> int:
        """The incident's deadline passed: escalate (or remind). 0 if it no longer stands."""
        record = self.incidents.get(incident_id)
        if record is None or record.deadline_s != due_s:
            return 0
        device = self.city.devices[record.device_id]
        policy = self.policies.for_incident(record.kind, device.kind)
        updated, effects = deadline_passed(record, policy=policy,
                                           targets=lambda level: self.city.target_for(level, device), now_s=at_s)
        self.store(updated, record, effects, at_s)
        if updated.level is not record.level:
            self.staging.audit(at_s, "system", "escalated", record.id, "ok", role="system",
                               reason=f"to {updated.level.value}")
        return 1

    def deliver(self, messages: list[HostMessage], now_s: float) -> None:
        """Copies from another host; an older copy overtaken by a newer one is ignored."""
        for message in messages:
            record = message.incident
            known = self.incidents.get(record.id)
            if known is not None and known.version >= record.version:
                continue
            self.store(record, known, [], now_s)

    def store(self, record: IncidentRecord, before: IncidentRecord | None, effects: list[Effect],
              now_s: float) -> None:
        """Adopt a changed record: index, deadline, responders, copies elsewhere, journal, observers."""
        incident_id = record.id
        self.staging.stage_record(record, before)
        self.changes.add(record, before)
        owned = record.host_id == self.host_id
        if owned:
            key = (record.device_id, record.kind)
            if record.is_active:
                if record.kind not in UNINDEXED:
                    self.open_index[key] = incident_id
            elif self.open_index.get(key) == incident_id:
                del self.open_index[key]
            if record.deadline_s is not None:
                self.scheduler.schedule((INCIDENT, incident_id), record.deadline_s)
            else:
                self.scheduler.cancel((INCIDENT, incident_id))
        if record.state.is_terminal:
            self.incidents.pop(incident_id, None)
        else:
            self.incidents[incident_id] = record
        self._hold(record)
        for effect in effects:
            if isinstance(effect, DeviceCommand):
                self.device_commands.add(effect, now_s)
        if owned and not self.is_cc and self.city.command_center.id in record.notified:
            self.peers.send(self.cc_host_id, IncidentUpdate(record))
        if owned and self.observer is not None:
            self.observer(record, before, now_s)

    def adopt(self, record: IncidentRecord) -> None:
        """A record from the journal (a restart): held, indexed and timed again; nothing is sent or staged."""
        self.incidents[record.id] = record
        if record.host_id == self.host_id:
            if record.is_active and record.kind not in UNINDEXED:
                self.open_index[(record.device_id, record.kind)] = record.id
            if record.deadline_s is not None:
                self.scheduler.schedule((INCIDENT, record.id), record.deadline_s)
        self._hold(record)

    def _hold(self, record: IncidentRecord) -> None:
        for target in record.notified:  # every level notified keeps the incident until it ends
            responder = self.responders.get(target)
            if responder is not None:
                responder.hold(record)
