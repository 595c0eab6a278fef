"""Nearest-unit dispatch at a host: which available units are nearest an incident (and why the others are not),
offers to their phones, the phones' answers, and the offer and check-in deadlines.

An alarm incident of priority 1 is offered automatically, when it opens, to the nearest available unit of the host
(``engine/patrol/nearest.py``); other incidents wait for an operator (``offer``). An offer reaches the phone as the
device command ``task.offer`` (the incident, its place, the straight-line distance and the cameras within 200 m); the
phone answers with ``patrol.task`` events (accept, decline, check in, arrived, done). A declined or expired offer goes
to the next candidate (P1) or back to the operator. Each dispatch is one ``engine/patrol/offers.Dispatch``.

Journaled: every change of a dispatch (``engine/hosting/patrol_rows.py``, with the unit states it set), so a restarted
host (or one back from a refused step) has each dispatch as it stood, its offer or check-in deadline armed again; its
effects log and the effect counters start empty. A task cancelled on scene puts its unit back at once, like a task
done (available, or off duty if its patrol ended meanwhile).

Bounded: one dispatch per open incident of the host, at most ``MAX_DISPATCHES``; the effects log
the console reads keeps the last ``LOG_PER_INCIDENT`` per incident.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable
from typing import Final

from engine.city_model import City
from engine.entities import DeviceEntity, SeqVerdict
from engine.errors import UnknownIncident
from engine.hosting import patrol_rows as rows
from engine.hosting.dispatch_desk import OVER, dispatch_requests
from engine.hosting.staging import JournalStaging
from engine.incident import DeviceCommand
from engine.patrol.cameras import CameraIndex
from engine.patrol.geo import project_m
from engine.patrol.nearest import Recommendation, explain, nearest
from engine.patrol.offer_record import dispatch_of, record_of
from engine.patrol.offer_effects import (Candidate, Effect, OfferExpired, OfferSent, OfferWithdrawn, Place,
                                        TaskCancelled, TaskDone, UnitStateSet)
from engine.patrol.offers import Dispatch, OfferRefused, Step, apply_unit_states
from engine.patrol.units import UnitTracker
from engine.scheduler import DeadlineScheduler
from engine.tips import promoted
from protocols.desk import RecommendUnits
from protocols.device import DeviceMessage
from protocols.device_schema import TaskAnswer
from protocols.kinds import AckStatus, IncidentKind
from protocols.patrol import UnitKind, UnitState
from protocols.records import IncidentRecord

DISPATCH: Final = "d"
"""Deadline key kind: ``(DISPATCH, incident id)``, the dispatch's offer expiry or check-in."""
MAX_DISPATCHES: Final = 10_000
LOG_PER_INCIDENT: Final = 50
NOT_DISPATCHED: Final = frozenset({IncidentKind.DEVICE_OFFLINE, IncidentKind.PATROL_CLUE, IncidentKind.KIOSK_FAULT})
"""Kinds no unit is sent to (a maintenance ticket, a tip under review: a promoted tip is dispatched)."""


class Dispatches:
    def __init__(self, *, city: City, units: Callable[[], UnitTracker], scheduler: DeadlineScheduler,
                 send: Callable[[DeviceCommand, float], None], staging: JournalStaging | None = None) -> None:
        self.city = city
        self.staging = staging if staging is not None else JournalStaging()
        self.units = units
        self.scheduler = scheduler
        self.send = send
        self.cameras = CameraIndex(city.devices.values())
        self.dispatches: dict[str, Dispatch] = {}
        self.log: dict[str, deque[tuple[float, Effect]]] = {}
        self.effects: Counter[str] = Counter()
        """Effects since the host started, by kind: offers sent, tasks assigned, offers expired..."""
        self.on_done: Callable[[str, str, float], None] | None = None
        """Told (unit, incident, when) of every task a unit saw through (the host's points)."""
        self.refused = 0
        """Phone answers that did not fit their dispatch (late, unknown incident, not the offered unit)."""

    def attach(self, scheduler: DeadlineScheduler) -> None:
        """The host's scheduler made anew (a failed step rebuilt the host): the dispatches' deadlines go on it."""
        self.scheduler = scheduler
        for incident_id, dispatch in self.dispatches.items():
            if dispatch.deadline_s is not None:
                scheduler.schedule((DISPATCH, incident_id), dispatch.deadline_s)

    def load(self, snapshots: dict[str, bytes]) -> None:
        """The dispatches as the journal's snapshots have them (a start, or a rebuild after a refused step), their
        deadlines armed; the units' states come with the patrols' rows."""
        kept = rows.read({k: body for k, body in snapshots.items() if k.startswith(rows.DISPATCH_ROW)})
        self.dispatches = {r.incident_id: dispatch_of(r) for r in kept.dispatches}
        self.log = {}
        self.attach(self.scheduler)

    def incident_changed(self, record: IncidentRecord, before: IncidentRecord | None, now_s: float) -> None:
        """The incident store's observer: a new incident may be offered, an ended one is withdrawn; a tip promoted
        to P1 is offered like a P1 that opened."""
        if before is None and record.is_active:
            self.incident_opened(record, now_s)
        elif record.is_active and record.priority == 1 and (before.priority != 1 or not _dispatchable(before)):
            self.incident_opened(record, now_s)
        elif record.state.is_terminal:
            self.incident_ended(record.id, now_s)

    def requests(self, incident: Callable[[str], IncidentRecord | None]) -> dict[type, Callable]:
        """This part's desk requests; ``incident`` finds an incident this host owns (None: not here)."""
        def owned(incident_id: str) -> IncidentRecord:
            record = incident(incident_id)
            if record is None:
                raise UnknownIncident(incident_id)
            return record

        return {RecommendUnits: lambda r, now_s: self.recommend(owned(r.incident), now_s=now_s, k=r.k, kinds=r.kinds),
                **dispatch_requests(self, owned, dispatchable=_dispatchable)}  # offer, cancel, reassign, views

    # -- what starts a dispatch ------------------------------------------------------------------

    def incident_opened(self, record: IncidentRecord, now_s: float) -> None:
        """A new incident of this host: a P1 alarm is offered at once to the nearest available unit."""
        if record.priority != 1 or not _dispatchable(record) or record.id in self.dispatches:
            return
        if len(self.dispatches) >= MAX_DISPATCHES:
            self.refused += 1
            return
        self._run(self._new(record, now_s), lambda d: d.start(now_s=now_s, is_available=self._available), now_s)

    def recommend(self, record: IncidentRecord, *, now_s: float, k: int = 5,
                  kinds: Iterable[UnitKind] | None = None) -> Recommendation:
        """The ``k`` nearest available units (of ``kinds``, None: any), and why each other one was not chosen."""
        return explain(self.units(), record.lat, record.lon, now_s=now_s, k=k, kinds=kinds)

    def offer(self, record: IncidentRecord, unit_id: str, *, now_s: float) -> Dispatch:
        """An operator offers the incident to a unit (raises ``OfferRefused`` when it cannot be offered); a dispatch
        that was over (cancelled, done) begins again."""
        dispatch = self.dispatches.get(record.id)
        if dispatch is None or dispatch.state in OVER:
            dispatch = self._new(record, now_s)
        self._run(dispatch, lambda d: d.offer(unit_id, now_s=now_s, is_available=self._available), now_s)
        return dispatch

    def cancel(self, incident_id: str, *, reason: str, now_s: float) -> None:
        dispatch = self.dispatches.get(incident_id)
        if dispatch is not None:
            self._run(dispatch, lambda d: d.cancel(now_s=now_s, reason=reason), now_s)

    def reassign(self, incident_id: str, unit_id: str | None, *, reason: str, now_s: float,
                 precinct: str | None = None) -> Dispatch:
        """Take the incident off its unit (told ``task.cancel``) and offer it to ``unit_id``, or the next candidate
        (of ``precinct`` only, when named: a station's reassignment never sends another precinct's unit)."""
        dispatch = self.dispatches[incident_id]
        units = self.units()

        def available(unit: str) -> bool:
            return self._available(unit) and (precinct is None or units.info(unit).precinct == precinct)

        self._run(dispatch, lambda d: d.reassign(now_s=now_s, is_available=available, unit_id=unit_id,
                                                 reason=reason), now_s)
        return dispatch

    def incident_ended(self, incident_id: str, now_s: float) -> None:
        """The incident was closed, cancelled or found false: its offer or task is withdrawn."""
        if incident_id in self.dispatches:
            try:
                self.cancel(incident_id, reason="the incident has ended", now_s=now_s)
            except OfferRefused:
                pass  # already over
            self.dispatches.pop(incident_id, None)
            self.scheduler.cancel((DISPATCH, incident_id))
            self.staging.snapshot(rows.DISPATCH_ROW + incident_id, None)
        self.log.pop(incident_id, None)  # bounded by the open incidents

    # -- the phone's answers (route of ``patrol.task``) and the deadlines -------------------------------

    def answer(self, entity: DeviceEntity, message: DeviceMessage, now_s: float) -> SeqVerdict | None:
        """A phone's answer; one that fits no offer or task of this phone is refused (NAK) and changes nothing."""
        data, unit = message.data, entity.device.id
        dispatch = self.dispatches.get(data.incident)
        if dispatch is None:
            self.refused += 1
            return SeqVerdict(AckStatus.NAK, f"data.incident: no task of {data.incident!r} here (never offered, "
                                             "or over)")
        step = {
            TaskAnswer.ACCEPT: lambda d: d.accept(unit, now_s=now_s),
            TaskAnswer.DECLINE: lambda d: d.decline(unit, now_s=now_s, is_available=self._available),
            TaskAnswer.CHECK_IN: lambda d: d.check_in(unit, now_s=now_s),
            TaskAnswer.ARRIVED: lambda d: d.arrive(unit, now_s=now_s),
            TaskAnswer.DONE: lambda d: _done(d, unit, now_s),
        }[data.answer]
        try:
            self._run(dispatch, step, now_s)
        except OfferRefused as exc:
            self.refused += 1
            return SeqVerdict(AckStatus.NAK, f"data.answer: {exc}")
        return None

    def deadline(self, incident_id: str, due_s: float, at_s: float) -> int:
        dispatch = self.dispatches.get(incident_id)
        if dispatch is None or dispatch.deadline_s is None or dispatch.deadline_s > due_s:
            return 0
        self._run(dispatch, lambda d: d.deadline_passed(now_s=at_s, is_available=self._available), at_s)
        return 1

    # -- inside ------------------------------------------------------------------------------------

    def _available(self, unit_id: str) -> bool:
        return self.units().is_available(unit_id)

    def _new(self, record: IncidentRecord, now_s: float) -> Dispatch:
        if len(self.dispatches) >= MAX_DISPATCHES:
            raise OfferRefused(record.id, "none", "start", f"this host already runs {MAX_DISPATCHES} dispatches")
        units = self.units()  # the kernel alone: an alarm's step must not pay for the console's explanation
        rows, metres = nearest(units, record.lat, record.lon, now_s=now_s)
        ids = units.ids()
        site = self.city.sites.get(record.site_id)
        place = Place(record.lat, record.lon, site.name if site else record.site_id)
        cameras = [camera for camera, _ in self.cameras.near(record.lat, record.lon)]
        dispatch = Dispatch(record.id, place=place, priority=record.priority, cameras=cameras,
                            candidates=[Candidate(ids[r], d) for r, d in zip(rows.tolist(), metres.tolist())])
        self.dispatches[record.id] = dispatch
        return dispatch

    def _run(self, dispatch: Dispatch, action: Callable[[Dispatch], Step], now_s: float) -> None:
        step = action(dispatch)
        units = self.units()
        changed = apply_unit_states(units, step.effects)
        back = [UnitStateSet(u, UnitState.AVAILABLE) for u in changed if units.state_of(u) is UnitState.RETURNING]
        changed += apply_unit_states(units, back)  # a task cancelled on scene: back on patrol (or off duty) at once
        for unit_id in dict.fromkeys(changed):
            self.staging.snapshot(*rows.unit_row(units, unit_id))
        self.staging.snapshot(rows.DISPATCH_ROW + dispatch.incident_id, rows.encode(record_of(dispatch)))
        log = self.log.setdefault(dispatch.incident_id, deque(maxlen=LOG_PER_INCIDENT))
        for effect in step.effects:
            log.append((now_s, effect))
            self.effects[type(effect).__name__] += 1
            if isinstance(effect, TaskDone) and self.on_done is not None:
                self.on_done(effect.unit_id, effect.incident_id, now_s)
            command = _command(effect, units)
            if command is not None:
                self.send(command, now_s)
        key = (DISPATCH, dispatch.incident_id)
        if step.deadline_s is None:
            self.scheduler.cancel(key)
        else:
            self.scheduler.schedule(key, step.deadline_s)


def _dispatchable(record: IncidentRecord) -> bool:
    return record.kind not in NOT_DISPATCHED or promoted(record)


def _grid_route_m(units: UnitTracker, unit_id: str, place: Place) -> int | None:
    """The way to walk or drive there along a north-south / east-west street grid (|east| + |north|, metres): the city
    model has no road graph, and the generated cities' streets are such a grid. None: the unit has no position."""
    info = units.info(unit_id) if unit_id in units else None
    if info is None or info.lat is None:
        return None
    east_m, north_m = project_m(place.lat, place.lon, lat0=info.lat, lon0=info.lon)
    return round(abs(east_m) + abs(north_m))


def _done(dispatch: Dispatch, unit: str, now_s: float) -> Step:
    done = dispatch.done(unit, now_s=now_s)
    back = dispatch.returned(unit, now_s=now_s)  # a volunteer back on patrol is available again at once
    return Step(done.effects + back.effects, back.deadline_s)


def _command(effect: Effect, units: UnitTracker) -> DeviceCommand | None:
    """What an effect sends to a phone: the offer, or the word that an offer or task was withdrawn."""
    if isinstance(effect, OfferSent):
        return DeviceCommand(effect.unit_id, "task.offer", {
            "incident": effect.incident_id, "lat": effect.place.lat, "lon": effect.place.lon,
            "place": effect.place.label, "distance_m": None if effect.distance_m is None else round(effect.distance_m),
            "route_m": _grid_route_m(units, effect.unit_id, effect.place),
            "cameras": list(effect.cameras), "expires_s": effect.expires_s})
    if isinstance(effect, OfferExpired):  # the phone stops showing it: a late accept would be refused
        return DeviceCommand(effect.unit_id, "task.cancel", {"incident": effect.incident_id,
                                                             "reason": "the offer expired"})
    if isinstance(effect, (OfferWithdrawn, TaskCancelled)):
        return DeviceCommand(effect.unit_id, "task.cancel", {"incident": effect.incident_id, "reason": effect.reason})
    return None
