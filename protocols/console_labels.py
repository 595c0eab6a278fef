"""What a console shows for each wire value, sent in ``welcome`` (``protocols.kinds`` and ``protocols.records`` are
the one source), so no client keeps a copy of the enums, their labels or the lifecycle's transitions."""

from __future__ import annotations

from typing import Final

from msgspec import Struct

from protocols.kinds import (DEVICE_KIND_LABELS, ESCALATION_CHAIN, EVENT_KIND_LABELS, INCIDENT_KIND_LABELS,
                             INCIDENT_STATE_LABELS, LEVEL_LABELS, SITE_KIND_LABELS, TIMELINE_EVENT_LABELS,
                             IncidentState, Level)
from protocols.patrol import DISPATCH_STATE_LABELS, NOT_CHOSEN_LABELS, UNIT_KIND_LABELS, UNIT_STATE_LABELS
from protocols.records import ACTION_LABELS, ACTIONS_BY_STATE, Action


class Labels(Struct):
    """What a console shows for each wire value (from ``protocols.kinds``), so no client keeps a copy."""

    chain: list[Level]
    """The escalation chain, lowest rung first."""
    terminal: list[IncidentState]
    """The states in which an incident has left the queue."""
    levels: dict[str, str]
    states: dict[str, str]
    kinds: dict[str, str]
    """Incident kinds and device event kinds (one value reads the same in both)."""
    devices: dict[str, str]
    sites: dict[str, str]
    timeline: dict[str, str]
    actions: dict[str, str]
    transitions: dict[str, list[Action]]
    """Per state, the actions the lifecycle allows in it (for anyone; the incident's ``may_end`` and the
    operator's role narrow it)."""
    units: dict[str, str] = {}
    """Patrol: unit kinds (volunteer, police car, foot officer)."""
    unit_states: dict[str, str] = {}
    not_chosen: dict[str, str] = {}
    """Patrol: why a unit was not recommended for an incident."""
    dispatch: dict[str, str] = {}


def _values(labels: dict) -> dict[str, str]:
    return {member.value: label for member, label in labels.items()}


LABELS: Final = Labels(
    chain=list(ESCALATION_CHAIN),
    terminal=[state for state in IncidentState if state.is_terminal],
    levels=_values(LEVEL_LABELS),
    states=_values(INCIDENT_STATE_LABELS),
    kinds={**_values(EVENT_KIND_LABELS), **_values(INCIDENT_KIND_LABELS)},
    devices=_values(DEVICE_KIND_LABELS),
    sites=_values(SITE_KIND_LABELS),
    timeline=_values(TIMELINE_EVENT_LABELS),
    actions=_values(ACTION_LABELS),
    units=_values(UNIT_KIND_LABELS),
    unit_states=_values(UNIT_STATE_LABELS),
    not_chosen=_values(NOT_CHOSEN_LABELS),
    dispatch=_values(DISPATCH_STATE_LABELS),
    transitions={state.value: list(actions) for state, actions in ACTIONS_BY_STATE.items()},
)
