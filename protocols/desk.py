"""Questions and requests the driver (the console gateway, the CLI, tests) puts to one host's *desk*: the patrol
and points parts of a host that are asked, not fed events — recommend units for an incident, offer or cancel a
dispatch, the units on the map, a volunteer's ledger...

Each request is a msgspec struct that names its incident, device or precinct, so the driver knows which host to
ask (``actors/engine_desk.py``). The host answers with the engine's own value or raises the engine's own error
(``UnknownIncident``, ``OfferRefused``...). A part of the host adds a request by defining its struct here (or in a
protocols module of its own) and registering a handler in its ``requests()`` table (``engine/hosting/desk.py``).
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

from protocols.patrol import UnitKind

IncidentId = Annotated[str, Meta(min_length=1, max_length=128)]
UnitId = Annotated[str, Meta(min_length=1, max_length=128)]


class RecommendUnits(Struct, frozen=True, forbid_unknown_fields=True):
    """The ``k`` nearest available units for an incident of the host, and why the others were not chosen."""

    incident: IncidentId
    k: Annotated[int, Meta(ge=1, le=20)] = 5
    kinds: Annotated[tuple[UnitKind, ...], Meta(min_length=1, max_length=3)] | None = None
    """Only units of these kinds (say police cars and foot officers); the others are passed as ``not_of_kind``.
    None: every kind."""


class OfferUnit(Struct, frozen=True, forbid_unknown_fields=True):
    """An operator offers an incident of the host to one unit (a new offer replaces a pending one)."""

    incident: IncidentId
    unit: UnitId
    precinct: UnitId | None = None
    """The operator's precinct (a station): a unit of another precinct is refused. None: any (the command center)."""
