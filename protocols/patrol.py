"""The patrol dispatch's wire values, defined once: unit kinds and states (with the transitions a unit may make),
why a unit was not recommended, and where an incident's offer stands. Consoles show the labels; the engine
(``engine.patrol``) enforces the transitions.
"""

from __future__ import annotations

from enum import StrEnum

from protocols.kinds import DeviceKind


class UnitKind(StrEnum):
    """What a dispatchable unit is."""

    VOLUNTEER = "volunteer"
    """A red-armband volunteer on patrol (their phone reports the position)."""
    POLICE_CAR = "police_car"
    FOOT_OFFICER = "foot_officer"


#: The devices that make a dispatchable unit, and the unit each makes. A volunteer's phone is one on patrol only;
#: a police car's terminal and a foot officer's radio are one on duty. All go on and off duty with ``patrol.start``
#: and ``patrol.stop`` and report ``patrol.position``; only volunteers earn points and count patrol hours.
UNIT_KIND_OF: dict[DeviceKind, UnitKind] = {
    DeviceKind.VOLUNTEER_PHONE: UnitKind.VOLUNTEER,
    DeviceKind.POLICE_CAR_TERMINAL: UnitKind.POLICE_CAR,
    DeviceKind.OFFICER_RADIO: UnitKind.FOOT_OFFICER,
}


class UnitState(StrEnum):
    """Where a unit stands for dispatch; only ``available`` units are recommended."""

    OFF_DUTY = "off_duty"
    AVAILABLE = "available"
    OFFERED = "offered"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    RETURNING = "returning"


#: The states a unit may move to from each state. A unit on a task (en route, on scene) is released by its task
#: (cancelled, reassigned, done), never sent off duty behind the task's back.
UNIT_TRANSITIONS: dict[UnitState, frozenset[UnitState]] = {
    UnitState.OFF_DUTY: frozenset({UnitState.AVAILABLE}),
    UnitState.AVAILABLE: frozenset({UnitState.OFF_DUTY, UnitState.OFFERED, UnitState.EN_ROUTE}),
    UnitState.OFFERED: frozenset({UnitState.AVAILABLE, UnitState.EN_ROUTE, UnitState.OFF_DUTY}),
    UnitState.EN_ROUTE: frozenset({UnitState.ON_SCENE, UnitState.AVAILABLE, UnitState.RETURNING}),
    UnitState.ON_SCENE: frozenset({UnitState.RETURNING, UnitState.AVAILABLE}),
    UnitState.RETURNING: frozenset({UnitState.AVAILABLE, UnitState.OFF_DUTY}),
}


class NotChosen(StrEnum):
    """Why a unit was not recommended for an incident (``none_available``: nobody qualified at all)."""

    BUSY = "busy"
    """Its state is not ``available`` (off duty, offered, on a task or returning)."""
    STALE_POSITION = "stale_position"
    """Its last position is older than the limit (300 s), or it never sent one."""
    NOT_IN_PRECINCT = "not_in_precinct"
    NOT_OF_KIND = "not_of_kind"
    """The recommendation asked for other kinds of unit (e.g. police only)."""
    TOO_FAR = "too_far"
    """Beyond the search radius."""
    OUTRANKED = "outranked"
    """It qualified, but the K chosen units are nearer."""
    NONE_AVAILABLE = "none_available"


class DispatchState(StrEnum):
    """Where one incident's dispatch stands: offers to candidates, then the accepted unit's task."""

    AWAITING_OPERATOR = "awaiting_operator"
    """Manual dispatch (not P1): the operator picks whom to offer it to."""
    OFFERING = "offering"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    DONE = "done"
    CANCELLED = "cancelled"
    NONE_AVAILABLE = "none_available"
    """Every candidate declined, timed out or was busy; an operator offers it by hand or gives new candidates."""

    @property
    def is_task(self) -> bool:
        """A unit has accepted and works on the incident (its check-in timer runs)."""
        return self in (DispatchState.EN_ROUTE, DispatchState.ON_SCENE)


UNIT_KIND_LABELS: dict[UnitKind, str] = {
    UnitKind.VOLUNTEER: "Volunteer on patrol",
    UnitKind.POLICE_CAR: "Police car",
    UnitKind.FOOT_OFFICER: "Foot officer",
}

UNIT_STATE_LABELS: dict[UnitState, str] = {
    UnitState.OFF_DUTY: "Off duty",
    UnitState.AVAILABLE: "Available",
    UnitState.OFFERED: "Offered a task",
    UnitState.EN_ROUTE: "En route",
    UnitState.ON_SCENE: "On scene",
    UnitState.RETURNING: "Returning",
}

NOT_CHOSEN_LABELS: dict[NotChosen, str] = {
    NotChosen.BUSY: "Busy",
    NotChosen.STALE_POSITION: "Stale position",
    NotChosen.NOT_IN_PRECINCT: "Not in the precinct",
    NotChosen.NOT_OF_KIND: "Not of the kind asked for",
    NotChosen.TOO_FAR: "Too far",
    NotChosen.OUTRANKED: "Others nearer",
    NotChosen.NONE_AVAILABLE: "None available",
}

DISPATCH_STATE_LABELS: dict[DispatchState, str] = {
    DispatchState.AWAITING_OPERATOR: "Awaiting an operator",
    DispatchState.OFFERING: "Offering",
    DispatchState.EN_ROUTE: "Unit en route",
    DispatchState.ON_SCENE: "Unit on scene",
    DispatchState.DONE: "Done",
    DispatchState.CANCELLED: "Cancelled",
    DispatchState.NONE_AVAILABLE: "No unit available",
}
