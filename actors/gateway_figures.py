"""The console's figures per community and per grid (``protocols/console_community.CommunityFiguresRequest``): asked
of every host's desk (``CommunityFiguresQuery``) off the loop, within the operator's jurisdiction
(``engine/community_figures.figures_query``: a grid worker its grid, a guard room its site, a station its precinct,
the command center everything), and added up per grid (``engine/community_figures.merge``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import ray

from actors.engine_desk import ask_every_host
from actors.gateway_fanout import ConsoleSession
from engine.community_figures import ScopeRefused, figures_query, merge
from engine.errors import RedbandError
from engine.topology import City
from protocols.console import Error
from protocols.console_community import CommunityFigures, CommunityFiguresRequest

log = logging.getLogger(__name__)
_RAY_DOWN = (ray.exceptions.ActorUnavailableError, ray.exceptions.ActorDiedError, ray.exceptions.GetTimeoutError)


class GatewayFigures:
    def __init__(self, engine, city: City, clock: Callable[[], float]) -> None:
        self.engine, self.city, self.clock = engine, city, clock

    async def handle(self, console: ConsoleSession, message: CommunityFiguresRequest) -> CommunityFigures | Error:
        try:
            query = figures_query(self.city, console.jurisdiction, message.grid, message.site)
        except ScopeRefused as exc:
            return Error(str(exc))
        try:
            answers = await asyncio.to_thread(ask_every_host, self.engine, query)
        except RedbandError as exc:  # a host did not answer in time (HostUnavailable names it)
            return Error(f"community_figures: unavailable: {exc}")
        except _RAY_DOWN as exc:
            log.warning("console gateway: community figures: %s", str(exc).splitlines()[0][:200] if str(exc) else exc)
            return Error("community_figures: unavailable: a host is restarting; try again")
        communities, grids = merge(answers.values(), self.city)
        return CommunityFigures(message.grid, message.site, communities, grids, self.clock(),
                                notices=any(row.notices is not None for row in communities))
