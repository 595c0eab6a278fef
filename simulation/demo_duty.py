"""Units on duty in the demo (issue 14): every police car and foot officer of the city and a few volunteers of each
precinct go on duty (``patrol.start``) when the demo starts and report a position every ``every_s`` (well inside the
300 s after which the engine stops choosing a unit), each a few metres from its last, so the console's units layer
shows them and a P1 alarm has units to offer its task to. The units answer their offers through the fleet
(:meth:`simulation.mqtt_fleet.Fleet.answer_offers`, by :data:`DEMO_OFFERS` and :data:`DEMO_TASK`: quick, so an
offer is seen accepted, en route, on scene and done within a minute).

Same interface as :class:`simulation.heartbeats.HeartbeatSchedule` (``due``), so the fleet publishes it from its loop.
Thread-safe; pure (time comes in).
"""

from __future__ import annotations

import heapq
import math
import random
import threading
import zlib
from collections.abc import Iterable

from engine.topology import City, Device
from protocols import DeviceKind, EventKind
from protocols.device import make_message
from simulation.mqtt_fleet import Outgoing
from simulation.patrol_phones import PhoneConfig
from simulation.patrol_plan import OfferPolicy

POLICE = (DeviceKind.POLICE_CAR_TERMINAL, DeviceKind.OFFICER_RADIO)
VOLUNTEERS_PER_PRECINCT = 5
POSITION_EVERY_S = 30.0
START_SPREAD_S = 3.0
"""The units go on duty over this long (spread by a hash of their ids), not all in one burst."""
STEP_M = 15.0
"""How far a unit on duty moves between two positions, at most."""
M_PER_DEG = 111_195.0
DEMO_OFFERS = OfferPolicy(seed=14, accept_p=0.85, decline_p=0.15, delay_s=(2.0, 5.0))
DEMO_TASK = PhoneConfig(check_in_after_s=5.0, travel_s=(8.0, 15.0), on_scene_s=(8.0, 15.0))


def on_duty(city: City, *, volunteers_per_precinct: int = VOLUNTEERS_PER_PRECINCT,
            near: tuple[float, float] | None = None) -> list[Device]:
    """Every police unit of ``city``; of each precinct's volunteer phones, the first ``volunteers_per_precinct`` by
    id; and (``near``) the volunteer phone nearest that point, so an alarm there has a volunteer close by."""
    devices = sorted(city.devices.values(), key=lambda d: d.id)
    units = [d for d in devices if d.kind in POLICE]
    per_precinct: dict[str, int] = {}
    phones = [d for d in devices if d.kind == DeviceKind.VOLUNTEER_PHONE]
    for phone in phones:
        if per_precinct.get(phone.precinct_id, 0) < volunteers_per_precinct:
            per_precinct[phone.precinct_id] = per_precinct.get(phone.precinct_id, 0) + 1
            units.append(phone)
    if near is not None and phones:
        nearest = min(phones, key=lambda d: (d.lat - near[0]) ** 2 + ((d.lon - near[1]) * math.cos(
            math.radians(near[0]))) ** 2)
        if nearest not in units:
            units.append(nearest)
    return units


class DutySchedule:
    """``units`` on duty from ``now_s``: each sends ``patrol.start`` and a position at once, then a position every
    ``every_s`` (phases spread over the period). Seqs from ``first_seq`` (the wall clock in ms, say: above what an
    earlier demo's engine remembers of the same unit)."""

    def __init__(self, units: Iterable[Device], *, now_s: float, first_seq: int, every_s: float = POSITION_EVERY_S,
                 seed: int = 14) -> None:
        self.units = {d.id: d for d in units}
        self.every_s = every_s
        self._at = {d.id: (d.lat, d.lon) for d in self.units.values()}
        self._seq = dict.fromkeys(self.units, first_seq)
        self._started: set[str] = set()
        self._placed: set[str] = set()
        self._heap = [(now_s + START_SPREAD_S * (zlib.crc32(i.encode()) % 1000) / 1000, i) for i in self.units]
        heapq.heapify(self._heap)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.sent = 0

    def __len__(self) -> int:
        return len(self.units)

    def due(self, now_s: float, *, wall_ms: int) -> list[Outgoing]:
        out: list[Outgoing] = []
        with self._lock:
            while self._heap and self._heap[0][0] <= now_s:
                _, unit = heapq.heappop(self._heap)
                heapq.heappush(self._heap, (now_s + self.every_s, unit))
                if unit not in self._started:
                    self._started.add(unit)
                    out.append(Outgoing(unit, make_message(EventKind.PATROL_START, seq=self._next(unit), ts=wall_ms)))
                lat, lon = self._step(unit)
                out.append(Outgoing(unit, make_message(EventKind.PATROL_POSITION, seq=self._next(unit), ts=wall_ms,
                                                       data={"lat": lat, "lon": lon, "accuracy_m": 8.0})))
        self.sent += len(out)
        return out

    def _next(self, unit: str) -> int:
        seq = self._seq[unit]
        self._seq[unit] = seq + 1
        return seq

    def _step(self, unit: str) -> tuple[float, float]:
        lat, lon = self._at[unit]
        if unit in self._placed:  # the first fix is where the unit is; later ones wander a little
            angle, metres = self._rng.uniform(0, 2 * math.pi), self._rng.uniform(STEP_M / 3, STEP_M)
            lat += metres * math.cos(angle) / M_PER_DEG
            lon += metres * math.sin(angle) / (M_PER_DEG * math.cos(math.radians(lat)))
        self._placed.add(unit)
        self._at[unit] = (round(lat, 6), round(lon, 6))
        return self._at[unit]
