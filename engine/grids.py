"""Grids: the sites of a city grouped by their ``zone`` (``Site.zone``: "P1 north-east grid"), each grid a scope a
grid worker is given (``engine/operators.py``) and a row of the figures (``protocols/community_figures.py``).

A grid's id is derived from its zone's name (:func:`protocols.community_figures.grid_id`), so a city file needs no
new field and an old one loads with the same grids; two zones whose ids would clash are refused when the city is read
(``engine/city_file.py``). A site without a zone is in no grid.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.city_model import City, Site
from protocols.community_figures import grid_id


@dataclass(frozen=True, slots=True)
class Grid:
    id: str
    name: str
    """The zone's name, as people say it."""
    site_ids: frozenset[str]
    precinct_ids: frozenset[str]
    """The precincts its sites lie in (one, for a generated city)."""


def grid_of(site: Site) -> str:
    """The site's grid id ("" when it has no zone)."""
    return grid_id(site.zone)


def grids(city: City) -> dict[str, Grid]:
    """Every grid of the city by id (sites without a zone left out)."""
    names: dict[str, str] = {}
    sites: dict[str, set[str]] = {}
    precincts: dict[str, set[str]] = {}
    for site in city.sites.values():
        gid = grid_of(site)
        if not gid:
            continue
        names.setdefault(gid, site.zone)
        sites.setdefault(gid, set()).add(site.id)
        precincts.setdefault(gid, set()).add(site.precinct_id)
    return {gid: Grid(gid, names[gid], frozenset(sites[gid]), frozenset(precincts[gid])) for gid in sorted(names)}


def grid_sites(city: City, grid: str) -> frozenset[str]:
    """The ids of the sites of ``grid`` (empty for an unknown grid)."""
    if not grid:
        return frozenset()
    return frozenset(s.id for s in city.sites.values() if grid_of(s) == grid)


def zone_clash(zones: list[str]) -> tuple[int, str] | None:
    """The index of the first zone whose grid id another, differently named zone already has (or that has no letter or
    digit), and why; None when every zone names one grid."""
    seen: dict[str, str] = {}
    for i, zone in enumerate(zones):
        if not zone:
            continue
        gid = grid_id(zone)
        if not gid:
            return i, f"zone {zone!r}: a grid's name needs a letter or digit"
        if seen.setdefault(gid, zone) != zone:
            return i, f"zone {zone!r} and zone {seen[gid]!r} would be the same grid {gid!r}: name them apart"
    return None
