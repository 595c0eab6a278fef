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
                                EventKind.DOOR_OPENED, EventKind.DOOR_CODE, EventKind.NOTICE_SHOWN,
                                EventKind.HEARTBEAT}),
    DeviceKind.CAMERA: frozenset({EventKind.CAMERA_THROW, EventKind.CAMERA_INTRUSION, EventKind.HEARTBEAT}),
    DeviceKind.PANIC_BOX: frozenset({EventKind.SCHOOL_PANIC, EventKind.SCHOOL_DURESS, EventKind.HEARTBEAT}),
    DeviceKind.KIOSK: frozenset({EventKind.KIOSK_SESSION, EventKind.KIOSK_FAULT, EventKind.KIOSK_SOS,
                                 EventKind.KIOSK_SUPPLIES, EventKind.KIOSK_CODE, EventKind.HEARTBEAT}),
    DeviceKind.VOLUNTEER_PHONE: frozenset({EventKind.PATROL_START, EventKind.PATROL_POSITION, EventKind.PATROL_STOP,
                                           EventKind.PATROL_CLUE, EventKind.PATROL_SOS, EventKind.PATROL_TASK,
                                           EventKind.POINTS_REDEEM, EventKind.POINTS_QUERY, EventKind.KIOSK_BOOK,
                                           EventKind.HEARTBEAT}),
    DeviceKind.RESIDENT_PHONE: frozenset({EventKind.VISITOR_ANSWER, EventKind.VISITOR_PASS, EventKind.KIOSK_BOOK,
                                           EventKind.HEARTBEAT}),
    **dict.fromkeys((DeviceKind.POLICE_CAR_TERMINAL, DeviceKind.OFFICER_RADIO), frozenset(
        {EventKind.PATROL_START, EventKind.PATROL_POSITION, EventKind.PATROL_STOP, EventKind.PATROL_SOS,
         EventKind.PATROL_TASK, EventKind.HEARTBEAT})),
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
    rearmed: bool = False
    """Accepted as the first message of a new run of seqs: the device rebooted (a new ``boot``, or its seq jumped
    back further than any reordering explains)."""


ACCEPT = SeqVerdict(AckStatus.ACK)
LATE = SeqVerdict(AckStatus.ACK, late=True)
REARMED = SeqVerdict(AckStatus.ACK, rearmed=True)
EVENT_WINDOW = 64
"""How far behind the newest event seq a late event is still taken as late (several bridges share the load, so
one device's events may reach its host out of order). Further back is a restart of the device's seqs."""
_WINDOW_MASK = (1 << EVENT_WINDOW) - 1
ALARM_MEMORY = 256
"""How many recent alarms of one device are remembered to tell a re-sent alarm from a new one: more than a device
sends while a broker is down and it retries (10 alarms/s for a 5 s outage is 50)."""


class DeviceEntity:
    """One device's own state. ~200 bytes until it raises alarms.

    Sequence rules (the device contract, ``docs/devices.md``):

    - events: a sliding window over the newest 64 seqs of the current boot; a seq seen before is a duplicate,
      a new one behind the newest is late (counted; a late state never overwrites a newer one); a higher ``boot``,
      or a jump back of 64 or more, is a restart of the device's seqs and re-arms the window. The previous boot's
      window is kept: an event of that boot still arriving (a QoS 1 redelivery) is judged against it, and is late
      at best — it never overrides the new boot's state;
    - alarms are never refused for their seq: one is a duplicate only when ``boot``, ``seq`` *and* the digest of
      the whole message match one of the last :data:`ALARM_MEMORY` alarms; anything else is a new alarm.
    """

    __slots__ = ("device", "boot", "last_event_seq", "event_window", "previous", "alarm_memory", "last_seen_s",
                 "offline", "door_open_since_s", "offline_incident", "position", "speaks_json")

    def __init__(self, device: Device) -> None:
        self.device = device
        self.boot = 0  # the boot id of the device's newest event (0: it sends none)
        self.last_event_seq = -1
        self.event_window = 0  # bit i: event seq (last_event_seq - i) was seen
        self.previous: tuple[int, int, int] | None = None  # the previous boot's (boot, newest seq, window)
        self.alarm_memory: dict[tuple[int, int], tuple[int, str]] | None = None
        """(boot, seq) → (digest, incident id) of recent alarms, oldest first."""
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

    def check_event_seq(self, seq: int, boot: int = 0) -> SeqVerdict:
        """A sliding window over the newest 64 event seqs: a seq seen before is a duplicate, one that is new but
        older than the newest is late (still counted). A higher boot, or a seq 64 or more behind the newest (a device
        that restarted without telling its boot), starts the window again at this seq. ``boot`` 0: not told."""
        if boot and boot != self.boot:
            if boot < self.boot:
                return self._older_boot(seq, boot)
            if self.last_event_seq >= 0:
                self.previous = (self.boot, self.last_event_seq, self.event_window)
            return self._rearm(seq, boot)
        top = self.last_event_seq
        if top - seq >= EVENT_WINDOW:
            self.previous = None  # a restart without a boot id: the seqs before it cannot be told apart any more
            return self._rearm(seq, self.boot)
        verdict, self.last_event_seq, self.event_window = _window_step(seq, top, self.event_window)
        return verdict

    def _rearm(self, seq: int, boot: int) -> SeqVerdict:
        was_running = self.last_event_seq >= 0
        self.boot, self.last_event_seq, self.event_window = boot, seq, 1
        return REARMED if was_running else ACCEPT

    def _older_boot(self, seq: int, boot: int) -> SeqVerdict:
        """An event of an earlier boot, arriving after the new one began: a duplicate if its boot's window saw it,
        otherwise taken as late (counted; it never overrides what the newer boot said)."""
        previous = self.previous
        if previous is None or previous[0] != boot or previous[1] - seq >= EVENT_WINDOW:
            return LATE
        verdict, top, window = _window_step(seq, previous[1], previous[2])
        self.previous = (boot, top, window)
        return verdict if verdict.status is AckStatus.DUPLICATE else LATE

    def check_alarm(self, seq: int, *, boot: int = 0, digest: int) -> SeqVerdict:
        """Alarms are never refused for their seq or for arriving out of order (they travel another lane than
        events, a device retries them, QoS 1 redelivery reorders them): an alarm is a duplicate only when its
        boot, seq and digest match a remembered one."""
        memory = self.alarm_memory
        if memory is None:
            return ACCEPT
        known = memory.get((boot, seq))
        if known is not None and known[0] == digest:
            return SeqVerdict(AckStatus.DUPLICATE, incident_id=known[1])
        return ACCEPT

    def remember_alarm(self, seq: int, incident_id: str, *, boot: int = 0, digest: int,
                       memory_size: int = ALARM_MEMORY) -> None:
        if self.alarm_memory is None:
            self.alarm_memory = {}
        memory = self.alarm_memory
        memory.pop((boot, seq), None)  # a reused seq moves to the newest end
        memory[(boot, seq)] = (digest, incident_id)
        while len(memory) > memory_size:
            del memory[next(iter(memory))]


def _window_step(seq: int, top: int, window: int) -> tuple[SeqVerdict, int, int]:
    """One seq through a 64-seq window (newest ``top``, bitmap ``window``): the verdict and the window after it."""
    if seq > top:
        shift = seq - top
        return ACCEPT, seq, ((window << shift) | 1) & _WINDOW_MASK if shift < EVENT_WINDOW else 1
    bit = 1 << (top - seq)
    if window & bit:
        return SeqVerdict(AckStatus.DUPLICATE), top, window
    return LATE, top, window | bit


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
