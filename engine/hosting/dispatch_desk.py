"""The operator's side of dispatch at a host's desk: the units on the map, one incident's dispatch as it stands
(state, unit, candidates, cameras within 200 m with distances, the log of its effects), and the commands: offer to
a unit, cancel, reassign.

Every command checks everything first and raises the engine's error before anything changes (the desk's rule):
an unknown incident or unit, a unit of another precinct than the operator's, a busy unit, an incident already with
a unit (reassign it instead), a dispatch that is over or never began. A command answers with the dispatch's view
after it, so the console shows the outcome without asking again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.errors import RedbandError
from engine.patrol.nearest import MAX_AGE_S
from engine.patrol.offer_effects import Candidate, Effect
from engine.patrol.units import KINDS, NO_FIX_S, STATES, UnitTracker, UnknownUnit
from engine.patrol.offers import OfferRefused
from protocols.desk import OfferUnit
from protocols.dispatch_desk import CancelDispatch, DispatchView, Reassign, UnitsOnMap
from protocols.patrol import DispatchState
from protocols.records import IncidentRecord

if TYPE_CHECKING:
    from engine.hosting.dispatch import Dispatches

OVER = frozenset({DispatchState.DONE, DispatchState.CANCELLED})
"""A dispatch in these states is history: an offer starts a new one."""
HELD = frozenset({DispatchState.OFFERING, DispatchState.EN_ROUTE, DispatchState.ON_SCENE})
"""A unit is offered the incident or works on it."""
NO_DISPATCH = "none"


class UnitBusy(RedbandError):
    def __init__(self, unit_id: str, state: str) -> None:
        self.unit_id, self.state = unit_id, state
        super().__init__(f"unit: {unit_id} is busy ({state}), not available for an offer")

    def __reduce__(self):
        return type(self), (self.unit_id, self.state)


class UnitOutOfPrecinct(RedbandError):
    def __init__(self, unit_id: str, precinct: str | None, scope: str) -> None:
        self.unit_id, self.precinct, self.scope = unit_id, precinct, scope
        super().__init__(f"unit: {unit_id} is of precinct {precinct or 'none'}, not of your precinct {scope}")

    def __reduce__(self):
        return type(self), (self.unit_id, self.precinct, self.scope)


class NoDispatch(RedbandError):
    def __init__(self, incident_id: str, action: str, state: str) -> None:
        self.incident_id, self.action, self.state = incident_id, action, state
        super().__init__(f"incident: {incident_id} has no dispatch to {action} ({state})")

    def __reduce__(self):
        return type(self), (self.incident_id, self.action, self.state)


@dataclass(frozen=True, slots=True)
class UnitOnMap:
    unit_id: str
    kind: str
    state: str
    precinct: str | None
    lat: float
    lon: float
    age_s: float
    """Since the unit's last kept fix, by the host's clock."""
    stale: bool
    """Older than ``MAX_AGE_S`` (300 s): never recommended, shown faded."""


@dataclass(frozen=True, slots=True)
class UnitsMap:
    units: tuple[UnitOnMap, ...]
    truncated: int = 0
    """Units with a position left out by the limit (the oldest fixes)."""


@dataclass(frozen=True, slots=True)
class DispatchLine:
    t_s: float
    effect: str
    """The effect's type: OfferSent, OfferDeclined, OfferExpired, OfferWithdrawn, TaskAssigned, UnitStateSet..."""
    unit: str
    note: str


@dataclass(frozen=True, slots=True)
class DispatchInfo:
    incident_id: str
    state: str
    """A ``DispatchState`` value, or ``none`` before any dispatch."""
    unit_id: str | None
    unit_state: str | None
    deadline_s: float | None
    candidates: tuple[Candidate, ...]
    declined: tuple[str, ...]
    cameras: tuple[tuple[str, float], ...]
    """(camera id, metres) within 200 m of the incident, nearest first."""
    log: tuple[DispatchLine, ...]


def dispatch_requests(dispatches: Dispatches, owned: Callable[[str], IncidentRecord], *,
                      dispatchable: Callable[[IncidentRecord], bool] = lambda record: True) -> dict[type, Callable]:
    """The desk table of these requests; ``owned`` finds an incident of the host or raises ``UnknownIncident``;
    an incident that is not ``dispatchable`` (a maintenance ticket, a tip under review) is offered to nobody."""
    units = dispatches.units

    def offer(r: OfferUnit, now_s: float) -> DispatchInfo:
        record = owned(r.incident)
        held = dispatches.dispatches.get(record.id)
        if held is not None and held.state in HELD:
            raise OfferRefused(record.id, held.state, "offer", f"the incident is with unit {held.unit_id}: reassign it")
        if not dispatchable(record):
            raise OfferRefused(record.id, NO_DISPATCH, "offer", f"no unit is sent to a {record.kind.value} incident")
        _check_unit(units(), r.unit, r.precinct)
        dispatches.offer(record, r.unit, now_s=now_s)
        return view(dispatches, record)

    def cancel(r: CancelDispatch, now_s: float) -> DispatchInfo:
        record = owned(r.incident)
        _open_dispatch(dispatches, record.id, "cancel")
        dispatches.cancel(record.id, reason=r.reason or "cancelled by an operator", now_s=now_s)
        return view(dispatches, record)

    def reassign(r: Reassign, now_s: float) -> DispatchInfo:
        record = owned(r.incident)
        dispatch = _open_dispatch(dispatches, record.id, "reassign")
        if r.unit is not None:
            if r.unit == dispatch.unit_id:
                raise OfferRefused(record.id, dispatch.state, "reassign", f"unit {r.unit} has it already")
            _check_unit(units(), r.unit, r.precinct)
        dispatches.reassign(record.id, r.unit, reason=r.reason or "reassigned by an operator", now_s=now_s,
                            precinct=r.precinct)
        return view(dispatches, record)

    return {OfferUnit: offer, CancelDispatch: cancel, Reassign: reassign,
            DispatchView: lambda r, now_s: view(dispatches, owned(r.incident)),
            UnitsOnMap: lambda r, now_s: units_on_map(units(), r, now_s=now_s)}


def units_on_map(units: UnitTracker, request: UnitsOnMap, *, now_s: float) -> UnitsMap:
    """The units with a position (of the precinct asked), freshest first when over the limit."""
    arrays = units.arrays()
    mask = arrays.fix_s != NO_FIX_S
    if request.precinct is not None:
        code = units.known_precinct_code(request.precinct)
        if code is None:
            return UnitsMap(())
        mask &= arrays.precinct == code
    rows = np.flatnonzero(mask)
    truncated = max(0, len(rows) - request.limit)
    if truncated:
        rows = rows[np.argsort(-arrays.fix_s[rows], kind="stable")[:request.limit]]
    shown = []
    for row in rows.tolist():
        age_s = max(0.0, now_s - float(arrays.fix_s[row]))
        shown.append(UnitOnMap(units.unit_id(row), KINDS[arrays.kind[row]].value, STATES[arrays.state[row]].value,
                               units.precinct_name(int(arrays.precinct[row])), float(arrays.lat[row]),
                               float(arrays.lon[row]), round(age_s, 1), age_s > MAX_AGE_S))
    return UnitsMap(tuple(shown), truncated)


def view(dispatches: Dispatches, record: IncidentRecord) -> DispatchInfo:
    dispatch = dispatches.dispatches.get(record.id)
    cameras = tuple(dispatches.cameras.near(record.lat, record.lon))
    log = tuple(DispatchLine(t_s, type(e).__name__, getattr(e, "unit_id", "") or "", _note(e))
                for t_s, e in dispatches.log.get(record.id, ()))
    if dispatch is None:
        return DispatchInfo(record.id, NO_DISPATCH, None, None, None, (), (), cameras, log)
    units = dispatches.units()
    unit_state = units.state_of(dispatch.unit_id).value if dispatch.unit_id in units else None
    return DispatchInfo(record.id, dispatch.state.value, dispatch.unit_id, unit_state, dispatch.deadline_s,
                        dispatch.candidates, tuple(dispatch.declined), cameras, log)


def _check_unit(units: UnitTracker, unit_id: str, precinct: str | None) -> None:
    """Refuse a unit this host does not track, of another precinct than the operator's, or not available."""
    if unit_id not in units:
        raise UnknownUnit(unit_id)
    info = units.info(unit_id)
    if precinct is not None and info.precinct != precinct:
        raise UnitOutOfPrecinct(unit_id, info.precinct, precinct)
    if not units.is_available(unit_id):
        raise UnitBusy(unit_id, info.state.value)


def _open_dispatch(dispatches: Dispatches, incident_id: str, action: str):
    dispatch = dispatches.dispatches.get(incident_id)
    if dispatch is None or dispatch.state in OVER:
        raise NoDispatch(incident_id, action, NO_DISPATCH if dispatch is None else dispatch.state.value)
    return dispatch


def _note(effect: Effect) -> str:
    """What a log line says beside the effect's type and unit."""
    for name in ("state", "reason"):
        value = getattr(effect, name, None)
        if value:
            return str(value)
    if getattr(effect, "distance_m", None) is not None:
        return f"{round(effect.distance_m)} m"
    if getattr(effect, "tried", None):
        return "tried " + ", ".join(effect.tried)
    if getattr(effect, "missed", None):
        return f"{effect.missed} check-ins missed"
    return ""

