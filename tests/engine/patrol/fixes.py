"""Fixes for the patrol tests: straight walks and standing still, at a chosen pace, from a chosen time."""

from __future__ import annotations

from engine.patrol.gps_filter import Fix

LAT0, LON0 = 31.82, 117.23  # Hefei
METERS_PER_DEGREE_LAT = 111_195.0


def north(lat: float, meters: float) -> float:
    return lat + meters / METERS_PER_DEGREE_LAT


def walk(*, start_s: float, every_s: float, count: int, speed_mps: float = 1.4, lat: float = LAT0,
         lon: float = LON0, accuracy_m: float = 5.0) -> list[Fix]:
    """``count`` fixes walking due north from ``(lat, lon)``, one every ``every_s`` from ``start_s``."""
    return [Fix(north(lat, speed_mps * every_s * i), lon, start_s + every_s * i, accuracy_m) for i in range(count)]


def stand(*, start_s: float, every_s: float, count: int, lat: float = LAT0, lon: float = LON0,
          jitter_m: float = 0.0) -> list[Fix]:
    """``count`` fixes at one spot, wandering ``jitter_m`` north and back (GPS noise)."""
    return [Fix(north(lat, jitter_m * (i % 2)), lon, start_s + every_s * i, 5.0) for i in range(count)]
