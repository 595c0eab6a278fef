"""Volunteer phones that walk beats: the patrol messages they send, and the ground truth they were meant to earn.

Pure and deterministic from a seed (``random.Random``), no I/O. A ``StreetGrid`` of ~100 m blocks lies around a
point or over a precinct's bounds; a ``BeatWalker`` walks one patrol along its streets at 1.0–1.6 m/s, stands at
corners (mostly a few minutes, sometimes over 10 so the engine's clock pauses), sometimes goes silent for over
5 minutes (so the patrol is suspended), and sends a fix every ``fix_interval_s`` with Gaussian noise. Bad fixes
are *extra* messages sent half an interval after a good one — a jump of hundreds of meters (``too_fast``), an
80 m accuracy (``inaccurate``), the same fix again (``duplicate``), (0, 0) (``zero``), an hour ahead
(``future``) — so each is discarded by the GPS filter under its own reason and none costs valid time. A
``PatrolPlan`` spreads patrols of a city's volunteer phones over a period and yields every message in send
order, and an ``OfferPolicy`` answers task offers (both in ``simulation.patrol_plan``).

Ground truth (``PatrolTruth.valid_s``): the time between consecutive good fixes, except across a silence, less
what each stop lasted beyond ``pause_after_s``. The engine's clock is not exactly that, by design of its
stationary rule: it starts a stop's 10 minutes at the first fix of the stationary stretch (up to ``radius /
speed`` before the corner) and counts nothing for the fixes still within the radius after leaving, so it counts
a little less (``PatrolTruth.tolerance_s``); and when that first fix lay at the edge of the radius, noise can
move the anchor to the corner and start the 10 minutes again, so now and then it counts up to 10 minutes more.
Over many patrols the two agree within a fraction of a percent.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.city_model import Precinct
from engine.patrol.geo import EARTH_RADIUS_M
from protocols.device import DeviceMessage, make_message

__all__ = ["BAD_KINDS", "FILTER_REASON", "BeatWalker", "PatrolTruth", "Sent", "StreetGrid", "WalkConfig"]

BAD_KINDS = ("jump", "inaccurate", "duplicate", "zero", "future")
"""Injected bad fixes; the GPS filter's reasons for them: too_fast, inaccurate, duplicate, zero, future."""
FILTER_REASON = {"jump": "too_fast", "inaccurate": "inaccurate", "duplicate": "duplicate", "zero": "zero",
                 "future": "future"}
_TIPS = (("suspicious", "Someone trying car doors"), ("hazard", "Broken street light"),
         ("hazard", "Open manhole cover"), ("suspicious", "Unattended bag at the bus stop"),
         ("disorder", "Loud argument outside the shop"))


@dataclass(frozen=True, slots=True)
class StreetGrid:
    """Streets every ``block_m`` east and north of a south-west corner: ``cols`` × ``rows`` blocks."""

    lat0: float
    lon0: float
    cols: int
    rows: int
    block_m: float = 100.0

    @classmethod
    def around(cls, lat: float, lon: float, *, blocks: int = 20, block_m: float = 100.0) -> StreetGrid:
        half = blocks * block_m / 2.0
        return cls(lat - math.degrees(half / EARTH_RADIUS_M),
                   lon - math.degrees(half / (EARTH_RADIUS_M * math.cos(math.radians(lat)))), blocks, blocks, block_m)

    @classmethod
    def for_precinct(cls, precinct: Precinct, *, block_m: float = 100.0) -> StreetGrid:
        """The grid over a precinct's bounds ``(lat_min, lon_min, lat_max, lon_max)``, or 2 km around its point."""
        if precinct.bounds is None:
            return cls.around(precinct.lat, precinct.lon, block_m=block_m)
        lat_min, lon_min, lat_max, lon_max = precinct.bounds
        height_m = math.radians(lat_max - lat_min) * EARTH_RADIUS_M
        width_m = math.radians(lon_max - lon_min) * EARTH_RADIUS_M * math.cos(math.radians(lat_min))
        return cls(lat_min, lon_min, max(1, int(width_m // block_m)), max(1, int(height_m // block_m)), block_m)

    def latlon(self, x_m: float, y_m: float) -> tuple[float, float]:
        """Degrees of the point ``x_m`` east and ``y_m`` north of the grid's corner."""
        lat = self.lat0 + math.degrees(y_m / EARTH_RADIUS_M)
        return lat, self.lon0 + math.degrees(x_m / (EARTH_RADIUS_M * math.cos(math.radians(self.lat0))))

    def nearest_corner(self, lat: float, lon: float) -> tuple[int, int]:
        x = math.radians(lon - self.lon0) * EARTH_RADIUS_M * math.cos(math.radians(self.lat0))
        y = math.radians(lat - self.lat0) * EARTH_RADIUS_M
        return (min(self.cols, max(0, round(x / self.block_m))), min(self.rows, max(0, round(y / self.block_m))))

    def neighbours(self, corner: tuple[int, int]) -> list[tuple[int, int]]:
        i, j = corner
        steps = ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1))
        return [(a, b) for a, b in steps if 0 <= a <= self.cols and 0 <= b <= self.rows]


@dataclass(frozen=True, slots=True, kw_only=True)
class WalkConfig:
    """How volunteers walk and how their phones misbehave; rates of bad fixes are per good fix."""

    fix_interval_s: float = 10.0
    speed_mps: tuple[float, float] = (1.0, 1.6)
    noise_m: float = 3.0
    accuracy_m: tuple[float, float] = (4.0, 15.0)
    short_stop_p: float = 0.15
    short_stop_s: tuple[float, float] = (30.0, 420.0)
    long_stop_p: float = 0.02
    long_stop_s: tuple[float, float] = (660.0, 1500.0)
    silence_p: float = 0.01
    """At a corner, the chance the phone goes silent while the volunteer walks on (blocks for ``silence_s``)."""
    silence_s: tuple[float, float] = (360.0, 600.0)
    bad_p: Mapping[str, float] = field(default_factory=lambda: {
        "jump": 0.01, "inaccurate": 0.02, "duplicate": 0.005, "zero": 0.002, "future": 0.002})
    jump_m: tuple[float, float] = (300.0, 900.0)
    bad_accuracy_m: float = 80.0
    future_s: float = 3600.0
    tips_per_hour: float = 0.2
    pause_after_s: float = 600.0
    """The engine's stop length after which the clock pauses (``ClockConfig.pause_after_s``)."""
    suspend_after_s: float = 300.0
    stationary_radius_m: float = 30.0


@dataclass(frozen=True, slots=True)
class Sent:
    """One message a phone sends at ``at_s`` (simulated epoch seconds; ``message.ts`` is the phone's stamp)."""

    at_s: float
    device_id: str
    message: DeviceMessage


@dataclass(slots=True)
class PatrolTruth:
    """What a walk meant the engine to see."""

    patrol_id: str
    device_id: str
    volunteer: str
    team: str
    started_s: float
    stopped_s: float
    valid_s: float = 0.0
    good_fixes: int = 0
    bad: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BAD_KINDS, 0))
    long_stops: int = 0
    silences: int = 0
    tips: int = 0
    tip_categories: dict[str, int] = field(default_factory=dict)

    def tolerance_s(self, config: WalkConfig = WalkConfig()) -> float:
        """How far below ``valid_s`` the engine's clock may count: per long stop, the stationary radius walked at
        the slowest speed on the way in and out, and a fix interval either side (see the module's docstring)."""
        per_stop = 2.0 * config.stationary_radius_m / config.speed_mps[0] + 2.0 * config.fix_interval_s
        return self.long_stops * per_stop + 1e-6


class BeatWalker:
    """One patrol of one phone: a walk planned from ``seed``, then its messages and its truth."""

    def __init__(self, grid: StreetGrid, *, device_id: str, volunteer: str = "", team: str = "",
                 started_s: float, duration_s: float, seed: int, config: WalkConfig = WalkConfig(),
                 first_seq: int = 0, patrol_id: str = "") -> None:
        self.grid, self.config, self.rng = grid, config, random.Random(seed)
        self.device_id, self.volunteer, self.team, self.seq = device_id, volunteer, team, first_seq
        self.started_s, self.duration_s = started_s, duration_s
        self.truth = PatrolTruth(patrol_id or f"{device_id}@{int(started_s)}", device_id, volunteer, team,
                                 started_s, started_s + duration_s)

    def run(self, start: tuple[float, float] | None = None) -> list[Sent]:
        """Every message of the patrol in send order; ``self.truth`` is complete afterwards."""
        legs, excess_s = self._legs(start)
        cfg, rng, truth, out = self.config, self.rng, self.truth, []
        who = {"volunteer": self.volunteer, "team": self.team}
        out.append(self._sent(0.0, "patrol.start", who))
        leg, last_fix_t, next_tip_t = 0, None, self._next_tip(0.0)
        for k in range(1, self._ticks() + 1):
            t = k * cfg.fix_interval_s
            while legs[leg][1] < t:
                leg += 1
            t0, t1, (x0, y0), (x1, y1), silent = legs[leg]
            share = (t - t0) / (t1 - t0) if t1 > t0 else 0.0
            x, y = x0 + (x1 - x0) * share, y0 + (y1 - y0) * share
            if not silent:
                if last_fix_t is not None and t - last_fix_t <= cfg.suspend_after_s:
                    truth.valid_s += t - last_fix_t
                elif last_fix_t is not None:
                    truth.silences += 1
                last_fix_t = t
                lat, lon = self.grid.latlon(x + rng.gauss(0, cfg.noise_m), y + rng.gauss(0, cfg.noise_m))
                fix = {"lat": lat, "lon": lon, "accuracy_m": round(rng.uniform(*cfg.accuracy_m), 1)}
                out.append(self._sent(t, "patrol.position", fix))
                truth.good_fixes += 1
                if t >= next_tip_t:
                    self._tip(out, t + cfg.fix_interval_s / 4, x, y)
                    next_tip_t = self._next_tip(t)
                self._maybe_bad(out, t, x, y, fix)
        truth.valid_s = max(0.0, truth.valid_s - excess_s)
        out.append(self._sent(self.duration_s, "patrol.stop", who))
        return out

    def _legs(self, start: tuple[float, float] | None) -> tuple[list, float]:
        """Walking and standing legs ``(t0, t1, from_xy, to_xy, silent)`` over the patrol, and the stop time
        beyond ``pause_after_s`` the clock should not count."""
        cfg, rng, grid = self.config, self.rng, self.grid
        corner = (grid.nearest_corner(*start) if start else
                  (rng.randint(0, grid.cols), rng.randint(0, grid.rows)))
        legs, t, previous, silent_left, excess_s, after_silence = [], 0.0, None, 0.0, 0.0, False
        first_s, last_s = cfg.fix_interval_s, self._ticks() * cfg.fix_interval_s
        while t < self.duration_s + cfg.fix_interval_s:
            here = (corner[0] * grid.block_m, corner[1] * grid.block_m)
            if silent_left <= 0 and after_silence:
                after_silence = False  # no stop where the phone wakes: the clock would anchor after the stop began
            elif silent_left <= 0:
                roll = rng.random()
                stop_s = (rng.uniform(*cfg.long_stop_s) if roll < cfg.long_stop_p else
                          rng.uniform(*cfg.short_stop_s) if roll < cfg.long_stop_p + cfg.short_stop_p else 0.0)
                if stop_s:
                    legs.append((t, t + stop_s, here, here, False))
                    if stop_s > cfg.pause_after_s:
                        self.truth.long_stops += 1
                        # only the part before the last fix counts, and the clock counts 10 minutes of it
                        seen_s = min(t + stop_s, last_s) - max(t, first_s)
                        excess_s += max(0.0, seen_s - cfg.pause_after_s)
                    t += stop_s
                if rng.random() < cfg.silence_p and t > cfg.fix_interval_s:
                    silent_left, after_silence = rng.uniform(*cfg.silence_s), True
            options = [c for c in grid.neighbours(corner) if c != previous] or grid.neighbours(corner)
            ahead = (2 * corner[0] - previous[0], 2 * corner[1] - previous[1]) if previous else None
            # a silent walk goes straight on: looping back to where the phone fell silent would look like a stop
            previous, corner = corner, ahead if silent_left > 0 and ahead in options else rng.choice(options)
            walk_s = grid.block_m / rng.uniform(*cfg.speed_mps)
            there = (corner[0] * grid.block_m, corner[1] * grid.block_m)
            legs.append((t, t + walk_s, here, there, silent_left > 0))
            silent_left -= walk_s
            t += walk_s
        return legs, excess_s

    def _ticks(self) -> int:
        """Fixes are due every interval from the start; the last one an interval before the stop, so the bad
        fixes and tips that follow it are all sent before the stop."""
        return max(0, math.floor(self.duration_s / self.config.fix_interval_s + 1e-9) - 1)

    def _maybe_bad(self, out: list[Sent], t: float, x: float, y: float, fix: dict) -> None:
        cfg, rng = self.config, self.rng
        roll, at = rng.random(), t + cfg.fix_interval_s / 2
        for kind in BAD_KINDS:
            p = cfg.bad_p.get(kind, 0.0)
            if roll >= p:
                roll -= p
                continue
            self.truth.bad[kind] += 1
            data, stamp_s = fix, None
            if kind == "jump":
                angle, dist = rng.uniform(0, 2 * math.pi), rng.uniform(*cfg.jump_m)
                lat, lon = self.grid.latlon(x + dist * math.cos(angle), y + dist * math.sin(angle))
                data = {**fix, "lat": lat, "lon": lon}
            elif kind == "inaccurate":
                data = {**fix, "accuracy_m": cfg.bad_accuracy_m}
            elif kind == "duplicate":
                stamp_s = t  # the fix just sent, again
            elif kind == "zero":
                data = {"lat": 0.0, "lon": 0.0, "accuracy_m": 10.0}
            else:
                stamp_s = at + cfg.future_s
            out.append(self._sent(at, "patrol.position", data, stamp_s=stamp_s))
            return

    def _next_tip(self, t: float) -> float:
        rate = self.config.tips_per_hour / 3600.0
        return t + self.rng.expovariate(rate) if rate > 0 else math.inf

    def _tip(self, out: list[Sent], at: float, x: float, y: float) -> None:
        category, text = self.rng.choice(_TIPS)
        lat, lon = self.grid.latlon(x, y)
        self.truth.tips += 1
        self.truth.tip_categories[category] = self.truth.tip_categories.get(category, 0) + 1
        photo = f"photo://{self.truth.patrol_id}/{self.truth.tips}.jpg"
        out.append(self._sent(at, "patrol.clue", {"text": text, "lat": lat, "lon": lon, "category": category,
                                                  "photo": photo}))

    def _sent(self, offset_s: float, kind: str, data: dict, *, stamp_s: float | None = None) -> Sent:
        at_s = self.started_s + offset_s
        stamp = at_s if stamp_s is None else self.started_s + stamp_s
        self.seq += 1
        return Sent(at_s, self.device_id, make_message(kind, seq=self.seq, ts=round(stamp * 1000), data=data))
