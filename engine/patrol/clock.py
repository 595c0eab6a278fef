"""The valid duration of one patrol: how much of it counts, from start through its kept fixes to stop.

The rules, as implemented (times are seconds; "fix time" is the phone's stamp, already checked by the GPS filter
to be in order and not ahead of the host; "host time" is the ``now_s`` the host passes in):

- Valid time is measured between consecutive kept fixes, by fix time: the stretch from one fix to the next counts
  when the volunteer is moving or on a beat. Nothing before the first fix or after the last one counts (there is
  no evidence of where the volunteer was), and neither does a gap between two fixes longer than
  ``suspend_after_s``. Fixes that arrive late but in order (a phone that buffered them while offline) still count.
- Stationary, Traccar-like: a stretch of fixes all within ``stationary_radius_m`` of its first fix (the anchor).
  The first ``pause_after_s`` (10 min) of a stationary stretch COUNT — a volunteer on a beat stands at a corner,
  talks to a resident — and the rest does not: the clock is *paused* at anchor + 10 min, and *resumes* at the
  first fix outside the radius (which starts a new stretch). The anchor survives a suspension: switching the
  phone off for a while does not buy a fresh 10 minutes at the same spot.
- Silence: when the host has received no fix for ``suspend_after_s`` (5 min, by host time: a phone whose clock
  is off does not suspend itself) the patrol is *suspended*; the next kept fix resumes it. ``tick`` detects it;
  ``fix`` ticks first, so a host that ticks rarely still sees the suspension (and the resumption) in order.
- ``stop`` ends the patrol; an ended clock takes no more fixes.

Valid time never exceeds the span of the fixes, so never the patrol's wall time. ``valid_hours`` is pro-rata (a
float): the points rule "10 points per valid patrol hour" reads it.

The clock's whole state is a ``ClockState`` (a msgspec Struct), so a host can journal and restore it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import msgspec

from engine.errors import RedbandError
from engine.patrol.geo import flat_m
from engine.patrol.gps_filter import Fix

__all__ = ["ClockConfig", "ClockEvent", "ClockState", "EventKind", "PatrolClock", "PatrolEnded", "PatrolStatus"]


class PatrolStatus(StrEnum):
    ACTIVE = "active"
    """Started, and moving or within the first 10 minutes of a stop."""
    PAUSED = "paused"
    """Stationary for more than ``pause_after_s``: the clock does not run."""
    SUSPENDED = "suspended"
    """No fix for ``suspend_after_s``: the clock does not run until a fix comes."""
    ENDED = "ended"


class EventKind(StrEnum):
    PAUSED = "paused"
    RESUMED = "resumed"
    SUSPENDED = "suspended"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class ClockEvent:
    """A change the host may show or journal: what happened, when, and the status it left the patrol in.

    ``at_s`` is fix time for ``paused`` and for ``resumed`` after a pause (anchor + 10 min; the first fix that
    moved), host time for ``suspended`` (the last fix's arrival + 5 min), for ``resumed`` after a suspension
    (the fix's arrival) and for ``ended``.
    """

    kind: EventKind
    at_s: float
    status: PatrolStatus


class PatrolEnded(RedbandError):
    """A fix or a stop for a patrol that has already ended."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockConfig:
    stationary_radius_m: float = 30.0
    """Fixes within this of a stretch's first fix are the same stop."""
    pause_after_s: float = 600.0
    """A stop longer than this pauses the clock; the first ``pause_after_s`` of it count."""
    suspend_after_s: float = 300.0
    """No fix received for this long suspends the patrol; a longer gap between two fixes counts nothing."""


class ClockState(msgspec.Struct):
    """A patrol clock's memory: all a host journals to restore it."""

    started_s: float
    ended_s: float | None = None
    valid_s: float = 0.0
    paused: bool = False
    suspended: bool = False
    anchor: Fix | None = None
    """The first fix of the current stationary stretch."""
    last: Fix | None = None
    """The last kept fix."""
    last_seen_s: float | None = None
    """Host time the last kept fix arrived."""


class PatrolClock:
    """The valid-time clock of one patrol; ``fix``, ``tick`` and ``stop`` return the events they caused."""

    __slots__ = ("config", "state")

    def __init__(self, state: ClockState, config: ClockConfig = ClockConfig()) -> None:
        self.config = config
        self.state = state

    @classmethod
    def start(cls, *, started_s: float, config: ClockConfig = ClockConfig()) -> PatrolClock:
        return cls(ClockState(started_s=started_s), config)

    @property
    def valid_s(self) -> float:
        return self.state.valid_s

    @property
    def valid_hours(self) -> float:
        """Valid time in hours, pro-rata (90 valid minutes are 1.5)."""
        return self.state.valid_s / 3600.0

    @property
    def status(self) -> PatrolStatus:
        state = self.state
        if state.ended_s is not None:
            return PatrolStatus.ENDED
        if state.suspended:
            return PatrolStatus.SUSPENDED
        return PatrolStatus.PAUSED if state.paused else PatrolStatus.ACTIVE

    def tick(self, *, now_s: float) -> list[ClockEvent]:
        """Suspend the patrol if no fix has arrived for ``suspend_after_s`` by ``now_s`` (host time)."""
        state = self.state
        if state.ended_s is not None or state.suspended:
            return []
        since_s = state.last_seen_s if state.last_seen_s is not None else state.started_s
        if now_s - since_s <= self.config.suspend_after_s:
            return []
        state.suspended = True
        return [ClockEvent(EventKind.SUSPENDED, since_s + self.config.suspend_after_s, PatrolStatus.SUSPENDED)]

    def fix(self, fix: Fix, *, now_s: float, jump: bool = False) -> list[ClockEvent]:
        """Account for a kept fix (in fix-time order, as the GPS filter keeps them) that arrived at ``now_s``.

        ``jump``: the filter re-anchored on this fix (the way to it was too fast for the unit): the stretch from
        the previous fix counts nothing, and the fix starts a new stretch.
        """
        state = self.state
        if state.ended_s is not None:
            raise PatrolEnded(f"patrol ended at {state.ended_s}: no more fixes")
        events = self.tick(now_s=now_s)
        state.last_seen_s = now_s
        if state.suspended:
            state.suspended = False
            status = PatrolStatus.PAUSED if state.paused else PatrolStatus.ACTIVE
            events.append(ClockEvent(EventKind.RESUMED, now_s, status))
        previous, anchor = state.last, state.anchor
        state.last = fix
        if previous is None or anchor is None:
            state.anchor = fix
            return events
        gap_s = max(0.0, fix.ts_s - previous.ts_s)
        counts = gap_s <= self.config.suspend_after_s and not jump
        if not jump and flat_m(anchor.lat, anchor.lon, fix.lat, fix.lon) <= self.config.stationary_radius_m:
            pause_at_s = anchor.ts_s + self.config.pause_after_s
            if counts:
                state.valid_s += max(0.0, min(fix.ts_s, pause_at_s) - previous.ts_s)
            if fix.ts_s > pause_at_s and not state.paused:
                state.paused = True
                events.append(ClockEvent(EventKind.PAUSED, pause_at_s, PatrolStatus.PAUSED))
            return events
        if counts:
            state.valid_s += gap_s
        state.anchor = fix
        if state.paused:
            state.paused = False
            events.append(ClockEvent(EventKind.RESUMED, fix.ts_s, PatrolStatus.ACTIVE))
        return events

    def stop(self, *, now_s: float) -> list[ClockEvent]:
        """End the patrol at ``now_s`` (host time); valid time stays what the fixes earned, at most the wall time
        from start to stop (which only a phone clock ahead of the host's could otherwise exceed)."""
        state = self.state
        if state.ended_s is not None:
            raise PatrolEnded(f"patrol already ended at {state.ended_s}")
        state.ended_s = now_s
        state.valid_s = min(state.valid_s, max(0.0, now_s - state.started_s))
        state.paused = state.suspended = False
        return [ClockEvent(EventKind.ENDED, now_s, PatrolStatus.ENDED)]
