"""One patrol's track: the kept fixes as a Douglas–Peucker-simplified polyline of bounded size, and the distance.

Incremental: fixes are appended as they come into a raw tail; every ``chunk_points`` fixes the tail is simplified
(Douglas–Peucker, ``tolerance_m`` in meters on a local flat projection) and joined to the simplified polyline. A
tail's last fix is always kept, so chunk seams cost at most one point each.

The cap, a documented policy: the polyline (simplified part and raw tail) never holds more than ``max_points``.
When the simplified part would leave no room for another tail, it is simplified again with twice the tolerance,
and again, until it fits in half the cap; the doubled tolerance then applies to every later chunk too. So a very
long patrol is drawn coarser, never longer. (Should doubling ever fail to shrink it, every Nth point is kept.)

Distance is measured on the kept fixes, not on the polyline, in steps of at least ``min_step_m``: the distance
from the last counted point grows until it passes the step, then counts whole. A straight walk counts exactly;
a phone lying on a table, whose fixes wander a few meters, does not walk kilometers. (So the distance lags the
last fix by less than one step.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import msgspec

from engine.patrol.geo import haversine_m, project_m
from engine.patrol.gps_filter import Fix

__all__ = ["Point", "Track", "TrackConfig", "TrackState", "simplify"]

Point = tuple[float, float, float]
"""``(lat, lon, ts_s)`` of a kept fix on the polyline."""

_MAX_DOUBLINGS: Final = 30  # 5 m doubled 30 times is past any distance on earth: one pass keeps only the ends


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackConfig:
    tolerance_m: float = 5.0
    """Douglas–Peucker tolerance: no dropped fix is farther than this from the polyline (before the cap)."""
    chunk_points: int = 64
    """Raw fixes held before the tail is simplified."""
    max_points: int = 2_000
    """Hard cap on the points a track holds (simplified part and raw tail together)."""
    min_step_m: float = 10.0
    """Distance accrues in steps at least this long (GPS jitter is not walking); 0 counts every move."""

    def __post_init__(self) -> None:
        if not self.tolerance_m > 0:
            raise ValueError(f"tolerance_m must be > 0, got {self.tolerance_m}")
        if self.chunk_points < 2:
            raise ValueError(f"chunk_points must be >= 2, got {self.chunk_points}")
        if self.max_points < 4 * self.chunk_points:
            raise ValueError(f"max_points must be >= 4 * chunk_points, got {self.max_points} < 4 * {self.chunk_points}")
        if self.min_step_m < 0:
            raise ValueError(f"min_step_m must be >= 0, got {self.min_step_m}")


class TrackState(msgspec.Struct):
    """A track's memory: all a host journals to restore it."""

    points: list[Point] = msgspec.field(default_factory=list)
    """The simplified polyline so far."""
    tail: list[Point] = msgspec.field(default_factory=list)
    """Kept fixes after ``points[-1]``, not yet simplified."""
    tolerance_m: float = 0.0
    """The tolerance in force (the configured one, doubled each time the cap was reached); 0 = not yet set."""
    distance_m: float = 0.0
    step_from: Point | None = None
    """The fix the next distance step is measured from."""
    fixes: int = 0
    """Fixes appended, all of them (the polyline keeps fewer)."""


class Track:
    """The track of one patrol: ``append`` each kept fix; read ``polyline()`` and ``distance_m``."""

    __slots__ = ("config", "state")

    def __init__(self, config: TrackConfig = TrackConfig(), state: TrackState | None = None) -> None:
        self.config = config
        self.state = state if state is not None else TrackState(tolerance_m=config.tolerance_m)

    @property
    def distance_m(self) -> float:
        return self.state.distance_m

    def __len__(self) -> int:
        """Points held (simplified and raw): never more than ``config.max_points``."""
        return len(self.state.points) + len(self.state.tail)

    def append(self, fix: Fix, *, jump: bool = False) -> None:
        """Add a kept fix; ``jump`` (a re-anchored fix) draws it but counts no distance to it."""
        state = self.state
        point = (fix.lat, fix.lon, fix.ts_s)
        state.fixes += 1
        if state.step_from is None or jump:
            state.step_from = point
        else:
            step_m = haversine_m(state.step_from[0], state.step_from[1], fix.lat, fix.lon)
            if step_m >= self.config.min_step_m:
                state.distance_m += step_m
                state.step_from = point
        state.tail.append(point)
        if len(state.tail) >= self.config.chunk_points:
            self._commit_tail()

    def polyline(self) -> list[tuple[float, float]]:
        """The track for the console: ``(lat, lon)`` pairs, oldest first."""
        return [(lat, lon) for lat, lon, _ in (*self.state.points, *self.state.tail)]

    def points(self) -> list[Point]:
        """The track with the time of each point: ``(lat, lon, ts_s)``, oldest first."""
        return [*self.state.points, *self.state.tail]

    def _commit_tail(self) -> None:
        state = self.state
        tolerance_m = state.tolerance_m or self.config.tolerance_m
        if state.points:
            state.points.extend(simplify([state.points[-1], *state.tail], tolerance_m)[1:])
        else:
            state.points = simplify(state.tail, tolerance_m)
        state.tail = []
        if len(state.points) > self.config.max_points - self.config.chunk_points:
            self._compact()

    def _compact(self) -> None:
        state, target = self.state, self.config.max_points // 2
        tolerance_m = state.tolerance_m or self.config.tolerance_m
        points = state.points
        for _ in range(_MAX_DOUBLINGS):
            if len(points) <= target:
                break
            tolerance_m *= 2.0
            points = simplify(points, tolerance_m)
        if len(points) > target:  # never met in practice; the cap holds regardless
            every = math.ceil(len(points) / (target - 1))
            points = [*points[:-1:every], points[-1]]
        state.points, state.tolerance_m = points, tolerance_m


def simplify(points: list[Point], tolerance_m: float) -> list[Point]:
    """Douglas–Peucker: the fewest of ``points`` (first and last always) with none dropped farther than
    ``tolerance_m`` from the result, measured to segments (not lines, so an out-and-back keeps its far end)."""
    n = len(points)
    if n < 3:
        return list(points)
    lat0, lon0 = points[0][0], points[0][1]
    xy = [project_m(lat, lon, lat0=lat0, lon0=lon0) for lat, lon, _ in points]
    keep = [False] * n
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:  # a stack, not recursion: a long straight chunk would otherwise go n frames deep
        first, last = stack.pop()
        if last - first < 2:
            continue
        farthest, farthest_m = first, -1.0
        ax, ay = xy[first]
        bx, by = xy[last]
        for k in range(first + 1, last):
            d_m = _segment_distance_m(xy[k], ax, ay, bx, by)
            if d_m > farthest_m:
                farthest, farthest_m = k, d_m
        if farthest_m > tolerance_m:
            keep[farthest] = True
            stack.append((first, farthest))
            stack.append((farthest, last))
    return [point for point, kept in zip(points, keep) if kept]


def _segment_distance_m(p: tuple[float, float], ax: float, ay: float, bx: float, by: float) -> float:
    px, py = p
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    if length2 == 0.0:
        return math.hypot(px - ax, py - ay)
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return math.hypot(px - ax - t * dx, py - ay - t * dy)
