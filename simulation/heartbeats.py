"""Heartbeats of a simulated city's fixed devices: when each one is due, and the message it sends.

The engine supervises every door, camera, panic box and kiosk it has heard from, and takes one offline after
``interval × misses`` of silence (:func:`engine.hosting.supervision.offline_after_s`). A healthy simulated device
therefore keeps to the interval the engine expects of it — its own in the city file, else its kind's in the
policies, else the engine's — and never to more than a third of the time it may be silent, so one lost heartbeat
(QoS 0) plus some delay on the way never takes it offline, whatever ``misses`` is.

Thousands of devices beat evenly: each device's phase within its period comes from a stable hash of its id, so the
first round is spread over one period and there is never a burst of all at once. A device can be silenced (a power
cut, a cut cable) and heard again; a silenced one sends nothing. Pure: time comes in.
"""

from __future__ import annotations

import heapq
import threading
import zlib
from collections.abc import Iterable

from engine.entities import SUPERVISED_KINDS
from engine.hosting.supervision import heartbeat_interval_s, offline_after_s
from engine.policy import PolicySet
from engine.topology import City, Device
from protocols import EventKind
from protocols.device import make_message
from simulation.mqtt_fleet import Outgoing

SILENCE_SHARE = 3
"""A healthy device beats at least this many times in the time it may be silent (``interval × misses``)."""


def heartbeat_period_s(device: Device, policies: PolicySet, *, interval_s: float, misses: int) -> float:
    """How often a healthy simulated ``device`` heartbeats, given the engine's default ``interval_s`` and ``misses``."""
    return min(heartbeat_interval_s(device, policies, interval_s=interval_s),
               offline_after_s(device, policies, interval_s=interval_s, misses=misses) / SILENCE_SHARE)


def supervised_devices(city: City) -> list[Device]:
    """The devices the engine supervises once they speak: every one the demo may make speak must heartbeat."""
    return [d for d in city.devices.values() if d.kind in SUPERVISED_KINDS]


def _phase(device_id: str) -> float:
    return (zlib.crc32(device_id.encode()) % 10_000) / 10_000


class HeartbeatSchedule:
    """When each device is due to heartbeat, with its own run of seqs. Thread-safe: the fleet's loop takes what is
    due while the driver silences devices."""

    def __init__(self, periods: dict[str, float], *, now_s: float, first_seqs: dict[str, int] | None = None) -> None:
        first_seqs = first_seqs or {}
        self._periods = dict(periods)
        self._seq = {device_id: first_seqs.get(device_id, 1) for device_id in periods}
        self._heap = [(now_s + period * _phase(device_id), device_id) for device_id, period in periods.items()]
        heapq.heapify(self._heap)
        self._silent: set[str] = set()
        self._lock = threading.Lock()
        self.sent = 0

    @classmethod
    def for_city(cls, city: City, policies: PolicySet, *, interval_s: float, misses: int, now_s: float,
                 first_seqs: dict[str, int] | None = None) -> "HeartbeatSchedule":
        periods = {d.id: heartbeat_period_s(d, policies, interval_s=interval_s, misses=misses)
                   for d in supervised_devices(city)}
        return cls(periods, now_s=now_s, first_seqs=first_seqs)

    def __len__(self) -> int:
        return len(self._periods)

    def period_s(self, device_id: str) -> float:
        return self._periods[device_id]

    def silence(self, device_ids: Iterable[str]) -> None:
        """These devices stop heartbeating (until :meth:`hear`)."""
        with self._lock:
            self._silent.update(device_ids)

    def hear(self, device_ids: Iterable[str]) -> None:
        """Silenced devices beat again, from their next due time."""
        with self._lock:
            self._silent.difference_update(device_ids)

    def is_silent(self, device_id: str) -> bool:
        return device_id in self._silent

    def due(self, now_s: float, *, wall_ms: int) -> list[Outgoing]:
        """The heartbeats due at ``now_s`` (stamped ``wall_ms``); each device is then due one period later. A schedule
        that fell behind (a paused process) sends one heartbeat per device, not the ones it missed."""
        out: list[Outgoing] = []
        with self._lock:
            heap = self._heap
            while heap and heap[0][0] <= now_s:
                due_s, device_id = heapq.heappop(heap)
                period = self._periods[device_id]
                next_s = due_s + period
                heapq.heappush(heap, (next_s if next_s > now_s else now_s + period, device_id))
                if device_id in self._silent:
                    continue
                seq = self._seq[device_id]
                self._seq[device_id] = seq + 1
                out.append(Outgoing(device_id, make_message(EventKind.HEARTBEAT, seq=seq, ts=wall_ms)))
        self.sent += len(out)
        return out
