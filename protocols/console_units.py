"""The console's dispatch recommendation: the nearest available units for an incident (volunteers on patrol), with
their distances, and why each of the others was not chosen (busy, stale position, too far...). Labels for unit kinds,
states and reasons come in ``welcome.labels`` (``units``, ``unit_states``, ``not_chosen``)."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct


class UnitsQuery(Struct, tag="units", forbid_unknown_fields=True):
    """Recommend units for an incident the operator sees."""

    incident: Annotated[str, Meta(max_length=128)]
    k: Annotated[int, Meta(ge=1, le=20)] = 5


class UnitChoice(Struct):
    unit: str
    kind: str
    distance_m: float


class UnitPassed(Struct):
    unit: str
    kind: str
    state: str
    reason: str
    distance_m: float | None
    """None for a unit that never sent a position."""


class UnitsAnswer(Struct, tag="units"):
    incident: str
    chosen: list[UnitChoice]
    """Nearest first."""
    passed: list[UnitPassed]
    """The nearest units not chosen (at most 20), with the reason."""
    counts: dict[str, int]
    """How many units were passed over for each reason (all of them)."""
