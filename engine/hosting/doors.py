"""Doors of communities: a door reported open starts its held-open timer (the policy's ``trigger_after_s``, 120 s as
shipped); closed, the timer stops; a timer that runs out raises ``door.held_open`` (the policy's chain: the guard
room, then the precinct's station, then the command center).

Debounce: a door whose state flaps (a contact bouncing, a door swinging in the wind) and opens again within
``debounce_s`` of closing is taken as never closed: its timer runs on from the first open, so a door held open with
a bouncing contact is still raised. (A ``door.forced`` repeated while its incident is open joins it as a repeat: the
incident store's rule.)"""

from __future__ import annotations

from typing import Final

from engine.entities import DeviceEntity
from engine.hosting.incidents import IncidentStore
from engine.policy import PolicySet
from engine.scheduler import DeadlineScheduler
from protocols.device import DeviceMessage
from protocols.kinds import IncidentKind

HELD_OPEN: Final = "h"
"""Deadline key kind: ``(HELD_OPEN, door id)``, when an open door is held open too long."""
DEBOUNCE_S: Final = 5.0


class Doors:
    def __init__(self, *, policies: PolicySet, scheduler: DeadlineScheduler, store: IncidentStore,
                 debounce_s: float = DEBOUNCE_S) -> None:
        self.policies = policies
        self.scheduler = scheduler
        self.store = store
        self.debounce_s = debounce_s
        self._doors: dict[str, DeviceEntity] = {}
        """Doors reported open since the assembly (their entities hold when)."""
        self._closed: dict[str, tuple[float, float]] = {}
        """Door → (open since, closed at) of its last close, for the debounce."""

    def opened(self, entity: DeviceEntity, message: DeviceMessage, now_s: float) -> None:
        """A ``door.opened`` event (``data.open``: open or closed)."""
        door_id = entity.device.id
        key = (HELD_OPEN, door_id)
        if not message.data.open:
            if entity.door_open_since_s is not None:
                self._closed[door_id] = (entity.door_open_since_s, now_s)
            entity.door_open_since_s = None
            self.scheduler.cancel(key)
            return
        if entity.door_open_since_s is None:
            since_s, closed_s = self._closed.pop(door_id, (now_s, None))
            if closed_s is None or now_s - closed_s > self.debounce_s:
                since_s = now_s
            entity.door_open_since_s = since_s
            self._doors[door_id] = entity
            after_s = self.policies.for_incident(IncidentKind.DOOR_HELD_OPEN, entity.device.kind).trigger_after_s
            if after_s is not None:
                self.scheduler.schedule(key, max(now_s, since_s + after_s))

    def open_since(self, site_id: str) -> dict[str, float]:
        """The site's doors reported open since the assembly, and since when (the console's community view)."""
        return {d: e.door_open_since_s for d, e in self._doors.items()
                if e.door_open_since_s is not None and e.device.site_id == site_id}

    def deadline(self, device_id: str, due_s: float, at_s: float) -> int:
        """The door's held-open timer ran out: raise (or repeat) ``door.held_open``. 0 if it was closed since."""
        entity = self._doors.get(device_id)
        if entity is None or entity.door_open_since_s is None:
            return 0
        open_s = at_s - entity.door_open_since_s
        self.store.raise_or_repeat(entity.device, IncidentKind.DOOR_HELD_OPEN, at_s, note=f"open for {open_s:.0f} s",
                                   incident_id=f"{device_id}#held@{int(at_s * 1000)}")
        return 1
