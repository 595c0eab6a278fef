"""Entities (virtual actors) hosted in a host: one per device and one per responder.

A device entity checks what its device sends (sequence numbers, which kinds it may send) and keeps
its own state (last seen, online, door open). A responder entity — guard room, police station,
maintenance queue, command center — holds the incidents that reached it and are still open.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.topology import Device
from protocols import DeviceKind, EventKind, Level
from protocols.kinds import AckStatus
from protocols.records import IncidentRecord

ALLOWED_KINDS: dict[DeviceKind, frozenset[EventKind]] = {
    DeviceKind.DOOR: frozenset({EventKind.DOOR_VISITOR, EventKind.DOOR_FORCED, EventKind.DOOR_HELD_OPEN,
                                EventKind.DOOR_OPENED, EventKind.HEARTBEAT}),
    DeviceKind.CAMERA: frozenset({EventKind.CAMERA_THROW, EventKind.CAMERA_INTRUSION, EventKind.HEARTBEAT}),
    DeviceKind.PANIC_BOX: frozenset({EventKind.SCHOOL_PANIC, EventKind.SCHOOL_DURESS, EventKind.HEARTBEAT}),
    DeviceKind.KIOSK: frozenset({EventKind.KIOSK_SESSION, EventKind.KIOSK_FAULT, EventKind.KIOSK_SOS,
                                 EventKind.HEARTBEAT}),
    DeviceKind.VOLUNTEER_PHONE: frozenset({EventKind.PATROL_START, EventKind.PATROL_POSITION, EventKind.PATROL_STOP,
                                           EventKind.PATROL_CLUE, EventKind.PATROL_SOS, EventKind.HEARTBEAT}),
    DeviceKind.RESIDENT_PHONE: frozenset({EventKind.HEARTBEAT}),
}

SUPERVISED_KINDS = frozenset({DeviceKind.DOOR, DeviceKind.CAMERA, DeviceKind.PANIC_BOX, DeviceKind.KIOSK})
"""Phones come and go with their owners; fixed devices are expected to report."""


@dataclass(frozen=True, slots=True)
class SeqVerdict:
    status: AckStatus
    reason: str = ""
    incident_id: str = ""
    late: bool = False
    """Accepted, but a newer event of the device came first: its state (a position, a door) is old news."""


ACCEPT = SeqVerdict(AckStatus.ACK)
LATE = SeqVerdict(AckStatus.ACK, late=True)
EVENT_WINDOW = 64
"""How far behind the newest event seq a late event is still taken (several bridges share the load, so
one device's events may reach its host out of order)."""
_WINDOW_MASK = (1 << EVENT_WINDOW) - 1


class DeviceEntity:
    """One device's own state. ~200 bytes until it raises alarms."""

    __slots__ = ("device", "last_event_seq", "event_window", "alarm_seqs", "last_seen_s", "offline", "door_open_since_s",
                 "offline_incident", "position", "speaks_json")

    def __init__(self, device: Device) -> None:
        self.device = device
        self.last_event_seq = -1
        self.event_window = 0  # bit i: event seq (last_event_seq - i) was seen
        self.alarm_seqs: dict[int, str] | None = None  # recent accepted alarm seq → incident id
        self.last_seen_s: float | None = None
        self.offline = False
        self.door_open_since_s: float | None = None
        self.offline_incident: str | None = None
        self.position: tuple[float, float] | None = None
        self.speaks_json = False  # the encoding of its last accepted message; commands follow it

    def check_kind(self, kind: EventKind) -> SeqVerdict:
        if kind not in ALLOWED_KINDS[self.device.kind]:
            return SeqVerdict(AckStatus.NAK, f"kind: {kind.value} is not sent by a {self.device.kind.value}")
        return ACCEPT

    def check_event_seq(self, seq: int) -> SeqVerdict:
        """A sliding window over the newest 64 event seqs: a seq seen before is a duplicate, one that is
        new but older than the newest is late (still counted), one behind the whole window is stale."""
        top = self.last_event_seq
        if seq > top:
            shift = seq - top
            self.event_window = ((self.event_window << shift) | 1) & _WINDOW_MASK if shift < EVENT_WINDOW else 1
            self.last_event_seq = seq
            return ACCEPT
        behind = top - seq
        if behind >= EVENT_WINDOW:
            return SeqVerdict(AckStatus.NAK, f"seq: stale, {seq} is {behind} behind the newest {top}")
        bit = 1 << behind
        if self.event_window & bit:
            return SeqVerdict(AckStatus.DUPLICATE)
        self.event_window |= bit
        return LATE

    def check_alarm_seq(self, seq: int, *, window: int) -> SeqVerdict:
        """Alarms are never refused for arriving out of order (they travel another lane than events, and
        QoS 1 redelivery may reorder them): only a seq seen before is a duplicate, and one older than the
        whole remembered window is a replay."""
        seqs = self.alarm_seqs
        if seqs is None:
            return ACCEPT
        if seq in seqs:
            return SeqVerdict(AckStatus.DUPLICATE, incident_id=seqs[seq])
        if len(seqs) >= window and seq < min(seqs):
            return SeqVerdict(AckStatus.NAK, f"seq: replayed, {seq} is older than the last {window} alarms")
        return ACCEPT

    def remember_alarm(self, seq: int, incident_id: str, *, window: int) -> None:
        if self.alarm_seqs is None:
            self.alarm_seqs = {}
        self.alarm_seqs[seq] = incident_id
        while len(self.alarm_seqs) > window:
            del self.alarm_seqs[min(self.alarm_seqs)]


@dataclass(slots=True)
class Responder:
    """A guard room, police station, maintenance queue or the command center: what it holds now."""

    id: str
    level: Level
    precinct_id: str
    queue: dict[str, IncidentRecord] = field(default_factory=dict)

    def hold(self, record: IncidentRecord) -> None:
        if record.state.is_terminal:
            self.queue.pop(record.id, None)
        else:
            self.queue[record.id] = record

    def update(self, record: IncidentRecord) -> None:
        if record.id in self.queue:
            self.hold(record)
