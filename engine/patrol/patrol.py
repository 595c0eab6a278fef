"""One volunteer's patrol — a GPS filter, a track and a valid-time clock fed together — and a volunteer's totals.

A host keeps one ``Patrol`` per patrol under way and one ``VolunteerTotals`` per volunteer:

    patrol = Patrol.start(patrol_id="p-17", volunteer="v-42", started_s=now_s)
    outcome = patrol.fix(Fix.from_position(message.data, ts_ms=message.ts), now_s=now_s)  # per position
    events = patrol.tick(now_s=now_s)          # from the host's deadline heap, e.g. every minute: suspension
    summary = patrol.stop(now_s=now_s)         # at patrol stop
    totals.add(summary)

What to journal to rebuild after a restart (the engine is deterministic, so either way gives the same state):

- a patrol under way: ``patrol.snapshot()`` (msgpack of its ``PatrolRecord``: the filter's last fix and
  counters, the track, the clock), e.g. on start, every N kept fixes or on each clock event, and on stop;
  ``Patrol.restore(data)`` rebuilds it. Fixes after the last snapshot are lost unless the host also journals
  the position events (fix + the ``now_s`` it passed) since then and replays them in order.
- a volunteer's totals: the ``PatrolSummary`` of each stopped patrol, once (``VolunteerTotals.add`` is a fold
  over them, not idempotent: a replay must add each summary once), or ``msgspec`` snapshots of the totals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from engine.patrol.clock import ClockConfig, ClockEvent, ClockState, PatrolClock, PatrolEnded, PatrolStatus
from engine.patrol.gps_filter import FilterConfig, FilterState, Fix, GpsFilter, Verdict
from engine.patrol.track import TrackConfig, TrackState, Track

__all__ = ["FixOutcome", "Patrol", "PatrolConfig", "PatrolRecord", "PatrolSummary", "VolunteerTotals"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PatrolConfig:
    """The settings of a patrol's parts; ``FilterConfig.for_kind("bicycle")`` for a patrol that rides."""

    filter: FilterConfig = FilterConfig()
    track: TrackConfig = TrackConfig()
    clock: ClockConfig = ClockConfig()


class PatrolRecord(msgspec.Struct):
    """A patrol's whole state, plain data: what ``snapshot`` writes and ``restore`` reads."""

    patrol_id: str
    volunteer: str
    filter: FilterState
    track: TrackState
    clock: ClockState
    team: str = ""


@dataclass(frozen=True, slots=True)
class FixOutcome:
    """What one fix did: the filter's verdict and the clock events it caused (suspension noticed, resumed...)."""

    verdict: Verdict
    events: tuple[ClockEvent, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PatrolSummary:
    """A patrol's figures: for the console while it runs, for the totals and the points rule once it ended.

    Plain data: ``msgspec`` encodes and decodes it (``type=PatrolSummary``), so a host can journal it.
    """

    patrol_id: str
    volunteer: str
    team: str
    status: PatrolStatus
    started_s: float
    ended_s: float | None
    valid_s: float
    distance_m: float
    fixes_kept: int
    discarded: dict[str, int] = field(default_factory=dict)
    """Discarded fixes per ``DiscardReason`` value (a copy: the patrol's own counters go on)."""

    @property
    def valid_hours(self) -> float:
        """Valid hours, pro-rata: what "10 points per valid patrol hour" multiplies."""
        return self.valid_s / 3600.0


class Patrol:
    """One patrol under way: ``fix`` each position, ``tick`` now and then, ``stop`` once."""

    __slots__ = ("clock", "config", "filter", "record", "track")

    def __init__(self, record: PatrolRecord, *, config: PatrolConfig = PatrolConfig()) -> None:
        self.config, self.record = config, record
        self.filter = GpsFilter(config.filter, record.filter)
        self.track = Track(config.track, record.track)
        self.clock = PatrolClock(record.clock, config.clock)

    @classmethod
    def start(cls, *, patrol_id: str, volunteer: str, started_s: float, team: str = "",
              config: PatrolConfig = PatrolConfig()) -> Patrol:
        """A patrol begun at ``started_s``; fixes stamped before it (less the clock slack) are ``old``."""
        record = PatrolRecord(
            patrol_id=patrol_id, volunteer=volunteer, team=team,
            filter=GpsFilter(config.filter, not_before_s=started_s).state,
            track=Track(config.track).state,
            clock=ClockState(started_s=started_s),
        )
        return cls(record, config=config)

    @property
    def status(self) -> PatrolStatus:
        return self.clock.status

    def fix(self, fix: Fix, *, now_s: float) -> FixOutcome:
        """Filter a fix that arrived at ``now_s`` (host time); a kept one extends the track and the clock.

        Raises ``PatrolEnded`` after ``stop``: the host routes positions to a patrol under way only.
        """
        if self.clock.state.ended_s is not None:
            raise PatrolEnded(f"patrol {self.record.patrol_id} has ended: no more fixes")
        verdict = self.filter.check(fix, now_s=now_s)
        if not verdict.kept:
            return FixOutcome(verdict, tuple(self.clock.tick(now_s=now_s)))
        self.track.append(fix, jump=verdict.reanchored)
        return FixOutcome(verdict, tuple(self.clock.fix(fix, now_s=now_s, jump=verdict.reanchored)))

    def tick(self, *, now_s: float) -> list[ClockEvent]:
        """Let time pass to ``now_s``: a patrol silent for 5 minutes is suspended."""
        return self.clock.tick(now_s=now_s)

    def stop(self, *, now_s: float) -> PatrolSummary:
        """End the patrol at ``now_s``; its summary is final. Raises ``PatrolEnded`` if it had ended already."""
        self.clock.stop(now_s=now_s)
        return self.summary()

    def summary(self) -> PatrolSummary:
        record, clock = self.record, self.clock.state
        return PatrolSummary(
            patrol_id=record.patrol_id, volunteer=record.volunteer, team=record.team, status=self.status,
            started_s=clock.started_s, ended_s=clock.ended_s, valid_s=clock.valid_s,
            distance_m=self.track.distance_m, fixes_kept=record.filter.kept,
            discarded=dict(record.filter.discarded),
        )

    def polyline(self) -> list[tuple[float, float]]:
        """The simplified track for the console, ``(lat, lon)`` oldest first."""
        return self.track.polyline()

    def snapshot(self) -> bytes:
        """The patrol's whole state as msgpack, for the journal."""
        return _ENCODER.encode(self.record)

    @classmethod
    def restore(cls, data: bytes, *, config: PatrolConfig = PatrolConfig()) -> Patrol:
        """The patrol a ``snapshot`` was taken of (with the same ``config`` it ran with)."""
        return cls(_DECODER.decode(data), config=config)


class VolunteerTotals(msgspec.Struct):
    """A volunteer's figures over their ended patrols: plain data a host keeps per volunteer and can journal."""

    volunteer: str
    patrols: int = 0
    valid_s: float = 0.0
    distance_m: float = 0.0

    @property
    def valid_hours(self) -> float:
        return self.valid_s / 3600.0

    def add(self, summary: PatrolSummary) -> None:
        """Count one ended patrol of this volunteer (once: this is a sum, not a set)."""
        if summary.volunteer != self.volunteer:
            raise ValueError(f"patrol {summary.patrol_id} is {summary.volunteer}'s, not {self.volunteer}'s")
        if summary.status is not PatrolStatus.ENDED:
            raise ValueError(f"patrol {summary.patrol_id} is {summary.status}: only ended patrols are counted")
        self.patrols += 1
        self.valid_s += summary.valid_s
        self.distance_m += summary.distance_m


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(PatrolRecord)
