"""The console's units layer and dispatch: the units on the map (a station its precinct's, the command center all)
with the patrol and team figures of those hosts, one incident's dispatch as it stands, and the operator's offer,
cancel and reassign. Commands carry an ``id`` and are answered by a ``result`` (``protocols/console.py``), preceded
on success by the incident's ``dispatch`` view after it. Labels in ``welcome.labels`` (``units``, ``unit_states``,
``dispatch``)."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

Id = Annotated[str, Meta(min_length=1, max_length=128)]
Reason = Annotated[str, Meta(max_length=200)]


# -- client → server ---------------------------------------------------------------------------------


class UnitMapQuery(Struct, tag="unit_map", forbid_unknown_fields=True):
    """The units the operator may see, with a position (at most 5,000; the answer counts the rest)."""


class DispatchQuery(Struct, tag="dispatch", forbid_unknown_fields=True):
    incident: Id


class OfferCommand(Struct, tag="offer", forbid_unknown_fields=True):
    """Offer the incident to a unit (an available one of the operator's precinct; any precinct for the command
    center). The unit's phone gets ``task.offer``; it has 30 s to accept."""

    id: int
    incident: Id
    unit: Id


class CancelDispatchCommand(Struct, tag="cancel_dispatch", forbid_unknown_fields=True):
    """Call the incident's dispatch off: the unit offered it or on it is told ``task.cancel`` with the reason."""

    id: int
    incident: Id
    reason: Reason = ""


class ReassignCommand(Struct, tag="reassign", forbid_unknown_fields=True):
    """Take the incident off its unit (told ``task.cancel``) and offer it to ``unit``; empty: the next candidate."""

    id: int
    incident: Id
    unit: Annotated[str, Meta(max_length=128)] = ""
    reason: Reason = ""


# -- server → client ---------------------------------------------------------------------------------


class UnitDot(Struct):
    unit: str
    kind: str
    state: str
    precinct: str
    lat: float
    lon: float
    age_s: float
    """Since the unit's last kept position."""
    stale: bool
    """Its position is older than 300 s: never recommended, drawn faded."""


class TeamFigures(Struct):
    team: str
    patrols: int
    valid_hours: float


class PatrolFigures(Struct):
    """Summed over the hosts that carry the operator's precinct (the command center: all), since they started."""

    patrols_active: int
    patrols_ended: int
    valid_hours: float
    """Valid patrol time of the ended patrols (what points are earned for)."""
    distance_km: float
    units_by_state: dict[str, int]
    dispatch: dict[str, int]
    """Dispatch effects by kind: OfferSent, TaskAssigned, OfferDeclined, OfferExpired, TaskDone, ..."""
    teams: list[TeamFigures]
    """The 10 teams with the most valid hours."""


class UnitMap(Struct, tag="unit_map"):
    server_s: float
    units: list[UnitDot]
    truncated: int
    """Units with a position left out (the oldest fixes first)."""
    figures: PatrolFigures | None = None
    """None when a host's counters could not be had this time."""


class CandidateView(Struct):
    unit: str
    distance_m: float | None


class CameraNear(Struct):
    camera: str
    distance_m: float
    label: str = ""


class DispatchLineView(Struct):
    t_s: float
    effect: str
    unit: str
    note: str


class DispatchAnswer(Struct, tag="dispatch"):
    incident: str
    state: str
    """A ``DispatchState`` value (``labels.dispatch``), or ``none``: no unit was ever offered it."""
    unit: str
    """The unit offered the incident or working on it; empty when none."""
    unit_state: str
    deadline_s: float | None
    """When the offer expires, or the next check-in is due."""
    candidates: list[CandidateView]
    declined: list[str]
    """Units that declined, let the offer expire or were taken off it."""
    cameras: list[CameraNear]
    """Within 200 m of the incident, nearest first."""
    log: list[DispatchLineView]
    """The dispatch's effects with their times, oldest first (the last 50)."""


DISPATCH_REQUESTS = (UnitMapQuery, DispatchQuery, OfferCommand, CancelDispatchCommand, ReassignCommand)
DISPATCH_ANSWERS = (UnitMap, DispatchAnswer)
