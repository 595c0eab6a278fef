"""The dispatch requests an operator's console puts to a host's desk besides recommending and offering
(``protocols/desk.py``): the units on the map, one incident's dispatch as it stands, calling it off, and giving it
to another unit. Answers are the engine's (``engine/hosting/dispatch_desk.py``)."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

from protocols.desk import IncidentId, UnitId

Reason = Annotated[str, Meta(max_length=200)]
MAX_UNITS_ON_MAP = 5_000


class UnitsOnMap(Struct, frozen=True, forbid_unknown_fields=True):
    """Every unit the host tracks with a position (of ``precinct`` only, when named): freshest fixes first, at most
    ``limit``; the answer counts the ones left out."""

    precinct: UnitId | None = None
    limit: Annotated[int, Meta(ge=1, le=MAX_UNITS_ON_MAP)] = MAX_UNITS_ON_MAP


class DispatchView(Struct, frozen=True, forbid_unknown_fields=True):
    """Where an incident's dispatch stands: its state and unit, candidates, the cameras nearby and its log."""

    incident: IncidentId


class CancelDispatch(Struct, frozen=True, forbid_unknown_fields=True):
    """An operator calls the incident's dispatch off: the unit offered it or on it is told ``task.cancel``."""

    incident: IncidentId
    reason: Reason = ""


class Reassign(Struct, frozen=True, forbid_unknown_fields=True):
    """An operator takes the incident off its unit (told ``task.cancel``) and offers it to ``unit``, or to the next
    candidate when no unit is named."""

    incident: IncidentId
    unit: UnitId | None = None
    reason: Reason = ""
    precinct: UnitId | None = None
    """The operator's precinct (a station): a unit of another precinct is refused. None: any (the command center)."""
