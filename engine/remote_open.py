"""A remote door open from the console (``protocols/console_community.OpenDoor``): who may open which door, and
the reason the audit keeps. Checked by the console gateway before the door's host is asked (which audits the open
with the operator, role, scope and reason, and sends the door ``open_door`` {by, reason}).

A door may be opened by the guard room of its site, a grid worker of its site's grid, the station of its precinct,
or the command center: the operators who see the door's site (``Jurisdiction.sees_site``).

An operator opens at most :data:`OPENS_PER_WINDOW` doors in any :data:`OPEN_WINDOW_S` (:class:`OpenPace`): a stolen
session or a stuck script cannot hold a community's doors open or write an audit row and a door command a millisecond.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Final

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


OPENS_PER_WINDOW: Final = 20
OPEN_WINDOW_S: Final = 60.0


class OpenPace:
    """The remote opens one operator has made lately: a sliding window of times per operator (at most
    ``per_window`` each; operators are the city's logins, so bounded), in memory only."""

    def __init__(self, per_window: int = OPENS_PER_WINDOW, *, window_s: float = OPEN_WINDOW_S) -> None:
        self.per_window = per_window
        self.window_s = window_s
        self._recent: dict[str, deque[float]] = {}

    def refusal(self, operator: str, now_s: float) -> tuple[OpenDoorRefusal, str] | None:
        """``TooMany`` when the operator has used up its window (nothing is counted yet), else None."""
        recent = self._recent.get(operator)
        if recent is None or len(recent) < self.per_window or now_s - recent[0] >= self.window_s:
            return None
        wait_s = max(1, round(recent[0] + self.window_s - now_s))
        return OpenDoorRefusal.TOO_MANY, (f"door: at most {self.per_window} remote opens in {self.window_s:.0f} s "
                                          f"by one operator; try again in {wait_s} s")

    def taken(self, operator: str, now_s: float) -> None:
        """One remote open asked of a door's host."""
        self._recent.setdefault(operator, deque(maxlen=self.per_window)).append(now_s)
