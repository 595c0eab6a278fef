"""Video linkage: the cameras within 200 m of an incident, nearest first, to list on it and send with a task (the
camera's id is its stream reference; live video itself is out of scope)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from engine.city_model import Device
from engine.patrol.nearest import haversine_m
from protocols.kinds import DeviceKind

NEAR_M = 200.0


class CameraIndex:
    """The cameras of a city (or a host's part of it), positions in numpy arrays: one vectorised pass per query."""

    def __init__(self, devices: Iterable[Device]) -> None:
        cameras = [d for d in devices if d.kind is DeviceKind.CAMERA]
        self.ids = [d.id for d in cameras]
        self.lat = np.array([d.lat for d in cameras], dtype=np.float64)
        self.lon = np.array([d.lon for d in cameras], dtype=np.float64)

    def near(self, lat: float, lon: float, *, within_m: float = NEAR_M, limit: int = 10) -> list[tuple[str, float]]:
        """(camera id, distance in metres) of the cameras within ``within_m``, nearest first, at most ``limit``."""
        if not self.ids:
            return []
        distances = haversine_m(lat, lon, self.lat, self.lon)
        close = np.flatnonzero(distances <= within_m)
        order = close[np.argsort(distances[close], kind="stable")][:limit]
        return [(self.ids[i], round(float(distances[i]), 1)) for i in order]
