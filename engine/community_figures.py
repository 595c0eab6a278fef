"""Figures per community and per grid for an operator: the desk request an operator's jurisdiction allows
(:func:`figures_query`), and the hosts' answers made one (:func:`merge`): a row per site (a site answered by two hosts
adds up) and a row per grid adding up its sites' rows (``protocols/community_figures.py``)."""

from __future__ import annotations

from collections.abc import Iterable

from msgspec import structs

from engine.city_model import City
from engine.grids import grid_sites
from engine.operators import Jurisdiction, Role
from protocols.community_figures import CommunityFiguresAnswer, CommunityFiguresQuery, FiguresRow

_SUMMED = ("alarms", "visitor_calls", "missed_calls", "open_incidents", "open_tickets", "doors_held_open",
           "doors_forced", "throws")


def add_rows(a: FiguresRow, b: FiguresRow, **fields) -> FiguresRow:
    """``a`` with ``b``'s counters added (``notices`` None only when both are)."""
    groups = dict(a.alarms_by_group)
    for group, n in b.alarms_by_group.items():
        groups[group] = groups.get(group, 0) + n
    notices = None if a.notices is None and b.notices is None else (a.notices or 0) + (b.notices or 0)
    return structs.replace(a, **{name: getattr(a, name) + getattr(b, name) for name in _SUMMED},
                           alarms_by_group=dict(sorted(groups.items())), notices=notices, **fields)


def merge(answers: Iterable[CommunityFiguresAnswer], city: City) -> tuple[list[FiguresRow], list[FiguresRow]]:
    """(a row per site, a row per grid), each sorted by id; sites without a grid are in no grid row."""
    sites: dict[str, FiguresRow] = {}
    for answer in answers:
        for row in answer.rows:
            known = sites.get(row.id)
            sites[row.id] = row if known is None else add_rows(known, row)
    grids: dict[str, FiguresRow] = {}
    for row in sites.values():
        if not row.grid:
            continue
        known = grids.get(row.grid)
        if known is None:
            site = city.sites.get(row.id)
            grids[row.grid] = structs.replace(row, id=row.grid, name=site.zone if site else row.grid, kind="grid",
                                              communities=1)
        else:
            grids[row.grid] = add_rows(known, row, communities=known.communities + 1)
    return [sites[k] for k in sorted(sites)], [grids[k] for k in sorted(grids)]


class ScopeRefused(ValueError):
    """A figures request outside the operator's jurisdiction (or naming nothing known); the message names the field."""


def figures_query(city: City, jurisdiction: Jurisdiction, grid: str = "", site: str = "") -> CommunityFiguresQuery:
    """The desk request for what ``jurisdiction`` may see, narrowed to ``grid`` / ``site`` (empty: not narrowed): a
    grid worker its grid, a guard room its site, a station its precinct, the command center everything. Raises
    :class:`ScopeRefused` for a grid or site that is unknown or that the operator sees nothing of."""
    j = jurisdiction
    if grid:
        sites = [city.sites[s] for s in grid_sites(city, grid)]
        if not sites:
            raise ScopeRefused(f"community_figures.grid: no grid {grid!r}")
        if not any(j.sees_site(s.id, s.precinct_id) for s in sites):
            raise ScopeRefused(f"community_figures.grid: grid {grid!r} is not in your jurisdiction")
    if site:
        known = city.sites.get(site)
        if known is None:
            raise ScopeRefused(f"community_figures.site: no site {site!r}")
        if not j.sees_site(known.id, known.precinct_id):
            raise ScopeRefused(f"community_figures.site: site {site!r} is not in your jurisdiction")
    match j.role:
        case Role.GRID_WORKER:
            grid = j.scope if not grid else grid  # checked above: a grid it sees is its own
        case Role.GUARD_ROOM:
            site = j.scope
        case Role.STATION:
            return CommunityFiguresQuery(grid=grid, site=site, precinct=j.scope)
    return CommunityFiguresQuery(grid=grid, site=site)
