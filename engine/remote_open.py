"""A remote door open from the console (``protocols/console_community.OpenDoor``): who may open which door, and
the reason the audit keeps. Checked by the console gateway before the door's host is asked (which audits the open
with the operator, role, scope and reason, and sends the door ``open_door`` {by, reason}).

A door may be opened by the guard room of its site, a grid worker of its site's grid, the station of its precinct,
or the command center: the operators who see the door's site (``Jurisdiction.sees_site``).
"""

from __future__ import annotations

import re

from engine.city_model import City
from engine.operators import Jurisdiction
from protocols.device_schema import PLAIN_TEXT_PATTERN
from protocols.console_community import REASON_MAX_CHARS, OpenDoorRefusal
from protocols.kinds import DeviceKind


def remote_open_refusal(city: City, jurisdiction: Jurisdiction, door: str,
                        reason: str) -> tuple[OpenDoorRefusal, str] | None:
    """Why this operator may not open ``door`` for ``reason`` (the code and a message naming the field); None: it
    may. The reason is checked first: a request without one is refused whatever the door."""
    text = reason.strip()
    if not text:
        return OpenDoorRefusal.BAD_REASON, "reason: required (why the door is opened, for the audit)"
    if len(text) > REASON_MAX_CHARS:
        return OpenDoorRefusal.BAD_REASON, f"reason: too long ({len(text)} characters, at most {REASON_MAX_CHARS})"
    if not re.match(PLAIN_TEXT_PATTERN, text):  # sent to the door and kept in the audit: it must read as sent
        return OpenDoorRefusal.BAD_REASON, "reason: one line without a control character or a direction override"
    device = city.devices.get(door)
    if device is None:
        return OpenDoorRefusal.UNKNOWN_DEVICE, f"door: no device {door!r}"
    if device.kind is not DeviceKind.DOOR:
        return OpenDoorRefusal.NOT_A_DOOR, f"door: {door!r} is a {device.kind.value}, not a door"
    if not jurisdiction.sees_site(device.site_id, device.precinct_id):
        return OpenDoorRefusal.OUT_OF_JURISDICTION, f"door: {door!r} is not in your jurisdiction"
    return None
