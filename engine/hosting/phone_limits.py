"""How often one device may raise a tip, start a patrol or ask the points desk: a sliding window of host time per
device and kind.

A phone is an outsider's device: unchecked, one could raise a tip incident a millisecond (each a station's review
item, journaled), or journal a refused redemption (a new request id for an unknown item), or an empty patrol's
points entry (start, stop, start...), or a refused ``visitor.answer`` (an audit row each, on the alarm lane), with
every message, for ever; a door panel could ring its unit's phones a millisecond. At most :data:`LIMITS` ``[kind]`` messages of a kind are taken from one device in any ``WINDOW_S``; the next
is refused with a NAK that names the kind and the limit, and counted (``HostStats.rate_limited``). Nothing of it is
remembered (a tip refused here is no duplicate later), so the phone may send it again once the window has room.

Only accepted messages count: a duplicate, a late event or a refusal for another reason takes no room.
Bounded: one deque of at most ``LIMITS[kind]`` times per (device, kind) that sent such a message; kept in memory
only (a restarted host, or one back from a refused step, starts with empty windows).
"""

from __future__ import annotations

from collections import deque
from typing import Final

from engine.entities import SeqVerdict
from protocols import EventKind
from protocols.kinds import AckStatus

WINDOW_S: Final = 60.0
LIMITS: Final[dict[EventKind, int]] = {
    EventKind.PATROL_CLUE: 6,  # a volunteer's tips: the simulator's phones send 0.2 an hour
    EventKind.PATROL_START: 6,  # each start ends the patrol under way, which journals its end and its points row
    EventKind.POINTS_REDEEM: 10,
    EventKind.POINTS_QUERY: 10,
    EventKind.DOOR_CODE: 10,  # a panel's typed codes: guessing a visitor pass's 6 digits takes months, not minutes
    EventKind.KIOSK_CODE: 10,  # a kiosk's typed booking codes (8 digits), as a panel's
    EventKind.KIOSK_BOOK: 10,  # a phone's bookings (each journaled)
    EventKind.VISITOR_PASS: 10,  # each pass is journaled; a resident keeps at most 10 anyway
    EventKind.VISITOR_ANSWER: 10,  # a phone answers the calls that ring it; each refused answer is an audit row
    EventKind.DOOR_VISITOR: 10,  # a panel's rings: each call is journaled and rings the unit's phones
}


class PhoneLimits:
    def __init__(self, limits: dict[EventKind, int] = LIMITS, *, window_s: float = WINDOW_S) -> None:
        self.limits = limits
        self.window_s = window_s
        self._recent: dict[tuple[str, EventKind], deque[float]] = {}

    def refusal(self, device_id: str, kind: EventKind, now_s: float) -> SeqVerdict | None:
        """The NAK when the device has used up its window for ``kind``, else None (nothing is counted yet)."""
        limit = self.limits.get(kind)
        if limit is None:
            return None
        recent = self._recent.get((device_id, kind))
        if recent is None or len(recent) < limit or now_s - recent[0] >= self.window_s:
            return None
        wait_s = max(1, round(recent[0] + self.window_s - now_s))
        return SeqVerdict(AckStatus.NAK, f"kind: too many {kind.value} from this device: at most {limit} in "
                                         f"{self.window_s:.0f} s; send it again in {wait_s} s")

    def taken(self, device_id: str, kind: EventKind, now_s: float) -> None:
        """One accepted message of ``kind`` from the device."""
        limit = self.limits.get(kind)
        if limit is None:
            return
        recent = self._recent.get((device_id, kind))
        if recent is None:
            recent = self._recent[(device_id, kind)] = deque(maxlen=limit)
        recent.append(now_s)


WRONG_CODES_PER_HOUR: Final = 20
LOCKOUT_WINDOW_S: Final = 3_600.0


class WrongCodes:
    """The codes a door panel or a kiosk had refused lately, for a lockout: once ``per_window`` were refused within
    ``window_s``, the device takes no code, right or wrong, until the oldest of them is ``window_s`` old. A site keeps
    up to 1,000 six-digit passes and a hall thousands of eight-digit bookings, so the per-device rate above alone
    (10 a minute, 14,400 a day) let one device hit a live code within hours. Bounded: at most ``per_window`` times
    per device that typed a wrong code; in memory only."""

    def __init__(self, per_window: int = WRONG_CODES_PER_HOUR, *, window_s: float = LOCKOUT_WINDOW_S) -> None:
        self.per_window = per_window
        self.window_s = window_s
        self._recent: dict[str, deque[float]] = {}

    def locked_for_s(self, device_id: str, now_s: float) -> int | None:
        """Seconds the device stays locked out (None: it is not)."""
        recent = self._recent.get(device_id)
        if recent is None or len(recent) < self.per_window or now_s - recent[0] >= self.window_s:
            return None
        return max(1, round(recent[0] + self.window_s - now_s))

    def refused(self, device_id: str, now_s: float) -> bool:
        """One more code refused at the device; True when this one locks it out (audit it then, once)."""
        recent = self._recent.setdefault(device_id, deque(maxlen=self.per_window))
        recent.append(now_s)
        return self.locked_for_s(device_id, now_s) is not None

    def refusal(self, device_id: str, now_s: float, where: str) -> str | None:
        """The NAK's reason while locked out, naming ``data.code``; None when not."""
        left_s = self.locked_for_s(device_id, now_s)
        if left_s is None:
            return None
        return (f"data.code: {self.per_window} wrong codes at this {where} in the last hour: no code taken here for "
                f"{left_s} s")
