"""Figures per community (site), for the grid and community views: a domain of a host (``engine/hosting/domain.py``)
that counts what the host's own incidents say about their sites and answers ``CommunityFiguresQuery`` at the desk.

Counted per site, in the community's counters (``community_rows.Figures``, journaled in the snapshot
``community_figures/<site>`` with the step that changed it, so a restart keeps them):

- ``alarms`` and ``alarms.<group>`` (``protocols.community_figures.AlarmGroup``): each incident the host raised for a
  device of the site, once (repeats are the same alarm);
- ``door.forced``, ``door.held_open``: those incidents raised;
- ``throw``: each thrown-object report, a repeat joining the facade's open incident too;
- ``calls`` and the calls' outcomes (``missed``...): counted by the visitor calls (``visitors.py``).

Open incidents and open maintenance tickets (device or site offline, kiosk fault) are read from the incident store
when asked. Notices: ``notices`` (a callable site → notices in force) is set by a notice board when there is one;
until then every row's ``notices`` is None.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.city_model import City, Site
from engine.grids import grid_of
from engine.hosting import community_rows as rows
from engine.hosting.domain import Assembly
from engine.journal import Journal
from protocols.community_figures import (ALARM_GROUP_OF, AlarmGroup, CommunityFiguresAnswer, CommunityFiguresQuery,
                                         FiguresRow)
from protocols.kinds import IncidentKind
from protocols.records import IncidentRecord

ALARMS = "alarms"
THROWS = "throw"


class SiteFigures:
    def __init__(self, city: City, *, figures: rows.Figures,
                 notices: Callable[[str], int] | None = None) -> None:
        self.city = city
        self.figures = figures
        self.notices = notices
        """Site → notices in force; set by the notice board (None: no board, the rows say None)."""
        self.store = None

    # -- the domain --

    def assemble(self, *, scheduler, store) -> Assembly:
        self.store = store
        return Assembly(desk=({CommunityFiguresQuery: self.answer},), observers=(self.observe,))

    def snapshotted(self) -> tuple:
        return ()  # the counters are the community's Figures, loaded with the community domain

    def load(self, journal: Journal) -> None:
        pass

    def statistics(self) -> dict:
        return {}

    # -- counting --

    def observe(self, record: IncidentRecord, before: IncidentRecord | None, now_s: float) -> None:
        """A change the store made to an incident this host owns: a new one is an alarm of its site; a thrown object
        joining an open incident is a report more."""
        site = record.site_id
        if not site or site not in self.city.sites:
            return
        add = self.figures.add_site
        if before is None:
            add(site, ALARMS)
            group = ALARM_GROUP_OF.get(record.kind)
            if group is not None:
                add(site, f"{ALARMS}.{group.value}")
            if record.kind in (IncidentKind.DOOR_FORCED, IncidentKind.DOOR_HELD_OPEN, IncidentKind.CAMERA_THROW):
                add(site, record.kind.value if record.kind is not IncidentKind.CAMERA_THROW else THROWS)
        elif record.kind is IncidentKind.CAMERA_THROW and record.repeats > before.repeats:
            add(site, THROWS, record.repeats - before.repeats)

    # -- the desk --

    def answer(self, request: CommunityFiguresQuery, now_s: float) -> CommunityFiguresAnswer:
        sites = [s for s in self.city.sites.values() if _matches(s, request)]
        open_incidents: dict[str, int] = {}
        open_tickets: dict[str, int] = {}
        store = self.store
        if store is not None and sites:
            for record in store.incidents.values():
                if record.host_id != store.host_id or not record.is_active:
                    continue
                tally = open_tickets if ALARM_GROUP_OF.get(record.kind) is AlarmGroup.DEVICES else open_incidents
                tally[record.site_id] = tally.get(record.site_id, 0) + 1
        return CommunityFiguresAnswer(sorted((self._row(s, open_incidents, open_tickets) for s in sites),
                                             key=lambda r: r.id))

    def _row(self, site: Site, open_incidents: dict[str, int], open_tickets: dict[str, int]) -> FiguresRow:
        counts = self.figures.of_site(site.id)
        prefix = f"{ALARMS}."
        return FiguresRow(
            site.id, site.name, site.kind.value, grid_of(site), site.precinct_id,
            alarms=counts.get(ALARMS, 0),
            alarms_by_group={k[len(prefix):]: n for k, n in sorted(counts.items()) if k.startswith(prefix) and n},
            visitor_calls=counts.get("calls", 0), missed_calls=counts.get("missed", 0),
            open_incidents=open_incidents.get(site.id, 0), open_tickets=open_tickets.get(site.id, 0),
            doors_held_open=counts.get(IncidentKind.DOOR_HELD_OPEN.value, 0),
            doors_forced=counts.get(IncidentKind.DOOR_FORCED.value, 0), throws=counts.get(THROWS, 0),
            notices=self.notices(site.id) if self.notices is not None else None)


def _matches(site: Site, request: CommunityFiguresQuery) -> bool:
    return ((not request.site or site.id == request.site) and (not request.precinct or site.precinct_id ==
            request.precinct) and (not request.grid or grid_of(site) == request.grid))
