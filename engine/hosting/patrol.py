"""Volunteer patrols on a host: one :class:`~engine.patrol.patrol.Patrol` per volunteer phone under way, the
volunteers' totals, the host's unit tracker (volunteer phones as units), and the patrol figures of its statistics.

- ``patrol.start``: a patrol begins at the host's ``now_s`` (id ``<phone>#patrol@<seq>``, ``@<boot>.<seq>`` after
  a reboot); the phone's unit becomes ``available``. A start while a patrol of the phone is under way ends that one
  first (the app lost it), so it is counted, and a phone never has two.
- ``patrol.position``: during a patrol the GPS filter decides; a kept fix moves the unit and the phone's
  ``position``, a discarded one is counted under its reason. Outside a patrol the phone's ``position`` is the one
  it reported (the unit stays off duty, so never recommended).
- ``patrol.stop``: the patrol ends; its summary is added to the volunteer's :class:`VolunteerTotals` and to the
  figures (per team too); the unit goes ``off_duty`` (unless it is on a task: its task releases it).
- Suspension: a deadline ``(PATROL_TICK, phone)`` a little after ``suspend_after_s`` (5 min) from the last kept
  fix ticks the patrol, which suspends it if no fix came since; a later kept fix resumes it.

Bounded: at most one patrol per phone of the host, one totals record per volunteer, one unit per phone.

What a restart loses (nothing here is journaled yet): the patrols under way (their tracks, clocks and filters),
the volunteers' totals, the patrol figures and the unit tracker — a restarted host starts with every volunteer
off duty, and a phone's next ``patrol.position`` without a new ``patrol.start`` only moves its ``position``.
The records to journal are ready (``Patrol.snapshot``/``restore``, ``PatrolSummary`` and ``VolunteerTotals`` are
msgspec data). A failed step does not roll this part back (the host keeps it, like the devices' last-seen
times): the device resends what was not acked, and a resent position is counted as a ``duplicate`` fix.
"""

from __future__ import annotations

from collections.abc import Callable

from typing import Final

from engine.entities import DeviceEntity
from engine.hosting.stats import PatrolFigures
from engine.patrol.clock import EventKind as ClockEventKind
from engine.patrol.clock import PatrolStatus
from engine.patrol.gps_filter import Fix
from engine.patrol.patrol import Patrol, PatrolConfig, PatrolSummary, VolunteerTotals
from engine.patrol.units import UnitTracker
from engine.scheduler import DeadlineScheduler
from engine.topology import City
from protocols.device import DeviceMessage
from protocols.kinds import DeviceKind
from protocols.patrol import UNIT_TRANSITIONS, UnitKind, UnitState

PATROL_TICK: Final = "pt"
"""Deadline key kind: ``(PATROL_TICK, phone id)``, when a patrol without fixes is due to be suspended."""
TICK_SLACK_S: Final = 1.0
"""The suspension check runs this long after ``suspend_after_s`` (the clock suspends only once it is exceeded)."""


class Patrols:
    def __init__(self, city: City, *, config: PatrolConfig = PatrolConfig()) -> None:
        self.config = config
        self.scheduler: DeadlineScheduler | None = None
        phones = [d for d in city.devices.values() if d.kind is DeviceKind.VOLUNTEER_PHONE]
        self.units = UnitTracker(capacity=max(1, len(phones)))
        """The host's dispatchable units: its volunteer phones (unit id: the phone id)."""
        for phone in phones:
            self.units.add(phone.id, kind=UnitKind.VOLUNTEER, precinct=phone.precinct_id)
        self._volunteer_of = {v.phone_id: v for v in city.volunteers.values()}
        self.under_way: dict[str, Patrol] = {}
        """Phone id → its patrol under way (one at most)."""
        self.totals: dict[str, VolunteerTotals] = {}
        """Volunteer id → the totals of their ended patrols."""
        self.teams: dict[str, tuple[int, float]] = {}
        """Team id → (patrols ended, valid seconds)."""
        self.ended = 0
        self.valid_s = 0.0
        self.distance_m = 0.0
        self.fixes_kept = 0
        self.discarded: dict[str, int] = {}
        self.suspensions = 0
        self.on_ended: Callable[[PatrolSummary, float], None] | None = None
        """Told of every patrol that ended (the host's points)."""

    def attach(self, scheduler: DeadlineScheduler) -> None:
        """Work with this scheduler (the host makes a new one after a failed step): the patrols' timers again."""
        self.scheduler = scheduler
        for phone_id, patrol in self.under_way.items():
            self._arm(phone_id, patrol)

    # -- routes --

    def start(self, entity: DeviceEntity, message: DeviceMessage, now_s: float) -> None:
        """A ``patrol.start`` event."""
        phone = entity.device
        if phone.id in self.under_way:
            self._end(phone.id, now_s)
        volunteer = self._volunteer_of.get(phone.id)
        patrol_id = f"{phone.id}#patrol@{f'{message.boot}.' if message.boot else ''}{message.seq}"
        patrol = Patrol.start(
            patrol_id=patrol_id, started_s=now_s, config=self.config,
            volunteer=volunteer.id if volunteer else (message.data.volunteer or phone.id),
            team=(volunteer.team_id if volunteer else phone.team_id) or message.data.team)
        self.under_way[phone.id] = patrol
        self._set_state(phone.id, UnitState.AVAILABLE)
        self._arm(phone.id, patrol)

    def position(self, entity: DeviceEntity, message: DeviceMessage, now_s: float) -> None:
        """A ``patrol.position`` event."""
        data = message.data
        patrol = self.under_way.get(entity.device.id)
        if patrol is None:
            entity.position = (data.lat, data.lon)
            return
        fix = Fix.from_position(data, ts_ms=message.ts)
        outcome = patrol.fix(fix, now_s=now_s)
        self.suspensions += sum(e.kind is ClockEventKind.SUSPENDED for e in outcome.events)
        if outcome.verdict.kept:
            self.fixes_kept += 1
            entity.position = (fix.lat, fix.lon)
            if entity.device.id in self.units:
                self.units.update_position(entity.device.id, fix.lat, fix.lon, min(fix.ts_s, now_s))
        else:
            reason = outcome.verdict.reason.value if outcome.verdict.reason else "unknown"
            self.discarded[reason] = self.discarded.get(reason, 0) + 1
        self._arm(entity.device.id, patrol)

    def stop(self, entity: DeviceEntity, message: DeviceMessage, now_s: float) -> None:
        """A ``patrol.stop`` event (ignored when no patrol of the phone is under way)."""
        if entity.device.id in self.under_way:
            self._end(entity.device.id, now_s)

    def deadline(self, phone_id: str, due_s: float, at_s: float) -> int:
        """The phone's patrol has had no fix for ``suspend_after_s``: suspend it. 0 if it ended or a fix came."""
        patrol = self.under_way.get(phone_id)
        if patrol is None:
            return 0
        suspended = sum(e.kind is ClockEventKind.SUSPENDED for e in patrol.tick(now_s=at_s))
        self.suspensions += suspended
        self._arm(phone_id, patrol)
        return 1 if suspended else 0

    # -- queries --

    def summary_of(self, phone_id: str) -> PatrolSummary | None:
        """The figures so far of the phone's patrol under way."""
        patrol = self.under_way.get(phone_id)
        return patrol.summary() if patrol is not None else None

    def figures(self) -> PatrolFigures:
        return PatrolFigures(
            active=len(self.under_way), ended=self.ended, valid_s=self.valid_s, distance_m=self.distance_m,
            fixes_kept=self.fixes_kept, fixes_discarded=sum(self.discarded.values()),
            discarded=dict(self.discarded), suspensions=self.suspensions, teams=dict(self.teams))

    # -- inside --

    def _end(self, phone_id: str, now_s: float) -> None:
        patrol = self.under_way.pop(phone_id)
        summary = patrol.stop(now_s=now_s)
        totals = self.totals.get(summary.volunteer)
        if totals is None:
            totals = self.totals[summary.volunteer] = VolunteerTotals(summary.volunteer)
        totals.add(summary)
        self.ended += 1
        self.valid_s += summary.valid_s
        self.distance_m += summary.distance_m
        patrols, valid_s = self.teams.get(summary.team, (0, 0.0))
        self.teams[summary.team] = (patrols + 1, valid_s + summary.valid_s)
        self._set_state(phone_id, UnitState.OFF_DUTY)
        if self.scheduler is not None:
            self.scheduler.cancel((PATROL_TICK, phone_id))
        if self.on_ended is not None:
            self.on_ended(summary, now_s)

    def _arm(self, phone_id: str, patrol: Patrol) -> None:
        """The suspension deadline of a patrol that runs (a suspended one waits for a fix, not for time)."""
        if self.scheduler is None:
            return
        key = (PATROL_TICK, phone_id)
        clock = patrol.clock.state
        if patrol.status in (PatrolStatus.SUSPENDED, PatrolStatus.ENDED):
            self.scheduler.cancel(key)
            return
        since_s = clock.last_seen_s if clock.last_seen_s is not None else clock.started_s
        self.scheduler.schedule(key, since_s + self.config.clock.suspend_after_s + TICK_SLACK_S)

    def _set_state(self, phone_id: str, state: UnitState) -> None:
        """Move the phone's unit, if it may go there (a unit on a task is released by its task)."""
        if phone_id in self.units and state in UNIT_TRANSITIONS[self.units.state_of(phone_id)]:
            self.units.set_state(phone_id, state)
