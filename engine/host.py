"""A host: the pure core of one Ray host actor. It holds the entities placed on it — devices,
guard rooms, stations, maintenance queues, or the command center — and runs them one message at a
time: a device event, an operator command, a deadline, a batch from another host.

Sans-I/O: time comes in as ``now_s``; what must leave (acks, device commands, batches for other hosts,
changes for observers) is collected for the shell to take. The journal is written once per step,
before any ack leaves, so an acked alarm is durable.

A step whose journal write fails is not kept: the host goes back to what its journal holds (as a restarted host
would), keeps what earlier steps left for the shell to take, and raises :class:`JournalUnavailable`, so no ack
leaves for anything the journal does not have. Memory only ever holds what was written.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Final, NoReturn

from engine.entities import ALARM_MEMORY, SUPERVISED_KINDS, DeviceEntity, Responder, SeqVerdict
from engine.errors import JournalUnavailable, Overloaded, UnknownDevice, UnknownIncident
from engine.incident import (
    DeviceCommand,
    Effect,
    NewIncident,
    apply_command,
    deadline_passed,
    open_incident,
    repeat,
    system_cancel,
)
from engine.journal import AlarmSeq, AuditRow, Journal, JournalBatch
from engine.placement import CC_HOST
from engine.policy import PolicySet
from engine.scheduler import DeadlineScheduler
from engine.topology import City, Device
from protocols import EventKind, Level
from protocols.batch import DeviceAck, HostBatch, Ingest, IngestResult, StateChange
from protocols.device import message_digest
from protocols.kinds import AckStatus, IncidentKind
from protocols.records import (
    HostMessage,
    IncidentRecord,
    IncidentUpdate,
    OperatorCommand,
)

log = logging.getLogger(__name__)

INCIDENT: Final = "i"
SUPERVISION: Final = "s"
HELD_OPEN: Final = "h"

_INCIDENT_EVENTS: Final = {EventKind.KIOSK_FAULT: IncidentKind.KIOSK_FAULT, EventKind.PATROL_CLUE: IncidentKind.PATROL_CLUE}
"""Events that report something (a tip, a fault): deduplicated like alarms (boot, seq, digest; journaled), so a
report re-sent after a restart is a duplicate, never a second incident."""
_STATE_EVENTS: Final = frozenset({EventKind.DOOR_OPENED, EventKind.PATROL_POSITION})
CLOCK_BEHIND_S: Final = 40.0
CLOCK_AHEAD_S: Final = 20.0
"""SIA DC-09's window around the receiver's clock: a message stamped earlier than 40 s before it arrived, or later
than 20 s after, is flagged (counted, and noted on its incident). Never refused: an alarm held back by an outage
is still an alarm."""


@dataclass(frozen=True, slots=True)
class HostConfig:
    host_id: str
    cc_host_id: str = CC_HOST
    heartbeat_interval_s: float = 30.0
    heartbeat_misses: int = 3
    alarm_memory: int = ALARM_MEMORY
    max_changes: int = 100_000
    max_outbox: int = 100_000
    max_device_commands: int = 100_000
    exact_deadlines: bool = False
    """Virtual time: a deadline is handled at its due time, not at the (later) time the clock was moved to."""
    seen_flush_s: float = 1.0
    """How often supervised devices' last-seen times are journaled (a restarted host supervises from them)."""
    deadline_retry_s: float = 1.0
    """A deadline whose handling raised is tried again this much later (and counted), never dropped."""
    command_confirm_s: float = 10.0
    """A device command handed to a bridge that confirms (``take_device_commands(now_s=...)``) and not confirmed
    in this time is handed out again..."""
    command_attempts: int = 3
    """...at most this many times in all; then it is audited as failed."""

    def __post_init__(self) -> None:
        if self.heartbeat_interval_s <= 0 or self.heartbeat_misses < 1:
            raise ValueError("heartbeat_interval_s must be > 0 and heartbeat_misses >= 1")


@dataclass(frozen=True, slots=True)
class Change:
    """An incident changed: the record, and the index of its first new timeline entry."""

    record: IncidentRecord
    new_from: int


@dataclass(frozen=True, slots=True)
class DeviceCommandOut:
    device_id: str
    command: str
    args: dict
    at_s: float
    json: bool = False
    """Encode it as JSON: the device last spoke JSON."""
    number: int = 0
    """This host's number for the command: what a bridge confirms once it published it."""
    attempt: int = 1


@dataclass(frozen=True, slots=True)
class HostStats:
    host_id: str
    devices: int
    devices_active: int
    responders: int
    incidents_open: int
    deadlines: int
    accepted: int
    duplicates: int
    refused: int
    deadlines_fired: int
    changes_dropped: int
    device_commands_dropped: int
    journal_writes: int
    seq_rearmed: int = 0
    """Event windows started again: a device rebooted (new ``boot``) or jumped its seq back."""
    clock_skewed: int = 0
    """Messages stamped outside the DC-09 window (−40/+20 s) of their arrival."""
    journal_failures: int = 0
    """Steps whose journal write failed: not kept, not acked, the host back to its journal."""
    deadline_errors: int = 0
    """Deadline handlings that raised (each tried again ``deadline_retry_s`` later)."""
    commands_redelivered: int = 0
    commands_failed: int = 0


@dataclass(slots=True)
class _Step:
    """What one host step changed, flushed to the journal at its end."""

    dirty: dict[str, tuple[int, IncidentRecord]] = field(default_factory=dict)  # id → (journaled length, latest)
    alarm_seqs: list[AlarmSeq] = field(default_factory=list)
    audit: list[AuditRow] = field(default_factory=list)
    seen: dict[str, float] = field(default_factory=dict)
    # what the step left for the shell, taken back if its journal write fails
    changes: int = 0
    commands: int = 0
    outbox: dict[str, int] = field(default_factory=dict)


class HostCore:
    def __init__(self, config: HostConfig, *, city: City, policies: PolicySet, journal: Journal,
                 now_s: float) -> None:
        self.config = config
        self.host_id = config.host_id
        self.city = city
        self.policies = policies
        self.journal = journal
        self.is_cc = config.host_id == config.cc_host_id
        self.outbox: dict[str, list[HostMessage]] = {}
        self.changes: deque[Change] = deque(maxlen=config.max_changes)
        self.device_commands: deque[DeviceCommandOut] = deque(maxlen=config.max_device_commands)
        self.deadline_lateness_s: deque[float] = deque(maxlen=10_000)
        """How late each escalation deadline fired (real time): the newest 10,000, for the benchmarks."""
        self.broken = False
        """The journal could be neither written nor read back: the shell must end this host (a restart recovers)."""
        self._residents_of_unit: dict[tuple[str, str], list[str]] = {}
        self._commands_out: dict[int, tuple[DeviceCommandOut, float]] = {}  # number → (command, hand out again at)
        self._command_numbers = 0
        self._seen_dirty: dict[str, tuple[float, bool]] = {}  # device → (last seen, offline) not yet journaled
        self._next_seen_flush_s = now_s + config.seen_flush_s
        self._step = _Step()
        self._counters = dict(accepted=0, duplicates=0, refused=0, deadlines_fired=0, changes_dropped=0,
                              device_commands_dropped=0, seq_rearmed=0, clock_skewed=0, journal_failures=0,
                              deadline_errors=0, commands_redelivered=0, commands_failed=0)
        for resident in city.residents.values():
            if resident.verified:
                self._residents_of_unit.setdefault((resident.site_id, resident.unit), []).append(resident.phone_id)
        self._reset_state()
        self._recover()

    def _reset_state(self) -> None:
        """Everything the journal rebuilds: entities, incidents, indexes, timers."""
        self.devices: dict[str, DeviceEntity] = {}
        self.responders: dict[str, Responder] = {}
        self.incidents: dict[str, IncidentRecord] = {}
        self.open_index: dict[tuple[str, IncidentKind], str] = {}
        self.scheduler = DeadlineScheduler()
        self._retried_due: dict[tuple, tuple[float, float]] = {}  # key being retried → (retry at, due it stands for)
        self._recovered_seqs: dict[str, list[AlarmSeq]] = {}
        self._make_responders()

    # -- device events -----------------------------------------------------------------------------

    def ingest(self, items: list[Ingest], *, now_s: float) -> IngestResult:
        """Handle a batch of device messages; the journal is written before the result (the acks) returns."""
        self._check_room()
        acks: list[DeviceAck] = []
        accepted = duplicates = refused = 0
        with self._whole_step():
            for item in items:
                verdict, listed = self._handle_device_message(item, now_s)
                if verdict.status is AckStatus.ACK:
                    accepted += 1
                elif verdict.status is AckStatus.DUPLICATE:
                    duplicates += 1
                else:
                    refused += 1
                if listed or verdict.status is not AckStatus.ACK:
                    acks.append(DeviceAck(item.device_id, item.message.seq, verdict.status, verdict.reason,
                                          verdict.incident_id, item.message.boot))
        self._flush()
        self._counters["accepted"] += accepted
        self._counters["duplicates"] += duplicates
        self._counters["refused"] += refused
        return IngestResult(accepted, duplicates, refused, acks)

    def _handle_device_message(self, item: Ingest, now_s: float) -> tuple[SeqVerdict, bool]:
        entity = self._device(item.device_id)
        if entity is None:
            return SeqVerdict(AckStatus.NAK, f"device_id: unknown device {item.device_id!r}"), True
        message = item.message
        kind = message.event_kind
        verdict = entity.check_kind(kind)
        if verdict.status is AckStatus.NAK:
            return verdict, True
        is_alarm = kind.is_alarm
        reported = _INCIDENT_EVENTS.get(kind)
        digest = 0
        if is_alarm or reported is not None:
            digest = message_digest(message)
            verdict = entity.check_alarm(message.seq, boot=message.boot, digest=digest)
        else:
            verdict = entity.check_event_seq(message.seq, message.boot)
            self._counters["seq_rearmed"] += verdict.rearmed
        if verdict.status is not AckStatus.ACK:
            return verdict, True
        entity.speaks_json = item.json
        self._seen(entity, now_s)
        skew = self._clock_skew(item)
        if is_alarm or reported is not None:
            note = "; ".join(n for n in (_note_of(message), skew) if n)
            incident_kind = reported or IncidentKind(kind.value)
            fresh = incident_kind is IncidentKind.PATROL_CLUE  # every clue is its own report
            incident_id = self._raise_or_repeat(entity.device, incident_kind, now_s, seq=message.seq, note=note,
                                                fresh=fresh)
            entity.remember_alarm(message.seq, incident_id, boot=message.boot, digest=digest,
                                  memory_size=self.config.alarm_memory)
            self._step.alarm_seqs.append(AlarmSeq(entity.device.id, message.seq, incident_id, message.boot, digest))
            return SeqVerdict(AckStatus.ACK, incident_id=incident_id), True
        if verdict.late and kind in _STATE_EVENTS:
            return verdict, False  # a newer door state or position is already applied
        if kind is EventKind.DOOR_OPENED:
            self._door_opened(entity, message.data.open, now_s)
        elif kind is EventKind.DOOR_VISITOR:
            self._visitor_call(entity.device, message, now_s)
        elif kind is EventKind.PATROL_POSITION:
            entity.position = (message.data.lat, message.data.lon)
        return SeqVerdict(AckStatus.ACK), False

    def _clock_skew(self, item: Ingest) -> str:
        """A note when the device's ``ts`` is outside the DC-09 window of the time the bridge received it."""
        if not item.received_ms:
            return ""
        skew_s = (item.message.ts - item.received_ms) / 1000.0
        if -CLOCK_BEHIND_S <= skew_s <= CLOCK_AHEAD_S:
            return ""
        self._counters["clock_skewed"] += 1
        if skew_s < 0:
            return f"sent {-skew_s:.0f} s before it arrived (held back, or the device clock is behind)"
        return f"stamped {skew_s:.0f} s after it arrived (the device clock is ahead)"

    def _seen(self, entity: DeviceEntity, now_s: float) -> None:
        entity.last_seen_s = now_s
        device = entity.device
        if device.kind not in SUPERVISED_KINDS:
            return
        self._seen_dirty[device.id] = (now_s, False)
        if entity.offline:
            entity.offline = False
            self._audit(now_s, device.id, "device.online", device.id, "ok", device.precinct_id)
            incident_id = entity.offline_incident
            entity.offline_incident = None
            record = self.incidents.get(incident_id) if incident_id else None
            if record is not None and record.is_active:
                policy = self.policies.for_incident(record.kind, device.kind)
                updated, effects = system_cancel(record, reason="device back online", policy=policy, now_s=now_s)
                self._store(updated, record, effects, now_s)
        key = (SUPERVISION, device.id)
        if self.scheduler.due_of(key) is None:
            self.scheduler.schedule(key, now_s + self._offline_after_s(device))

    def _offline_after_s(self, device: Device) -> float:
        """``interval × misses``: the device's own interval, else its kind's (policies), else the engine's."""
        interval = device.heartbeat_s or self.policies.heartbeat_s.get(device.kind) or self.config.heartbeat_interval_s
        return interval * (self.policies.misses or self.config.heartbeat_misses)

    def _door_opened(self, entity: DeviceEntity, is_open: bool, now_s: float) -> None:
        key = (HELD_OPEN, entity.device.id)
        if not is_open:
            entity.door_open_since_s = None
            self.scheduler.cancel(key)
            return
        if entity.door_open_since_s is None:
            entity.door_open_since_s = now_s
            after_s = self.policies.for_incident(IncidentKind.DOOR_HELD_OPEN, entity.device.kind).trigger_after_s
            if after_s is not None:
                self.scheduler.schedule(key, now_s + after_s)

    def _visitor_call(self, device: Device, message, now_s: float) -> None:
        """Ring the verified residents of the unit at the door."""
        unit = message.data.unit or device.unit
        for phone in self._residents_of_unit.get((device.site_id or "", unit), ()):
            self._command_device(DeviceCommand(phone, "visitor_call", {
                "door": device.id, "unit": unit, "snapshot": message.data.snapshot, "seq": message.seq,
            }), now_s)

    # -- incidents ---------------------------------------------------------------------------------

    def _raise_or_repeat(self, device: Device, kind: IncidentKind, now_s: float, *, seq: int = 0, note: str = "",
                         fresh: bool = False, incident_id: str | None = None) -> str:
        key = (device.id, kind)
        existing_id = None if fresh else self.open_index.get(key)
        if existing_id is not None:
            record = self.incidents[existing_id]
            self._store(repeat(record, seq=seq), record, [], now_s)
            return existing_id
        incident_id = self._fresh_incident_id(incident_id or f"{device.id}#{seq}", now_s)
        policy = self.policies.for_incident(kind, device.kind)
        new = NewIncident(incident_id, kind, device.id, device.site_id or "", device.precinct_id, self.host_id,
                          seq=seq, lat=device.lat, lon=device.lon, note=note)
        record, effects = open_incident(new, policy=policy, targets=lambda level: self.city.target_for(level, device),
                                        now_s=now_s)
        self._store(record, None, effects, now_s)
        return incident_id

    def _fresh_incident_id(self, wanted: str, now_s: float) -> str:
        """``wanted`` unless an incident had it already, open or closed (a device that rebooted reuses its seqs; an
        engine-made id may meet a device's own): then ``wanted@<ms>``, and a counter after that if need be."""
        candidate, n = wanted, 0
        while candidate in self.incidents or self.journal.incident(candidate) is not None:
            n += 1
            candidate = f"{wanted}@{int(now_s * 1000)}" + (f".{n}" if n > 1 else "")
        return candidate

    def command(self, command: OperatorCommand, *, now_s: float) -> IncidentRecord:
        """An operator acts on an incident this host owns. Refusals raise and are audited."""
        record = self.incidents.get(command.incident_id)
        where = f"{command.level.value}:{command.target}"
        if record is None or record.host_id != self.host_id:
            self._audit(now_s, command.operator, command.action.value, command.incident_id, "refused", where,
                        "unknown incident")
            self._flush()
            raise UnknownIncident(command.incident_id)
        device = self.city.devices.get(record.device_id)
        policy = self.policies.for_incident(record.kind, device.kind if device else None)
        try:
            updated, effects = apply_command(record, command, policy=policy, now_s=now_s)
        except Exception as exc:
            self._audit(now_s, command.operator, command.action.value, record.id, "refused", where, str(exc))
            self._flush()
            raise
        self._store(updated, record, effects, now_s)
        self._audit(now_s, command.operator, command.action.value, record.id, "ok", where, command.note)
        self._flush()
        return updated

    def _store(self, record: IncidentRecord, before: IncidentRecord | None, effects: list[Effect],
               now_s: float) -> None:
        """Adopt a changed record: index, deadline, responders, copies elsewhere, journal, observers."""
        incident_id = record.id
        step = self._step
        journaled = step.dirty[incident_id][0] if incident_id in step.dirty else (
            len(before.timeline) if before is not None else 0)
        step.dirty[incident_id] = (journaled, record)
        self._record_change(Change(record, len(before.timeline) if before is not None else 0))
        owned = record.host_id == self.host_id
        key = (record.device_id, record.kind)
        if owned:
            if record.is_active:
                if record.kind is not IncidentKind.PATROL_CLUE:
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
        for target in record.notified:  # every level notified keeps the incident until it ends
            responder = self.responders.get(target)
            if responder is not None:
                responder.hold(record)
        for effect in effects:
            if isinstance(effect, DeviceCommand):
                self._command_device(effect, now_s)
        if owned and not self.is_cc and self.city.command_center.id in record.notified:
            self._send(self.config.cc_host_id, IncidentUpdate(record))

    def _record_change(self, change: Change) -> None:
        if len(self.changes) == self.changes.maxlen:
            self._counters["changes_dropped"] += 1
        self.changes.append(change)
        self._step.changes += 1

    def command_device(self, device_id: str, command: str, args: dict, *, actor: str, now_s: float) -> None:
        """An operator's command for a device of this host (say, a remote door open): audited, then sent."""
        if self._device(device_id) is None:
            raise UnknownDevice(device_id)
        self._audit(now_s, actor, "device.command", device_id, command, self.city.devices[device_id].precinct_id,
                    detail=str(args)[:200])
        self._command_device(DeviceCommand(device_id, command, dict(args)), now_s)
        self._flush()

    def _command_device(self, command: DeviceCommand, now_s: float) -> None:
        if len(self.device_commands) == self.device_commands.maxlen:
            self._counters["device_commands_dropped"] += 1
        entity = self.devices.get(command.device_id)
        self._command_numbers += 1
        self.device_commands.append(DeviceCommandOut(command.device_id, command.command, command.args, now_s,
                                                     json=entity.speaks_json if entity else False,
                                                     number=self._command_numbers))
        self._step.commands += 1

    def _send(self, host_id: str, message: HostMessage) -> None:
        self.outbox.setdefault(host_id, []).append(message)
        self._step.outbox[host_id] = self._step.outbox.get(host_id, 0) + 1

    # -- time --------------------------------------------------------------------------------------

    def next_deadline_s(self) -> float | None:
        return self.scheduler.next_due_s()

    def advance(self, *, now_s: float) -> int:
        """Handle every deadline due at or before ``now_s``; returns how many fired."""
        fired = 0
        failed: list[tuple] = []
        for due_s, key in self.scheduler.drain_due(now_s):
            retry_at, original_due_s = self._retried_due.pop(key, (None, due_s))
            if retry_at == due_s:  # a retry is handled as the deadline it stands for (unless moved since)
                due_s = original_due_s
            try:
                fired += self._deadline(key, due_s, now_s)
            except Exception:  # retried, counted and reported; one bad deadline never stops the others
                self._counters["deadline_errors"] += 1
                log.exception("host %s: handling deadline %r (due %.3f) failed; trying again in %.1f s",
                              self.host_id, key, due_s, self.config.deadline_retry_s)
                failed.append((key, due_s))
        for key, due_s in failed:  # after the drain, so a failing deadline is not tried again in this same round
            if self.scheduler.due_of(key) is not None:
                continue  # the handler moved it before it failed: that deadline stands
            self._retried_due[key] = (now_s + self.config.deadline_retry_s, due_s)
            self.scheduler.schedule(key, now_s + self.config.deadline_retry_s)
        self._counters["deadlines_fired"] += fired
        if now_s >= self._next_seen_flush_s:
            self._next_seen_flush_s = now_s + self.config.seen_flush_s
            self._step.seen, self._seen_dirty = self._seen_dirty, {}
        self._flush()
        self._redeliver_commands(now_s)  # after the flush: a failed step cannot take them back with it
        self._flush()  # the audit rows of commands that failed for good
        return fired

    def _deadline(self, key: tuple, due_s: float, now_s: float) -> int:
        at_s = due_s if self.config.exact_deadlines else max(due_s, now_s)
        kind, subject = key
        if kind == INCIDENT:
            hit = self._incident_deadline(subject, due_s, at_s)
            if hit and not self.config.exact_deadlines:
                self.deadline_lateness_s.append(now_s - due_s)
            return hit
        if kind == SUPERVISION:
            return self._supervision_deadline(subject, due_s, at_s)
        if kind == HELD_OPEN:
            return self._held_open_deadline(subject, at_s)
        return 0

    def _incident_deadline(self, incident_id: str, due_s: float, at_s: float) -> int:
        record = self.incidents.get(incident_id)
        if record is None or record.deadline_s != due_s:
            return 0
        device = self.city.devices[record.device_id]
        policy = self.policies.for_incident(record.kind, device.kind)
        updated, effects = deadline_passed(record, policy=policy,
                                           targets=lambda level: self.city.target_for(level, device), now_s=at_s)
        self._store(updated, record, effects, at_s)
        if updated.level is not record.level:
            self._audit(at_s, "system", "escalated", record.id, updated.level.value, record.precinct_id)
        return 1

    def _supervision_deadline(self, device_id: str, due_s: float, at_s: float) -> int:
        entity = self.devices.get(device_id)
        if entity is None or entity.last_seen_s is None or entity.offline:
            return 0
        offline_after_s = self._offline_after_s(entity.device)
        still_due = entity.last_seen_s + offline_after_s
        if still_due > due_s:
            self.scheduler.schedule((SUPERVISION, device_id), still_due)
            return 0
        self._go_offline(entity, at_s, f"silent for {at_s - entity.last_seen_s:.0f} s")
        return 1

    def _go_offline(self, entity: DeviceEntity, at_s: float, note: str) -> None:
        """Once per outage: the device is marked offline and a ``device.offline`` incident raised."""
        device_id = entity.device.id
        incident_id = self._raise_or_repeat(  # first: if it raises, the device is not marked offline unreported
            entity.device, IncidentKind.DEVICE_OFFLINE, at_s, note=note,
            incident_id=f"{device_id}#offline@{int(at_s * 1000)}",
        )
        entity.offline, entity.offline_incident = True, incident_id
        self.scheduler.cancel((SUPERVISION, device_id))
        self._seen_dirty[device_id] = (entity.last_seen_s or at_s, True)  # a restart must not report it again
        self._audit(at_s, "system", "device.offline", device_id, "raised", entity.device.precinct_id, note)

    def device_states(self, states: list[StateChange], *, now_s: float) -> int:
        """Connection states from the broker: a Last Will ``offline`` takes a supervised device offline at
        once (no waiting for missed heartbeats); ``online`` counts as a sign of life. Returns how many
        states changed anything; unknown devices are ignored (the bridge refused them already)."""
        changed = 0
        with self._whole_step():
            for state in states:
                entity = self._device(state.device_id)
                if entity is None or entity.device.kind not in SUPERVISED_KINDS:
                    continue
                if state.online:
                    changed += entity.offline
                    self._seen(entity, now_s)
                elif not entity.offline:
                    self._go_offline(entity, now_s, "connection lost (last will)")
                    changed += 1
        self._flush()
        return changed

    def _held_open_deadline(self, device_id: str, at_s: float) -> int:
        entity = self.devices.get(device_id)
        if entity is None or entity.door_open_since_s is None:
            return 0
        open_s = at_s - entity.door_open_since_s
        self._raise_or_repeat(entity.device, IncidentKind.DOOR_HELD_OPEN, at_s, note=f"open for {open_s:.0f} s",
                              incident_id=f"{device_id}#held@{int(at_s * 1000)}")
        return 1

    # -- other hosts -------------------------------------------------------------------------------

    def deliver(self, batch: HostBatch, *, now_s: float) -> None:
        """Messages from another host: copies of incidents that reached an entity here."""
        with self._whole_step():
            for message in batch.messages:
                record = message.incident
                known = self.incidents.get(record.id)
                if known is not None and known.version >= record.version:
                    continue  # an older copy overtaken by a newer one
                self._store(record, known, [], now_s)
        self._flush()

    def take_outbox(self, *, now_s: float) -> dict[str, HostBatch]:
        out = {host: HostBatch(self.host_id, now_s, messages) for host, messages in self.outbox.items() if messages}
        self.outbox = {}
        return out

    def requeue(self, host_id: str, messages: list[HostMessage]) -> None:
        """Put back messages that could not be sent, ahead of newer ones (the outbox limit still holds)."""
        self.outbox[host_id] = messages + self.outbox.get(host_id, [])

    def take_changes(self) -> list[Change]:
        out = list(self.changes)
        self.changes.clear()
        return out

    def take_device_commands(self, *, now_s: float | None = None) -> list[DeviceCommandOut]:
        """The queued device commands. With ``now_s`` (a bridge that confirms what it published), each is held until
        :meth:`confirm_device_commands`: one not confirmed in ``command_confirm_s`` (its bridge died before it
        published) is handed out again, and after ``command_attempts`` audited as failed."""
        out = list(self.device_commands)
        self.device_commands.clear()
        if now_s is not None:
            again_at = now_s + self.config.command_confirm_s
            for command in out:
                self._commands_out[command.number] = (command, again_at)
            while len(self._commands_out) > self.config.max_device_commands:
                oldest = next(iter(self._commands_out))
                self._command_failed(self._commands_out.pop(oldest)[0], now_s, "too many unconfirmed commands")
        return out

    def confirm_device_commands(self, numbers: list[int]) -> None:
        """A bridge published these commands."""
        for number in numbers:
            self._commands_out.pop(number, None)

    def _redeliver_commands(self, now_s: float) -> None:
        due = [n for n, (_, at_s) in self._commands_out.items() if at_s <= now_s]
        for number in due:
            command, _ = self._commands_out.pop(number)
            if command.attempt >= self.config.command_attempts:
                self._command_failed(command, now_s, f"not published after {command.attempt} attempts")
                continue
            self._counters["commands_redelivered"] += 1
            self.device_commands.append(replace(command, attempt=command.attempt + 1))

    def _command_failed(self, command: DeviceCommandOut, now_s: float, why: str) -> None:
        self._counters["commands_failed"] += 1
        device = self.city.devices.get(command.device_id)
        self._audit(now_s, "system", "device.command", command.device_id, "failed",
                    device.precinct_id if device else "", f"{command.command}: {why}")

    def _check_room(self) -> None:
        waiting = sum(len(m) for m in self.outbox.values())
        if waiting >= self.config.max_outbox:
            raise Overloaded(f"host {self.host_id} outbox", self.config.max_outbox)

    # -- journal -----------------------------------------------------------------------------------

    def record_audit(self, rows: list[AuditRow]) -> None:
        """Audit rows from outside the host (the console gateway: logins, refusals), journaled here."""
        self._step.audit.extend(rows)
        self._flush()

    def _audit(self, t_s: float, actor: str, action: str, subject: str, outcome: str, where: str = "",
               detail: str = "") -> None:
        self._step.audit.append(AuditRow(t_s, actor, action, subject, outcome, where, detail))

    @contextlib.contextmanager
    def _whole_step(self):
        """A step that raises half-way is forgotten whole (rebuilt from the journal), never half kept."""
        try:
            yield
        except Exception:
            self._abandon_step()
            raise

    def _flush(self) -> None:
        step = self._step
        if not (step.dirty or step.alarm_seqs or step.audit or step.seen):
            self._step = _Step()
            return
        batch = JournalBatch(audit=step.audit, alarm_seqs=step.alarm_seqs, seen=step.seen)
        for incident_id, (journaled, record) in step.dirty.items():
            batch.incidents.append(record)
            batch.transitions.extend(
                (incident_id, index, record.timeline[index]) for index in range(journaled, len(record.timeline))
            )
        try:
            self.journal.write(batch)
        except Exception as exc:
            self._step_failed(step, exc)
        self._step = _Step()

    def _step_failed(self, step: _Step, exc: Exception) -> NoReturn:
        """The journal did not take this step: forget it, and raise :class:`JournalUnavailable`."""
        self._counters["journal_failures"] += 1
        reason = f"{type(exc).__name__}: {exc}"[:300]
        log.error("host %s: journal write failed (%s); going back to the journal", self.host_id, reason)
        self._abandon(step)
        raise JournalUnavailable(self.host_id, reason) from exc

    def _abandon_step(self) -> None:
        """A step that raised half-way (a bug, a journal read that failed): forget it, as a failed write is."""
        log.error("host %s: a step failed half-way; going back to the journal", self.host_id)
        self._abandon(self._step)

    def _abandon(self, step: _Step) -> None:
        """Forget a step. What earlier steps left for the shell (changes, commands, batches for other hosts) stays;
        the devices' last-seen times stay (observations, not decisions); everything else is rebuilt from the
        journal, as after a restart."""
        seen = {d: (e.last_seen_s, e.offline) for d, e in self.devices.items() if e.last_seen_s is not None}
        for device_id, row in step.seen.items():  # not journaled: written with the next flush instead
            self._seen_dirty.setdefault(device_id, row)
        for _ in range(min(step.changes, len(self.changes))):
            self.changes.pop()
        for _ in range(min(step.commands, len(self.device_commands))):
            self.device_commands.pop()
        for host_id, n in step.outbox.items():
            kept = self.outbox.get(host_id, [])
            del kept[max(0, len(kept) - n):]
        self._step = _Step()
        self._reset_state()
        try:
            self._recover()
        except Exception as load_exc:
            self.broken = True
            log.critical("host %s: the journal cannot be read back either: %s", self.host_id, load_exc)
            return
        for device_id, (seen_s, offline) in seen.items():
            if not offline:
                self._resume_supervision(device_id, seen_s, False)

    def _recover(self) -> None:
        state = self.journal.load(alarm_memory=self.config.alarm_memory)
        self._recovered_seqs = state.alarm_seqs
        for record in state.incidents:
            owned = record.host_id == self.host_id
            self.incidents[record.id] = record
            if owned:
                if record.is_active and record.kind is not IncidentKind.PATROL_CLUE:
                    self.open_index[(record.device_id, record.kind)] = record.id
                if record.deadline_s is not None:
                    self.scheduler.schedule((INCIDENT, record.id), record.deadline_s)
            for target in record.notified:
                responder = self.responders.get(target)
                if responder is not None:
                    responder.hold(record)
        for device_id, (seen_s, offline) in state.seen.items():
            self._resume_supervision(device_id, seen_s, offline)

    def _resume_supervision(self, device_id: str, seen_s: float, offline: bool) -> None:
        """A device supervised before the restart: supervised again from its journaled last-seen time, so one that
        fell silent before (or during) the outage is reported offline when it would have been."""
        device = self.city.devices.get(device_id)
        if device is None or device.kind not in SUPERVISED_KINDS:
            return
        entity = self._device(device_id)
        if entity.last_seen_s is not None and entity.last_seen_s >= seen_s:
            return
        entity.last_seen_s = seen_s
        offline_id = self.open_index.get((device_id, IncidentKind.DEVICE_OFFLINE))
        if offline or offline_id is not None:  # reported before the restart: still offline until it speaks
            entity.offline, entity.offline_incident = True, offline_id
            self.scheduler.cancel((SUPERVISION, device_id))
            return
        self.scheduler.schedule((SUPERVISION, device_id), seen_s + self._offline_after_s(device))

    # -- entities ----------------------------------------------------------------------------------

    def _device(self, device_id: str) -> DeviceEntity | None:
        """Activate a device entity on its first message (virtual actor)."""
        entity = self.devices.get(device_id)
        if entity is None:
            device = self.city.devices.get(device_id)
            if device is None:
                return None
            entity = self.devices[device_id] = DeviceEntity(device)
            for row in self._recovered_seqs.pop(device_id, ()):
                entity.remember_alarm(row.seq, row.incident_id, boot=row.boot, digest=row.digest,
                                      memory_size=self.config.alarm_memory)
        return entity

    def _make_responders(self) -> None:
        city = self.city
        if self.is_cc:
            cc = city.command_center
            self.responders[cc.id] = Responder(cc.id, Level.COMMAND_CENTER, "")
            return
        precincts = {d.precinct_id for d in city.devices.values()} | {s.precinct_id for s in city.sites.values()}
        for pid in sorted(precincts):
            precinct = city.precincts[pid]
            self.responders[precinct.station_id] = Responder(precinct.station_id, Level.POLICE_STATION, pid)
            self.responders[precinct.maintenance_id] = Responder(precinct.maintenance_id, Level.MAINTENANCE, pid)
        for site in city.sites.values():
            if site.guard_room_id:
                self.responders[site.guard_room_id] = Responder(site.guard_room_id, Level.GUARD_ROOM, site.precinct_id)

    # -- queries -----------------------------------------------------------------------------------

    def incident(self, incident_id: str) -> IncidentRecord | None:
        return self.incidents.get(incident_id) or self.journal.incident(incident_id)

    def open_incidents(self) -> list[IncidentRecord]:
        return [r for r in self.incidents.values() if r.is_open]

    def statistics(self) -> HostStats:
        c = self._counters
        return HostStats(
            self.host_id, len(self.city.devices), len(self.devices), len(self.responders),
            sum(1 for r in self.incidents.values() if r.host_id == self.host_id and r.is_open),
            len(self.scheduler), c["accepted"], c["duplicates"], c["refused"], c["deadlines_fired"],
            c["changes_dropped"], c["device_commands_dropped"], getattr(self.journal, "writes", 0),
            c["seq_rearmed"], c["clock_skewed"], c["journal_failures"], c["deadline_errors"],
            c["commands_redelivered"], c["commands_failed"],
        )


def _note_of(message) -> str:
    data = message.data
    for name in ("zone", "snapshot", "code", "text"):
        value = getattr(data, name, "")
        if value:
            return f"{name}={value}"[:200]
    return ""
