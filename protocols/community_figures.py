"""Figures per community (site) and per grid: a desk request (``protocols/desk.py``) every host answers for the sites
it holds, and the rows the console shows (``protocols/console_community.py``).

A *grid* is the set of sites with the same ``zone`` (``engine/city_model.py``); its id is derived from the zone's
name (:func:`grid_id`: "P1 north-east grid" → ``P1-north-east-grid``), so it is an id like any other (a scope in an
operator file, a filter in a request) and an old city file has grids without a new field.

The counters are the engine's own, kept per site by the host that holds it and journaled (snapshots), so they
survive a restart; they count from the day the engine started keeping them (no window).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Final

from msgspec import Meta, Struct, field

from protocols.kinds import IncidentKind

ScopeId = Annotated[str, Meta(max_length=128)]


def grid_id(zone: str) -> str:
    """The grid id of a zone name: runs of anything but letters and digits become one ``-`` ("" for no zone)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", zone).strip("-")[:64]


class AlarmGroup(StrEnum):
    """What an alarm was about, for the figures' ``alarms_by_group`` (one group per incident kind)."""

    DOORS = "doors"
    """A door forced or held open."""
    CAMERAS = "cameras"
    """An intrusion seen, an object thrown from a building."""
    EMERGENCY = "emergency"
    """A panic or duress button, an SOS (kiosk, patrol)."""
    DEVICES = "devices"
    """A device or a whole site offline, a kiosk fault: the maintenance tickets."""
    TIPS = "tips"
    """A volunteer's clue."""


ALARM_GROUP_OF: Final[dict[IncidentKind, AlarmGroup]] = {
    IncidentKind.DOOR_FORCED: AlarmGroup.DOORS, IncidentKind.DOOR_HELD_OPEN: AlarmGroup.DOORS,
    IncidentKind.CAMERA_THROW: AlarmGroup.CAMERAS, IncidentKind.CAMERA_INTRUSION: AlarmGroup.CAMERAS,
    IncidentKind.SCHOOL_PANIC: AlarmGroup.EMERGENCY, IncidentKind.SCHOOL_DURESS: AlarmGroup.EMERGENCY,
    IncidentKind.KIOSK_SOS: AlarmGroup.EMERGENCY, IncidentKind.PATROL_SOS: AlarmGroup.EMERGENCY,
    IncidentKind.DEVICE_OFFLINE: AlarmGroup.DEVICES, IncidentKind.SITE_OFFLINE: AlarmGroup.DEVICES,
    IncidentKind.KIOSK_FAULT: AlarmGroup.DEVICES, IncidentKind.PATROL_CLUE: AlarmGroup.TIPS,
}


class CommunityFiguresQuery(Struct, frozen=True, forbid_unknown_fields=True):
    """Desk request, asked of every host (``actors/engine_desk.ask_every_host``): the figures of the sites it holds
    that match every filter given (empty: any). ``grid`` a grid id, ``site`` a site id, ``precinct`` a precinct id
    (the console gateway sets them from the operator's jurisdiction). Each host answers
    :class:`CommunityFiguresAnswer`; ``engine/community_figures.merge`` adds the answers up into grid rows."""

    grid: ScopeId = ""
    site: ScopeId = ""
    precinct: ScopeId = ""


class FiguresRow(Struct, frozen=True):
    """One community's (site's) or one grid's figures. In a grid row, ``id`` is the grid id, ``name`` the zone's
    name, ``grid`` the grid id again and ``communities`` the number of sites added up; counters are sums."""

    id: str
    name: str
    kind: str
    """The site's kind (community, school, kiosk_hall); ``grid`` for a grid row."""
    grid: str
    """The grid id ("" for a site without a zone)."""
    precinct: str
    alarms: int = 0
    """Incidents raised by the site's devices (each once, repeats not counted again)."""
    alarms_by_group: dict[str, int] = field(default_factory=dict)
    """``alarms`` by :class:`AlarmGroup` value (groups with none left out)."""
    visitor_calls: int = 0
    """Visitor calls that rang a resident's phone."""
    missed_calls: int = 0
    """Visitor calls nobody answered in time."""
    open_incidents: int = 0
    """Incidents of the site open now (maintenance tickets not counted here)."""
    open_tickets: int = 0
    """Maintenance tickets of the site open now (device offline or faulty, site offline)."""
    doors_held_open: int = 0
    doors_forced: int = 0
    throws: int = 0
    """Thrown-object reports (a repeat joining an open incident counted too)."""
    notices: int | None = None
    """Notices in force for the site; None while the engine keeps no notice board (then the console hides it)."""
    communities: int = 1
    """1 for a site's row; in a grid row, how many sites it adds up."""


class CommunityFiguresAnswer(Struct, frozen=True):
    """One host's answer: a row per site it holds that matched, sorted by site id."""

    rows: list[FiguresRow]
