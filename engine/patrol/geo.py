"""Distances on the earth in meters: haversine (exact enough anywhere), flat-earth (fast, for a few km), and a
local flat projection around a reference point for geometry in meters (Douglas–Peucker, radii).

Every function takes degrees and returns meters; none allocates beyond a float or a pair.
"""

from __future__ import annotations

import math
from typing import Final

__all__ = ["EARTH_RADIUS_M", "flat_m", "haversine_m", "project_m"]

EARTH_RADIUS_M: Final = 6_371_008.8
"""The mean earth radius (IUGG), the one most GPS tooling uses for haversine."""

_RAD: Final = math.pi / 180.0


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in meters between two points given in degrees."""
    phi1, phi2 = lat1 * _RAD, lat2 * _RAD
    dphi = phi2 - phi1
    dlmb = (lon2 - lon1) * _RAD
    a = math.sin(dphi / 2.0) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2.0) ** 2
    # min(): rounding can push a hair over 1 for antipodal points, and asin would raise.
    return 2.0 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def flat_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Equirectangular ("flat-earth") distance in meters: within 0.1 % of haversine over a few km, cheaper.

    Longitude differences are taken the short way round, so two points either side of ±180° are close.
    """
    dlon = (lon2 - lon1 + 180.0) % 360.0 - 180.0
    x = dlon * _RAD * math.cos((lat1 + lat2) * 0.5 * _RAD)
    y = (lat2 - lat1) * _RAD
    return EARTH_RADIUS_M * math.hypot(x, y)


def project_m(lat: float, lon: float, *, lat0: float, lon0: float) -> tuple[float, float]:
    """``(x, y)`` in meters east and north of ``(lat0, lon0)`` on a plane tangent there (good for a few km)."""
    dlon = (lon - lon0 + 180.0) % 360.0 - 180.0
    return (EARTH_RADIUS_M * dlon * _RAD * math.cos(lat0 * _RAD), EARTH_RADIUS_M * (lat - lat0) * _RAD)
