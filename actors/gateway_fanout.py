"""The gateway's fan-out: its view of the incidents (open ones, and closed ones for a while), the ``seq`` of every
change, and one bounded send queue per console. Each change is encoded once and each jurisdiction's frame
assembled once per tick; a console that cannot keep up is closed (1013) and resyncs from a snapshot."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from engine.operators import Claims, Jurisdiction
from protocols.console import IncidentChanged, IncidentView, Snapshot, encode, incident_view
from protocols.kinds import Level
from protocols.records import IncidentRecord

SEND_QUEUE = 2000
CLOSED_KEPT_S = 600.0
FORGET_EVERY_S = 1.0
"""How often the closed incidents past ``CLOSED_KEPT_S`` are looked for (not at every tick of a storm: 5,000 incidents
and more, looked over every 10 ms)."""
MAX_CHANGES_FRAME = 256 * 1024
"""A changes frame's size at most (bytes): a tick's changes past it go in more frames, in seq order (a storm's tick
carried a thousand incidents in one frame)."""


@dataclass(eq=False)
class ConsoleSession:
    connection: ServerConnection
    claims: Claims
    jurisdiction: Jurisdiction
    responder: str = ""
    """The entity this console answers for (a guard room, a station, the command center)."""
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(maxsize=SEND_QUEUE))
    dropped: bool = False


class Fanout:
    def __init__(self, clock: Callable[[], float],
                 may_end: Callable[[IncidentRecord], tuple[Level, ...]] = lambda record: ()) -> None:
        self.clock = clock
        self.may_end = may_end
        self.seq = 0
        self.incidents: dict[str, IncidentRecord] = {}
        self.consoles: set[ConsoleSession] = set()
        self.sent = 0  # incident deliveries queued (one change to one console)
        self.frames = 0
        self.closed_slow = 0  # consoles closed for not keeping up
        self.sending = asyncio.Event()  # cleared: nothing goes out (a hung server, for tests)
        self.sending.set()
        self._outgoing: list[tuple[IncidentRecord, bytes]] = []
        self._forget_at = 0.0

    def view(self, record: IncidentRecord) -> IncidentView:
        return incident_view(record, self.may_end(record))

    def push(self, console: ConsoleSession, payload: bytes) -> None:
        try:
            console.queue.put_nowait(payload)
        except asyncio.QueueFull:  # too slow: it will reconnect and resync from a snapshot
            if not console.dropped:
                console.dropped = True
                self.closed_slow += 1
                asyncio.get_running_loop().create_task(console.connection.close(1013, "too slow, resync"))

    async def writer(self, console: ConsoleSession) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                payload = await console.queue.get()
                await self.sending.wait()
                await console.connection.send(payload, text=True)

    def apply(self, record: IncidentRecord) -> None:
        known = self.incidents.get(record.id)
        if known is not None and known.version >= record.version:
            return  # already sent (a command's own answer overtook the change stream, or a copy)
        self.incidents[record.id] = record
        self.seq += 1
        self._outgoing.append((record, encode(IncidentChanged(self.seq, self.view(record)))))

    def send_changes(self) -> None:
        """One frame per console for this tick's changes: each change encoded once, each jurisdiction's frame
        assembled once, then queued for every console of that jurisdiction."""
        outgoing, self._outgoing = self._outgoing, []
        if not outgoing:
            return
        by_jurisdiction: dict[Jurisdiction, list[ConsoleSession]] = {}
        for console in self.consoles:
            by_jurisdiction.setdefault(console.jurisdiction, []).append(console)
        for jurisdiction, consoles in by_jurisdiction.items():
            parts = [payload for record, payload in outgoing if jurisdiction.sees(record)]
            if not parts:
                continue
            for frame in changes_frames(parts):
                for console in consoles:
                    self.push(console, frame)
                self.frames += len(consoles)
            self.sent += len(parts) * len(consoles)

    def forget_old(self) -> None:
        now = self.clock()
        if now < self._forget_at:
            return
        self._forget_at = now + FORGET_EVERY_S
        horizon = now - CLOSED_KEPT_S
        for incident_id in [i for i, r in self.incidents.items()
                            if r.state.is_terminal and (r.timeline[-1].t_s if r.timeline else 0) < horizon]:
            del self.incidents[incident_id]

    def snapshot(self, jurisdiction: Jurisdiction) -> Snapshot:
        seen = [self.view(r) for r in self.incidents.values() if jurisdiction.sees(r)]
        return Snapshot(self.seq, self.clock(), seen)


def changes_frames(parts: list[bytes], max_bytes: int = MAX_CHANGES_FRAME) -> list[bytes]:
    """``parts`` (encoded ``IncidentChanged`` items, in seq order) in changes frames of ``max_bytes`` at most (an
    item larger than that alone in its frame)."""
    frames: list[bytes] = []
    chunk: list[bytes] = []
    size = 0
    for part in parts:
        if chunk and size + len(part) + 1 > max_bytes:
            frames.append(b'{"type":"changes","items":[' + b",".join(chunk) + b"]}")
            chunk, size = [], 0
        chunk.append(part)
        size += len(part) + 1
    if chunk:
        frames.append(b'{"type":"changes","items":[' + b",".join(chunk) + b"]}")
    return frames

