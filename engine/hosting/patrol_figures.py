"""A host's volunteer figures per team, street and community, answered at its desk (``PatrolFiguresBy`` of
``protocols/patrol_figures.py``) from the engine's own counters: the city's registry (volunteers of the host's
phones and their teams), the patrols' totals per volunteer (``engine.hosting.patrol.Patrols.totals``), the points
book's entries (patrol hours, emergencies handled) and the tips under review the host holds.

Groups: a volunteer's team; its street, the team's ``street`` (its precinct's name when the team names none); its
community, the community site of the host nearest the volunteer's phone's home (as registered in the city).
Read-only: the handler changes nothing, so the step it runs in journals nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from engine.city_model import City, Volunteer
from engine.patrol.geo import haversine_m
from protocols.kinds import IncidentKind, SiteKind
from protocols.patrol_figures import GroupRow, PatrolFiguresAnswer, PatrolFiguresBy
from protocols.points import PointsReason
from protocols.records import IncidentRecord


def street_of(city: City, volunteer: Volunteer) -> str:
    team = city.teams.get(volunteer.team_id)
    if team is None:
        return ""
    if team.street:
        return team.street
    precinct = city.precincts.get(team.precinct_id)
    return precinct.name if precinct else team.precinct_id


def community_of(city: City, volunteer: Volunteer) -> str:
    """The community site nearest the volunteer's phone ("" when the city slice has none or no phone)."""
    phone = city.devices.get(volunteer.phone_id)
    if phone is None:
        return ""
    best, best_m = "", math.inf
    for site in city.sites.values():
        if site.kind is SiteKind.COMMUNITY:
            d = haversine_m(phone.lat, phone.lon, site.lat, site.lon)
            if d < best_m:
                best, best_m = site.id, d
    return best


def group_of(city: City, volunteer: Volunteer, group_by: str) -> str:
    if group_by == "team":
        return volunteer.team_id
    if group_by == "street":
        return street_of(city, volunteer)
    return community_of(city, volunteer)


class PatrolFiguresDesk:
    def __init__(self, city: City, *, totals: Callable[[], Mapping], book: Callable[[], object],
                 incidents: Callable[[], Mapping[str, IncidentRecord]]) -> None:
        self.city = city
        self.totals = totals
        self.book = book
        self.incidents = incidents
        self._groups: dict[str, dict[str, str]] = {}  # group_by → volunteer id → group (the city does not change)

    def requests(self) -> dict[type, Callable]:
        return {PatrolFiguresBy: lambda r, now_s: self.answer(r.group_by)}

    def groups(self, group_by: str) -> dict[str, str]:
        if group_by not in self._groups:
            self._groups[group_by] = {v.id: group_of(self.city, v, group_by) for v in self.city.volunteers.values()}
        return self._groups[group_by]

    def answer(self, group_by: str) -> PatrolFiguresAnswer:
        groups = self.groups(group_by)
        rows: dict[str, dict] = {}

        def row(volunteer: str) -> dict | None:
            group = groups.get(volunteer)
            if group is None:
                return None
            return rows.setdefault(group, dict(registered=0, patrols=0, valid_s=0.0, emergencies=0, tips=0, points=0))

        for volunteer in groups:
            row(volunteer)["registered"] += 1
        for volunteer, totals in self.totals().items():
            if (r := row(volunteer)) is not None:
                r["patrols"] += totals.patrols
                r["valid_s"] += totals.valid_s
        by_reason: dict[str, int] = {}
        for entry in self.book().entries():
            if entry.reason is PointsReason.REDEMPTION:
                continue
            by_reason[entry.reason.value] = by_reason.get(entry.reason.value, 0) + entry.delta
            if (r := row(entry.volunteer_id)) is not None:
                r["points"] += entry.delta
                r["emergencies"] += entry.reason is PointsReason.EMERGENCY_HANDLED
        volunteer_of = {v.phone_id: v.id for v in self.city.volunteers.values()}
        for record in self.incidents().values():
            if record.kind is IncidentKind.PATROL_CLUE and (r := row(volunteer_of.get(record.device_id, ""))):
                r["tips"] += 1
        return PatrolFiguresAnswer(group_by, [GroupRow(g, **rows[g]) for g in sorted(rows)], by_reason)


def figures_desk(core, store) -> dict[type, Callable]:
    """The desk table of the patrol domain (``engine/hosting/patrol_domain.py``): the volunteers' figures, read when
    asked (the points book is made anew by every rebuild, the incident store by every assembly)."""
    return PatrolFiguresDesk(core.city, totals=lambda: core.patrols.totals, book=lambda: core.points.book,
                             incidents=lambda: store.incidents).requests()
