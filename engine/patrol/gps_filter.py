"""Which GPS fixes of one track are kept: a verdict per fix, and a counted reason for every fix discarded.

Modelled on Traccar's ``filter.*`` family. The checks run in this order, and a fix is discarded by the first
that fails (so each discarded fix is counted once, under one reason):

    invalid     latitude outside ±90°, longitude outside ±180°, or a coordinate or time that is not finite
    zero        exactly (0, 0): a phone that has no fix yet often sends it
    future      more than ``max_future_s`` ahead of the host's ``now_s``
    duplicate   the same timestamp as the last kept fix (the same fix sent again, whatever its position)
    old         older than the last kept fix (out of order), or from before the patrol began
    inaccurate  reported accuracy worse than ``max_accuracy_m`` (an accuracy of 0 means "not reported": kept)
    too_fast    the speed implied from the last kept fix is over ``max_speed_mps`` for the unit's kind

Re-anchoring: a speed check against a wrong last fix would refuse every true fix after it forever (the first fix
of a patrol can be a jump). So when ``reanchor_after`` fixes in a row are too fast from the last kept fix but
agree with each other (each within the speed limit of the one before), the last of them is kept as the new anchor
(the ones before it stay counted as ``too_fast``) and its verdict says ``reanchored``: the track draws it but
counts no distance to it, and the clock counts no time.

The filter's whole state is a ``FilterState`` (a msgspec Struct), so a host can journal and restore it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

import msgspec

from engine.patrol.geo import haversine_m

if TYPE_CHECKING:
    from protocols.device_schema import PositionData

__all__ = [
    "MAX_SPEED_MPS_BY_KIND", "DiscardReason", "FilterConfig", "FilterState", "Fix", "GpsFilter", "Verdict",
]

MAX_SPEED_MPS_BY_KIND: Final = MappingProxyType({"foot": 15.0, "bicycle": 25.0, "car": 60.0})
"""The highest believable speed per unit kind, m/s (15 m/s on foot is a sprinter plus GPS noise)."""


class DiscardReason(StrEnum):
    """Why a fix was discarded; the values are the counters' names."""

    INVALID = "invalid"
    ZERO = "zero"
    FUTURE = "future"
    DUPLICATE = "duplicate"
    OLD = "old"
    INACCURATE = "inaccurate"
    TOO_FAST = "too_fast"


class Fix(msgspec.Struct, frozen=True, array_like=True):
    """One position report: degrees, the phone's epoch seconds, accuracy in meters (0 = not reported)."""

    lat: float
    lon: float
    ts_s: float
    accuracy_m: float = 0.0

    @classmethod
    def from_position(cls, data: PositionData, *, ts_ms: int) -> Fix:
        """A fix from a ``patrol.position`` message: its ``data`` and its envelope's ``ts`` (epoch ms)."""
        return cls(data.lat, data.lon, ts_ms / 1000.0, data.accuracy_m)


@dataclass(frozen=True, slots=True, kw_only=True)
class FilterConfig:
    """The filter's thresholds; the defaults are those of a volunteer on foot."""

    max_accuracy_m: float = 50.0
    """A fix whose reported accuracy radius is larger than this is ``inaccurate``."""
    max_speed_mps: float = MAX_SPEED_MPS_BY_KIND["foot"]
    """A fix implying a faster move from the last kept fix is ``too_fast``."""
    max_future_s: float = 60.0
    """A fix stamped more than this ahead of the host's clock is ``future``; also the slack allowed before the
    patrol's start (a phone's clock a little behind the host's) before a fix counts as ``old``."""
    reanchor_after: int = 3
    """Consecutive, mutually consistent ``too_fast`` fixes that move the anchor to them; 0 never re-anchors."""

    @classmethod
    def for_kind(cls, kind: str, **overrides: float | int) -> FilterConfig:
        """The configuration for a unit kind of ``MAX_SPEED_MPS_BY_KIND`` ("foot", "bicycle", "car")."""
        return cls(**{"max_speed_mps": MAX_SPEED_MPS_BY_KIND[kind], **overrides})


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the filter decided about one fix."""

    kept: bool
    reason: DiscardReason | None = None
    reanchored: bool = False
    """Kept as a new anchor after a run of ``too_fast`` fixes: no distance is counted from the previous fix."""


KEPT: Final = Verdict(True)
REANCHORED: Final = Verdict(True, reanchored=True)
_DISCARDED: Final = MappingProxyType({reason: Verdict(False, reason) for reason in DiscardReason})


class FilterState(msgspec.Struct):
    """The filter's memory for one track: all a host journals to restore it."""

    not_before_s: float = -math.inf
    """Fixes older than this (the patrol's start less the clock slack) are ``old``."""
    last: Fix | None = None
    """The last kept fix, the reference for duplicates, order and speed."""
    candidate: Fix | None = None
    """The last ``too_fast`` fix of a run that may become the new anchor."""
    candidate_run: int = 0
    kept: int = 0
    discarded: dict[str, int] = msgspec.field(default_factory=dict)
    """Discarded fixes per ``DiscardReason`` value; a host sums these (e.g. ``Counter.update``) for figures."""


class GpsFilter:
    """The filter of one track: ``check`` each fix in arrival order; the state is ``self.state``."""

    __slots__ = ("config", "state")

    def __init__(self, config: FilterConfig = FilterConfig(), state: FilterState | None = None, *,
                 not_before_s: float = -math.inf) -> None:
        self.config = config
        self.state = state if state is not None else FilterState(not_before_s=not_before_s - config.max_future_s)

    @property
    def last(self) -> Fix | None:
        return self.state.last

    def check(self, fix: Fix, *, now_s: float) -> Verdict:
        """Keep or discard ``fix`` (which arrived at the host's ``now_s``), counting the outcome."""
        reason = self._reason(fix, now_s)
        state = self.state
        if reason is None:
            state.last, state.candidate, state.candidate_run = fix, None, 0
            state.kept += 1
            return KEPT
        if reason is DiscardReason.TOO_FAST and self._reanchors(fix):
            state.last, state.candidate, state.candidate_run = fix, None, 0
            state.kept += 1
            return REANCHORED
        state.discarded[reason.value] = state.discarded.get(reason.value, 0) + 1
        return _DISCARDED[reason]

    def _reason(self, fix: Fix, now_s: float) -> DiscardReason | None:
        lat, lon, ts_s = fix.lat, fix.lon, fix.ts_s
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0 and math.isfinite(ts_s)):
            return DiscardReason.INVALID  # NaN fails every comparison, so it lands here too
        if lat == 0.0 and lon == 0.0:
            return DiscardReason.ZERO
        config = self.config
        if ts_s > now_s + config.max_future_s:
            return DiscardReason.FUTURE
        last = self.state.last
        if last is not None and ts_s == last.ts_s:
            return DiscardReason.DUPLICATE
        if ts_s < self.state.not_before_s or (last is not None and ts_s < last.ts_s):
            return DiscardReason.OLD
        if not fix.accuracy_m <= config.max_accuracy_m:  # "not <=" so a NaN accuracy is refused too
            return DiscardReason.INACCURATE
        if last is not None and _speed_mps(last, fix) > config.max_speed_mps:
            return DiscardReason.TOO_FAST
        return None

    def _reanchors(self, fix: Fix) -> bool:
        """Record a ``too_fast`` fix in the run of candidates; true when the run is long enough to re-anchor."""
        state = self.state
        if self.config.reanchor_after <= 0:
            return False
        candidate = state.candidate
        if candidate is not None and _speed_mps(candidate, fix) <= self.config.max_speed_mps:
            state.candidate_run += 1
        else:
            state.candidate_run = 1
        state.candidate = fix
        return state.candidate_run >= self.config.reanchor_after


def _speed_mps(a: Fix, b: Fix) -> float:
    dt_s = b.ts_s - a.ts_s
    distance_m = haversine_m(a.lat, a.lon, b.lat, b.lon)
    return distance_m / dt_s if dt_s > 0 else math.inf
