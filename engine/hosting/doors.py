"""Doors of communities: a door reported open starts its held-open timer (the policy's delay); closed, the timer
stops; a timer that runs out raises ``door.held_open``."""

from __future__ import annotations

from typing import Final

from engine.entities import DeviceEntity
from engine.hosting.incidents import IncidentStore
from engine.hosting.roster import Roster
from engine.policy import PolicySet
from engine.scheduler import DeadlineScheduler
from protocols.device import DeviceMessage
from protocols.kinds import IncidentKind

HELD_OPEN: Final = "h"
"""Deadline key kind: ``(HELD_OPEN, door id)``, when an open door is held open too long."""


class Doors:
    def __init__(self, *, policies: PolicySet, scheduler: DeadlineScheduler, roster: Roster,
                 store: IncidentStore) -> None:
        self.policies = policies
        self.scheduler = scheduler
        self.roster = roster
        self.store = store

    def opened(self, entity: DeviceEntity, message: DeviceMessage, now_s: float) -> None:
        """A ``door.opened`` event (``data.open``: open or closed)."""
        key = (HELD_OPEN, entity.device.id)
        if not message.data.open:
            entity.door_open_since_s = None
            self.scheduler.cancel(key)
            return
        if entity.door_open_since_s is None:
            entity.door_open_since_s = now_s
            after_s = self.policies.for_incident(IncidentKind.DOOR_HELD_OPEN, entity.device.kind).trigger_after_s
            if after_s is not None:
                self.scheduler.schedule(key, now_s + after_s)

    def deadline(self, device_id: str, due_s: float, at_s: float) -> int:
        """The door's held-open timer ran out: raise (or repeat) ``door.held_open``. 0 if it was closed since."""
        entity = self.roster.devices.get(device_id)
        if entity is None or entity.door_open_since_s is None:
            return 0
        open_s = at_s - entity.door_open_since_s
        self.store.raise_or_repeat(entity.device, IncidentKind.DOOR_HELD_OPEN, at_s, note=f"open for {open_s:.0f} s",
                                   incident_id=f"{device_id}#held@{int(at_s * 1000)}")
        return 1
