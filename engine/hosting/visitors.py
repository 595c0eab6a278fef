"""Visitor calls: a visitor at a community door rings the verified residents of the unit it names (or the door's
own unit), as a ``visitor_call`` command to each resident's phone."""

from __future__ import annotations

from collections.abc import Callable

from engine.entities import DeviceEntity
from engine.incident import DeviceCommand
from engine.topology import City
from protocols.device import DeviceMessage


class VisitorCalls:
    def __init__(self, city: City, *, send: Callable[[DeviceCommand, float], None]) -> None:
        self._send = send
        self._phones_of_unit: dict[tuple[str, str], list[str]] = {}  # (site, unit) → verified residents' phones
        for resident in city.residents.values():
            if resident.verified:
                self._phones_of_unit.setdefault((resident.site_id, resident.unit), []).append(resident.phone_id)

    def phones(self, site_id: str, unit: str) -> list[str]:
        return list(self._phones_of_unit.get((site_id, unit), ()))

    def call(self, entity: DeviceEntity, message: DeviceMessage, now_s: float) -> None:
        """A ``door.visitor`` event: ring the unit's verified residents."""
        device = entity.device
        unit = message.data.unit or device.unit
        for phone in self._phones_of_unit.get((device.site_id or "", unit), ()):
            self._send(DeviceCommand(phone, "visitor_call", {
                "door": device.id, "unit": unit, "snapshot": message.data.snapshot, "seq": message.seq,
            }), now_s)
