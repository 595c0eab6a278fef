"""The K nearest *available* units to a point, and why every other unit was not chosen.

The hot path is one numba pass over the tracker's arrays (``engine.patrol.units``): a unit qualifies when it is
available, its fix is at most ``max_age_s`` old, and it is of the precinct and kinds asked for. A flat-earth
(equirectangular) distance, shrunk so that it never exceeds the great-circle one, drops every qualifying unit
beyond the radius or beyond the K-th best so far; only the few left are measured by haversine and ranked. So the
answer is exactly the brute-force haversine top K, at the cost of the flat test for most units.

The explanation (``explain``) is for a console, on demand: plain numpy over the same arrays.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numba import njit

from engine.patrol.units import AVAILABLE_CODE, KIND_CODE, KINDS, NO_FIX_S, STATES, UnitTracker
from protocols.patrol import NotChosen, UnitKind, UnitState

EARTH_RADIUS_M = 6_371_008.8
DEFAULT_RADIUS_M = 5_000.0
MAX_AGE_S = 300.0
"""A position older than this is not where the unit is any more."""
ALL_KINDS = (1 << len(KINDS)) - 1
_FLAT_SHRINK = 1.0 - 1e-3
"""Flat-earth distance times this, minus a metre, stays below the haversine one for any radius a city uses."""
_SKIP_EARLY_BELOW = 32_768
"""Below this many units the kernel skips unqualified units one branch at a time (see the kernel)."""


@njit(cache=True, nogil=True)
def _haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    s_lat = math.sin((p2 - p1) * 0.5)
    s_lon = math.sin(math.radians(lon2 - lon1) * 0.5)
    h = s_lat * s_lat + math.cos(p1) * math.cos(p2) * s_lon * s_lon
    return 2.0 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, h)))


@njit(cache=True, nogil=True, inline="always")
def _insert(out_row, out_m, count, row, d):
    """Put ``row`` at distance ``d`` into the sorted top K (it belongs there); return how many it holds."""
    k = out_row.shape[0]
    j = count if count < k else k - 1
    while j > 0 and out_m[j - 1] > d:
        out_m[j] = out_m[j - 1]
        out_row[j] = out_row[j - 1]
        j -= 1
    out_m[j] = d
    out_row[j] = row
    return count + 1 if count < k else count


@njit(cache=True, nogil=True)
def _nearest_kernel(lat, lon, fix_s, kind, state, precinct, q_lat, q_lon, now_s, radius_m, max_age_s,
                    precinct_code, kind_mask, available_code, out_row, out_m):
    """Fill ``out_row``/``out_m`` (length K) nearest first; return how many were found. The state code comes in
    as an argument: numba's cache would keep a module constant of ``units`` past a change to it."""
    k, n = out_row.shape[0], lat.shape[0]
    if k == 0:
        return 0
    # the longitude scale at the band's edge farthest from the equator: the flat distance is a lower bound
    far = min(math.pi / 2, abs(math.radians(q_lat)) + radius_m / EARTH_RADIUS_M)
    m_per_deg_lat = EARTH_RADIUS_M * math.pi / 180.0
    m_per_deg_lon = m_per_deg_lat * math.cos(far)
    min_fix_s = now_s - max_age_s
    bound2 = ((radius_m + 1.0) / _FLAT_SHRINK) ** 2
    any_precinct = precinct_code < 0
    # Few units (their arrays in L2): skip an unqualified unit at once. Many: no branch until the distance
    # test, since whether a unit qualifies is a coin toss for the branch predictor (~30 % are available) while
    # the distance test is almost always "no" once K are found. Measured on this 2-core machine (kernel only):
    # 10,000 units p50 17 µs one by one, 27 µs folded; 100,000 units p50 300 µs (p99 430) one by one, 205 µs
    # (p99 310) folded.
    count = 0
    skip_early = n < _SKIP_EARLY_BELOW
    for i in range(n):
        if skip_early:
            if (state[i] != available_code or not fix_s[i] >= min_fix_s
                    or not (any_precinct or precinct[i] == precinct_code) or (kind_mask >> kind[i]) & 1 == 0):
                continue
            qualifies = True
        else:
            qualifies = ((state[i] == available_code) & (fix_s[i] >= min_fix_s)
                         & (any_precinct | (precinct[i] == precinct_code)) & (((kind_mask >> kind[i]) & 1) == 1))
        dy = (lat[i] - q_lat) * m_per_deg_lat
        d_lon = abs(lon[i] - q_lon)
        dx = min(d_lon, 360.0 - d_lon) * m_per_deg_lon
        flat2 = dx * dx + dy * dy if qualifies else np.inf
        if flat2 > bound2:
            continue
        d = _haversine_m(q_lat, q_lon, lat[i], lon[i])
        if d > radius_m or (count == k and d >= out_m[k - 1]):
            continue
        count = _insert(out_row, out_m, count, i, d)
        if count == k:
            bound2 = ((out_m[k - 1] + 1.0) / _FLAT_SHRINK) ** 2
    return count


def kind_mask(kinds: Iterable[UnitKind] | None) -> int:
    """The kernel's bit mask for a set of unit kinds (None: every kind)."""
    if kinds is None:
        return ALL_KINDS
    mask = 0
    for kind in kinds:
        mask |= 1 << KIND_CODE[UnitKind(kind)]
    return mask


def nearest(units: UnitTracker, lat: float, lon: float, *, now_s: float, k: int = 5,
            radius_m: float = DEFAULT_RADIUS_M, max_age_s: float = MAX_AGE_S, precinct: str | None = None,
            kinds: Iterable[UnitKind] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The rows (int64) and haversine distances (m, float64) of up to ``k`` nearest qualifying units, nearest
    first (ties: the lower row). Rows index ``units`` until its next add or remove."""
    if not (radius_m > 0 and math.isfinite(max_age_s) and math.isfinite(now_s) and k >= 0):
        raise ValueError(f"radius_m must be > 0, max_age_s and now_s finite, k >= 0: got {radius_m}, {max_age_s}, "
                         f"{now_s}, {k}")
    code = -1
    if precinct is not None:
        known = units.known_precinct_code(precinct)
        if known is None:  # no unit was ever in it
            return np.empty(0, np.int64), np.empty(0, np.float64)
        code = known
    out_row, out_m = np.empty(int(k), np.int64), np.empty(int(k), np.float64)
    a = units.arrays()
    found = _nearest_kernel(a.lat, a.lon, a.fix_s, a.kind, a.state, a.precinct, float(lat), float(lon),
                            float(now_s), float(radius_m), float(max_age_s), int(code), int(kind_mask(kinds)),
                            AVAILABLE_CODE, out_row, out_m)
    return out_row[:found], out_m[:found]


def warm() -> None:
    """Compile the kernel (or load it from numba's cache) now, so the first real query is not the one that pays."""
    units = UnitTracker(capacity=1)
    units.add("warm", kind=UnitKind.VOLUNTEER, precinct="warm", state=UnitState.AVAILABLE)
    units.update_position("warm", 0.0, 0.0, 0.0)
    nearest(units, 0.0, 0.0, now_s=0.0, precinct="warm")


# -- the explanation, for a console --


@dataclass(frozen=True, slots=True)
class Chosen:
    unit_id: str
    kind: UnitKind
    distance_m: float


@dataclass(frozen=True, slots=True)
class Passed:
    """A unit that was not chosen, and why (the first that applies: busy, stale position, not in the precinct,
    not of the kinds asked for, too far, others nearer). ``distance_m`` is None for a unit that never sent a
    position."""

    unit_id: str
    kind: UnitKind
    state: UnitState
    reason: NotChosen
    distance_m: float | None


@dataclass(frozen=True, slots=True)
class Recommendation:
    chosen: tuple[Chosen, ...]
    passed: tuple[Passed, ...]
    """The nearest ``limit`` units not chosen, nearest first (never-fixed units last)."""
    counts: dict[NotChosen, int]
    """How many units were passed over for each reason (all of them, not only those listed)."""

    @property
    def none_available(self) -> bool:
        return not self.chosen

    @property
    def reason(self) -> NotChosen | None:
        """``none_available`` when nobody qualified, else None."""
        return NotChosen.NONE_AVAILABLE if not self.chosen else None


def haversine_m(lat1, lon1, lat2, lon2):
    """Great-circle distance in metres, elementwise over numpy arrays (or floats)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(np.subtract(lon2, lon1)) / 2) ** 2
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(1.0, h)))


def explain(units: UnitTracker, lat: float, lon: float, *, now_s: float, k: int = 5,
            radius_m: float = DEFAULT_RADIUS_M, max_age_s: float = MAX_AGE_S, precinct: str | None = None,
            kinds: Iterable[UnitKind] | None = None, limit: int = 20) -> Recommendation:
    """The recommendation with its reasons: the chosen units (as ``nearest``) and why the others were not."""
    rows, dist = nearest(units, lat, lon, now_s=now_s, k=k, radius_m=radius_m, max_age_s=max_age_s,
                         precinct=precinct, kinds=kinds)
    a = units.arrays()
    ids = units.ids()
    chosen = tuple(Chosen(ids[r], KINDS[a.kind[r]], float(d)) for r, d in zip(rows.tolist(), dist.tolist()))
    fixed = a.fix_s != NO_FIX_S
    d_all = np.where(fixed, haversine_m(lat, lon, a.lat, a.lon), np.nan)
    reasons = list(NotChosen)
    code = np.full(len(ids), reasons.index(NotChosen.OUTRANKED), np.int8)
    precinct_code = None if precinct is None else units.known_precinct_code(precinct)
    # later assignments win: the order below is the reasons' precedence, weakest first
    code[~(d_all <= radius_m)] = reasons.index(NotChosen.TOO_FAR)
    code[((kind_mask(kinds) >> a.kind.astype(np.int64)) & 1) == 0] = reasons.index(NotChosen.NOT_OF_KIND)
    if precinct is not None:
        code[a.precinct != (-2 if precinct_code is None else precinct_code)] = reasons.index(NotChosen.NOT_IN_PRECINCT)
    code[~fixed | (a.fix_s < now_s - max_age_s)] = reasons.index(NotChosen.STALE_POSITION)
    code[a.state != AVAILABLE_CODE] = reasons.index(NotChosen.BUSY)
    passed_mask = np.ones(len(ids), bool)
    passed_mask[rows] = False
    passed_rows = np.flatnonzero(passed_mask)
    order = passed_rows[np.argsort(np.where(np.isnan(d_all[passed_rows]), np.inf, d_all[passed_rows]),
                                   kind="stable")]
    counts = {reason: int(n) for reason, n in zip(reasons, np.bincount(code[passed_rows], minlength=len(reasons)))
              if n}
    passed = tuple(
        Passed(ids[r], KINDS[a.kind[r]], STATES[a.state[r]], reasons[code[r]],
               None if math.isnan(d_all[r]) else float(d_all[r]))
        for r in order[:max(0, limit)].tolist()
    )
    return Recommendation(chosen, passed, counts)
