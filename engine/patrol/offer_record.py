"""One incident's dispatch (``engine.patrol.offers.Dispatch``) as plain data: what a host journals at every change of
it, and restores after a restart with its pending deadline (offer expiry or check-in) as it was."""

from __future__ import annotations

import msgspec

from engine.patrol.offer_effects import Candidate, Place
from engine.patrol.offers import Dispatch
from protocols.patrol import DispatchState


class DispatchRecord(msgspec.Struct):
    incident_id: str
    place: tuple[float, float, str]
    priority: int
    candidates: list[tuple[str, float | None]]
    cameras: list[str]
    offer_timeout_s: float
    check_in_every_s: float
    auto_priority: int
    state: DispatchState
    unit_id: str | None
    deadline_s: float | None
    declined: list[str]
    missed: int
    next: int
    started: bool


def record_of(dispatch: Dispatch) -> DispatchRecord:
    d = dispatch
    return DispatchRecord(
        d.incident_id, (d.place.lat, d.place.lon, d.place.label), d.priority,
        [(c.unit_id, c.distance_m) for c in d.candidates], list(d.cameras), d.offer_timeout_s, d.check_in_every_s,
        d.auto_priority, d.state, d.unit_id, d.deadline_s, list(d.declined), d.missed, d._next, d._started)


def dispatch_of(record: DispatchRecord) -> Dispatch:
    r = record
    dispatch = Dispatch(r.incident_id, place=Place(*r.place), priority=r.priority,
                        candidates=[Candidate(unit, distance) for unit, distance in r.candidates], cameras=r.cameras,
                        offer_timeout_s=r.offer_timeout_s, check_in_every_s=r.check_in_every_s,
                        auto_priority=r.auto_priority)
    dispatch.state, dispatch.unit_id, dispatch.deadline_s = r.state, r.unit_id, r.deadline_s
    dispatch.declined, dispatch.missed = list(r.declined), r.missed
    dispatch._next, dispatch._started = r.next, r.started
    return dispatch
