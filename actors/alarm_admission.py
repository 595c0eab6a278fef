"""How many alarms the alarm lane takes from one device: a token bucket per device (``ALARM_BURST`` at once,
``ALARM_RATE`` a second after that). Beyond, the alarm is NAKed ``unavailable, retry`` at once, before any host sees
it: the device sends it again later.

Why: a device with its own valid credentials may publish on its own alarm topic as fast as the broker takes it.
Measured (tests' city, real Mosquitto, one bridge): 200,000 ``door.forced`` from one door in one second; every one of
them went to the hosts (journaled, about 1,400 a second here) ahead of any other device's alarm. With this bucket the
hosts get the flood's 50 and then 20 a second. (Another device's panic raised during the flood was still not acked
within 40 s, the broker's PUBACKs of the lane's own acks queued behind the unread flood: the answers now leave on a
connection of their own, ``actors/bridge_wire_lane.py``; tests/mqtt/test_alarm_flood_answers.py.)
A device's real alarms come a few at a time (a storm is many devices, one alarm each).

Bounded: one entry per device that sent an alarm (the bridge refuses unknown devices first); entries whose bucket
has refilled are dropped when there are more than ``MAX_TRACKED``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

ALARM_BURST: Final = 50
ALARM_RATE: Final = 20.0
MAX_TRACKED: Final = 100_000


class AlarmAdmission:
    def __init__(self, *, burst: int = ALARM_BURST, rate_per_s: float = ALARM_RATE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.burst, self.rate_per_s, self.clock = burst, rate_per_s, clock
        self._buckets: dict[str, tuple[float, float]] = {}  # device id -> (tokens, when)

    def admit(self, device_id: str) -> bool:
        """Whether ``device_id``'s next alarm is taken now (and counted)."""
        now = self.clock()
        tokens, at = self._buckets.get(device_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate_per_s)
        taken = tokens >= 1
        self._buckets[device_id] = (tokens - 1 if taken else tokens, now)
        if len(self._buckets) > MAX_TRACKED:
            full_after = self.burst / self.rate_per_s
            self._buckets = {d: b for d, b in self._buckets.items() if now - b[1] < full_after}
        return taken

    @property
    def refusal(self) -> str:
        return (f"more than {self.burst} alarms from this device within {self.burst / self.rate_per_s:g} s "
                f"(at most {self.rate_per_s:g} a second after that)")
