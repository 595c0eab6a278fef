"""The console's grids and communities (``protocols/console_community.py``): figures per community and per grid
(``gateway_figures.py``), a remote door open (``gateway_doors.py``), and the city map an operator is welcomed with
(:func:`city_map`: the sites it sees, with their grid ids, their precincts and their devices)."""

from __future__ import annotations

from collections.abc import Callable

from actors.gateway_doors import GatewayDoors
from actors.gateway_fanout import ConsoleSession
from actors.gateway_figures import GatewayFigures
from actors.gateway_http import Audit
from engine.grids import grid_of
from engine.operators import Jurisdiction, Role
from engine.topology import City
from protocols.console import CityMap, Error, MapDevice, MapPrecinct, MapSite, Result
from protocols.console_community import COMMUNITY_REQUESTS, CommunityFigures, OpenDoor

__all__ = ["COMMUNITY_REQUESTS", "GatewayGrids", "city_map"]


class GatewayGrids:
    def __init__(self, engine, city: City, audit: Audit, clock: Callable[[], float]) -> None:
        self.figures = GatewayFigures(engine, city, clock)
        self.doors = GatewayDoors(engine, city, audit)

    async def handle(self, console: ConsoleSession, message) -> CommunityFigures | Result | Error:
        if isinstance(message, OpenDoor):
            return await self.doors.open_door(console, message)
        return await self.figures.handle(console, message)


def city_map(city: City, j: Jurisdiction) -> CityMap:
    """What of the city an operator's console draws: the sites it sees, their devices, and their precincts (a
    station's own even without a site; every precinct for the command center)."""
    sites = [s for s in city.sites.values() if j.sees_site(s.id, s.precinct_id)]
    site_ids = {s.id for s in sites}
    precinct_ids = {s.precinct_id for s in sites} | ({j.scope} if j.role is Role.STATION else set())
    precincts = [p for p in city.precincts.values() if j.role is Role.COMMAND_CENTER or p.id in precinct_ids]
    devices = [d for d in city.devices.values() if d.site_id in site_ids]
    return CityMap(
        [MapPrecinct(p.id, p.name, p.station_id, p.bounds) for p in precincts],
        [MapSite(s.id, s.kind.value, s.name, s.precinct_id, s.lat, s.lon, s.address, s.zone, grid_of(s))
         for s in sites],
        [MapDevice(d.id, d.kind.value, d.site_id or "", d.lat, d.lon, d.label) for d in devices],
    )
