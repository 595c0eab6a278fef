"""Patrols on a host: one :class:`~engine.patrol.patrol.Patrol` per volunteer phone under way, the volunteers' totals,
the host's unit tracker (volunteer phones, police car terminals and foot officers' radios as units), the police
units' shifts, and the patrol figures of its statistics.

- ``patrol.start``: a patrol begins at the host's ``now_s`` (id ``<phone>#patrol@<seq>``, ``@<boot>.<seq>`` after
  a reboot) for the volunteer who owns the phone (a phone no volunteer owns patrols under its device id and
  earns no points: the ``volunteer`` and ``team`` a phone sends are never taken); its unit becomes ``available``.
  A start while a patrol of the device is under way ends that one first (the app lost it), so it is counted, and a
  device never has two; the same start again (its id) is ignored.
- ``patrol.position``: during a patrol the GPS filter decides (15 m/s on foot, a car's limit for a police car); a
  kept fix moves the unit and the device's ``position``, a discarded one is counted under its reason. Outside a
  patrol the device's ``position`` is the one it reported (the unit stays off duty, so never recommended).
- ``patrol.stop``: the patrol ends; its summary is added to the volunteer's :class:`VolunteerTotals` and to the
  figures (per team too); the unit goes ``off_duty`` — or, when offered a task or on one, once the task releases it.
- Suspension: a deadline ``(PATROL_TICK, phone)`` a little after ``suspend_after_s`` (5 min) from the last kept
  fix ticks the patrol, which suspends it if no fix came since; a later kept fix resumes it.
- Police: a police car's terminal or a foot officer's radio goes on duty with ``patrol.start`` and off with
  ``patrol.stop`` and reports ``patrol.position`` like a phone; it is tracked, recommended and offered tasks like a
  volunteer, but its shift earns no points and counts in no patrol figure, total or team (``on_duty``).

Bounded: at most one patrol per device of the host, one totals record per volunteer, one unit per device.

Journaled (``engine/hosting/patrol_rows.py``): a patrol's snapshot at its start, at its first kept fix, at each clock
event and at most every ``SNAPSHOT_EVERY_S`` (60 s) of host time while fixes come; its end (the totals, the figures,
the points of the step); every unit state change. A restarted host — and a host after a step the journal refused,
which goes back to the journal like a restarted one — has the patrols and shifts under way, the totals, figures and
unit states as written: at most the last 60 s of each patrol's track, valid time, distance and fix counts are lost
(those fixes were acked, not journaled), and a patrol silent for 5 minutes meanwhile is suspended at the first tick.
Not kept: a device's position outside a patrol. A ``patrol.stop`` is credited once: the patrol's row goes with its
end and its points, in one step, and the same ``patrol.start`` re-sent does not begin it again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from engine.entities import DeviceEntity
from engine.hosting import patrol_rows as rows
from engine.hosting.staging import JournalStaging
from engine.hosting.stats import PatrolFigures
from engine.patrol.clock import EventKind as ClockEventKind
from engine.patrol.clock import PatrolStatus
from engine.patrol.gps_filter import FilterConfig, Fix
from engine.patrol.patrol import Patrol, PatrolConfig, PatrolSummary, VolunteerTotals
from engine.patrol.units import UnitTracker
from engine.scheduler import DeadlineScheduler
from engine.topology import City
from protocols.device import DeviceMessage
from protocols.patrol import UNIT_KIND_OF, UNIT_TRANSITIONS, UnitKind, UnitState

PATROL_TICK: Final = "pt"
"""Deadline key kind: ``(PATROL_TICK, phone id)``, when a patrol without fixes is due to be suspended."""
TICK_SLACK_S: Final = 1.0
"""The suspension check runs this long after ``suspend_after_s`` (the clock suspends only once it is exceeded)."""
CAR_CONFIG: Final = PatrolConfig(filter=FilterConfig.for_kind("car"))
"""A police car's GPS filter: a car's speed limit instead of 15 m/s on foot."""
SNAPSHOT_EVERY_S: Final = rows.SNAPSHOT_EVERY_S


class Patrols:
    def __init__(self, city: City, *, config: PatrolConfig = PatrolConfig(),
                 staging: JournalStaging | None = None) -> None:
        self.config = config
        self.staging = staging if staging is not None else JournalStaging()
        self.scheduler: DeadlineScheduler | None = None
        self._devices = [d for d in city.devices.values() if d.kind in UNIT_KIND_OF]
        self._kind_of = {d.id: UNIT_KIND_OF[d.kind] for d in self._devices}
        self._volunteer_of = {v.phone_id: v for v in city.volunteers.values()}
        self.on_ended: Callable[[PatrolSummary, float], None] | None = None
        """Told of every volunteer patrol that ended (the host's points)."""
        self._clear()

    def _clear(self) -> None:
        self.units = UnitTracker(capacity=max(1, len(self._devices)))
        """The host's dispatchable units: its volunteer phones and police devices (unit id: the device id)."""
        for device in self._devices:
            self.units.add(device.id, kind=self._kind_of[device.id], precinct=device.precinct_id)
        self.under_way: dict[str, Patrol] = {}
        """Phone id → its volunteer patrol under way (one at most)."""
        self.on_duty: dict[str, Patrol] = {}
        """Police device id → its shift under way (a patrol whose figures count nowhere)."""
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
        self._saved_s: dict[str, float] = {}

    def attach(self, scheduler: DeadlineScheduler) -> None:
        """Work with this scheduler (the host makes a new one after a failed step): the patrols' timers again."""
        self.scheduler = scheduler
        for phone_id, patrol in self.under_way.items():
            self._arm(phone_id, patrol)

    def load(self, snapshots: dict[str, bytes]) -> None:
        """Everything as the journal's snapshots have it (a start, or a rebuild after a refused step)."""
        self._clear()
        kept = rows.read(snapshots)
        for totals in kept.totals:
            self.totals[totals.volunteer] = totals
        if (f := kept.figures) is not None:
            self.ended, self.valid_s, self.distance_m, self.fixes_kept = f.ended, f.valid_s, f.distance_m, f.fixes_kept
            self.discarded, self.suspensions, self.teams = dict(f.discarded), f.suspensions, dict(f.teams)
        if (c := kept.fixes) is not None:
            self.fixes_kept, self.discarded, self.suspensions = c.kept, dict(c.discarded), c.suspensions
        for unit_id, row in kept.units.items():
            if unit_id in self.units:
                self.units.restore(unit_id, row.state, leaving=row.leaving)
        for row in kept.patrols:
            kind = self._kind_of.get(row.device)
            if kind is None:
                continue  # no longer a device of this host
            patrol = Patrol(row.record, config=self._config_of(kind))
            (self.under_way if kind is UnitKind.VOLUNTEER else self.on_duty)[row.device] = patrol
            self._saved_s[row.device] = row.saved_s
            last = patrol.record.filter.last
            if last is not None:
                self.units.update_position(row.device, last.lat, last.lon, min(last.ts_s, row.saved_s))
        if self.scheduler is not None:
            self.attach(self.scheduler)

    # -- routes --

    def start(self, entity: DeviceEntity, message: DeviceMessage, now_s: float) -> None:
        """A ``patrol.start`` event."""
        device = entity.device
        kind = self._kind_of.get(device.id)
        if kind is None:
            return
        patrol_id = f"{device.id}#patrol@{f'{message.boot}.' if message.boot else ''}{message.seq}"
        running = self._running(device.id)
        if running is not None:
            if running.record.patrol_id == patrol_id:
                return  # the same start again (re-sent across a restart of the host)
            self._end(device.id, now_s)
        if kind is UnitKind.VOLUNTEER:
            volunteer = self._volunteer_of.get(device.id)
            patrol = self.under_way[device.id] = Patrol.start(
                patrol_id=patrol_id, started_s=now_s, config=self.config,
                volunteer=volunteer.id if volunteer else device.id,  # never the name the phone says: anyone's
                team=(volunteer.team_id if volunteer else device.team_id) or "")
            self._arm(device.id, patrol)
        else:
            self.on_duty[device.id] = Patrol.start(patrol_id=patrol_id, started_s=now_s, volunteer=device.id,
                                                   config=self._config_of(kind))
        self.units.set_leaving(device.id, False)  # on a task still: available once it is released
        if self.units.state_of(device.id) in (UnitState.OFF_DUTY, UnitState.RETURNING):
            self._set_state(device.id, UnitState.AVAILABLE)
        else:
            self.staging.snapshot(*rows.unit_row(self.units, device.id))
        self._save(device.id, now_s)

    def position(self, entity: DeviceEntity, message: DeviceMessage, now_s: float) -> None:
        """A ``patrol.position`` event."""
        data, device_id = message.data, entity.device.id
        patrol = self._running(device_id)
        if patrol is None:
            entity.position = (data.lat, data.lon)
            return
        volunteer = device_id in self.under_way
        fix = Fix.from_position(data, ts_ms=message.ts)
        outcome = patrol.fix(fix, now_s=now_s)
        if volunteer:
            self.suspensions += sum(e.kind is ClockEventKind.SUSPENDED for e in outcome.events)
        if outcome.verdict.kept:
            if volunteer:
                self.fixes_kept += 1
            entity.position = (fix.lat, fix.lon)
            self.units.update_position(device_id, fix.lat, fix.lon, min(fix.ts_s, now_s))
        elif volunteer:
            reason = outcome.verdict.reason.value if outcome.verdict.reason else "unknown"
            self.discarded[reason] = self.discarded.get(reason, 0) + 1
        if volunteer:
            self._arm(device_id, patrol)
        first = outcome.verdict.kept and patrol.record.filter.kept == 1  # the unit has a position after a restart
        if first or outcome.events or now_s - self._saved_s.get(device_id, now_s) >= SNAPSHOT_EVERY_S:
            self._save(device_id, now_s)

    def stop(self, entity: DeviceEntity, message: DeviceMessage, now_s: float) -> None:
        """A ``patrol.stop`` event (ignored when no patrol of the device is under way)."""
        if self._running(entity.device.id) is not None:
            self._end(entity.device.id, now_s)

    def deadline(self, phone_id: str, due_s: float, at_s: float) -> int:
        """The phone's patrol has had no fix for ``suspend_after_s``: suspend it. 0 if it ended or a fix came."""
        patrol = self.under_way.get(phone_id)
        if patrol is None:
            return 0
        suspended = sum(e.kind is ClockEventKind.SUSPENDED for e in patrol.tick(now_s=at_s))
        self.suspensions += suspended
        self._arm(phone_id, patrol)
        if suspended:
            self._save(phone_id, at_s)
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

    def _running(self, device_id: str) -> Patrol | None:
        patrol = self.under_way.get(device_id)
        return patrol if patrol is not None else self.on_duty.get(device_id)

    def _config_of(self, kind: UnitKind) -> PatrolConfig:
        return CAR_CONFIG if kind is UnitKind.POLICE_CAR else self.config

    def _end(self, device_id: str, now_s: float) -> None:
        self._saved_s.pop(device_id, None)
        self.staging.snapshot(rows.PATROL + device_id, None)
        self._off_duty(device_id)
        if device_id in self.on_duty:
            self.on_duty.pop(device_id).stop(now_s=now_s)
            return
        summary = self.under_way.pop(device_id).stop(now_s=now_s)
        totals = self.totals.get(summary.volunteer)
        if totals is None:
            totals = self.totals[summary.volunteer] = VolunteerTotals(summary.volunteer)
        totals.add(summary)
        self.ended += 1
        self.valid_s += summary.valid_s
        self.distance_m += summary.distance_m
        patrols, valid_s = self.teams.get(summary.team, (0, 0.0))
        self.teams[summary.team] = (patrols + 1, valid_s + summary.valid_s)
        self.staging.snapshot(rows.TOTALS + summary.volunteer, rows.encode(totals))
        self.staging.snapshot(rows.FIGURES, rows.encode(self.figures()))
        self._save_fixes()
        if self.scheduler is not None:
            self.scheduler.cancel((PATROL_TICK, device_id))
        if self.on_ended is not None:
            self.on_ended(summary, now_s)

    def _off_duty(self, device_id: str) -> None:
        """Off duty now, or (offered a task, or on one) once the task releases the unit."""
        state = self.units.state_of(device_id)
        if state in (UnitState.AVAILABLE, UnitState.RETURNING):
            self._set_state(device_id, UnitState.OFF_DUTY)
        elif state is not UnitState.OFF_DUTY:
            self.units.set_leaving(device_id, True)
            self.staging.snapshot(*rows.unit_row(self.units, device_id))

    def _save(self, device_id: str, now_s: float) -> None:
        """Journal the patrol under way (and the figures its fixes counted in) with the step."""
        patrol = self._running(device_id)
        self._saved_s[device_id] = now_s
        self.staging.snapshot(rows.PATROL + device_id, rows.encode(rows.PatrolRow(device_id, now_s, patrol.record)))
        if device_id in self.under_way:
            self._save_fixes()

    def _save_fixes(self) -> None:
        self.staging.snapshot(rows.FIXES, rows.encode(rows.FixCounters(self.fixes_kept, self.discarded,
                                                                       self.suspensions)))

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

    def _set_state(self, device_id: str, state: UnitState) -> None:
        """Move the device's unit, if it may go there (a unit on a task is released by its task), and journal it."""
        if state in UNIT_TRANSITIONS[self.units.state_of(device_id)]:
            self.units.set_state(device_id, state)
            self.staging.snapshot(*rows.unit_row(self.units, device_id))
