"""A console session's units layer and dispatch (``protocols/console_dispatch.py``): the units on the map with the
patrol figures, an incident's dispatch view, and the operator's offer / cancel / reassign, put to the hosts' desks
(``actors/engine_desk.py``) off the gateway's loop.

Scope: a station sees and dispatches its precinct's units for its precinct's incidents (asked of the hosts that
carry the precinct); the command center sees and dispatches every unit; a guard room neither. Every command is
audited whichever way it ends (``ok``, ``refused`` with the reason, ``unavailable``); a refusal names its field
("incident: ... is not in your jurisdiction", "unit: ... is busy (offered)").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import ray

from actors.engine_desk import ask_every_host, ask_incident_owner
from actors.gateway_fanout import ConsoleSession, Fanout
from actors.gateway_http import Audit
from engine.errors import RedbandError
from engine.operators import Role
from engine.topology import City
from protocols.console import Error, Result, encode
from protocols.console_dispatch import (DISPATCH_REQUESTS, CameraNear, CancelDispatchCommand, CandidateView,
                                        DispatchAnswer, DispatchLineView, DispatchQuery, OfferCommand, PatrolFigures,
                                        ReassignCommand, TeamFigures, UnitDot, UnitMap, UnitMapQuery)
from protocols.desk import OfferUnit
from protocols.dispatch_desk import MAX_UNITS_ON_MAP, CancelDispatch, DispatchView, Reassign, UnitsOnMap

log = logging.getLogger(__name__)

DISPATCH_MESSAGES = DISPATCH_REQUESTS
OUT_OF_JURISDICTION = "OutOfJurisdiction"
NOT_AUTHORIZED = "NotAuthorized"
UNAVAILABLE = "Unavailable"
FIGURES_FOR_S = 2.0
"""The hosts' counters are asked at most this often (every console's map asks every few seconds)."""
TOP_TEAMS = 10
ACTIONS = {OfferCommand: "offer", CancelDispatchCommand: "cancel_dispatch", ReassignCommand: "reassign"}


class GatewayDispatch:
    def __init__(self, engine, city: City, fanout: Fanout, audit: Audit,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine, self.city, self.fanout, self.audit, self.clock = engine, city, fanout, audit, clock
        self._figures: dict[tuple[str, ...] | None, tuple[float, PatrolFigures | None]] = {}

    async def handle(self, console: ConsoleSession, message) -> object:
        if isinstance(message, UnitMapQuery):
            return await self.unit_map(console)
        if isinstance(message, DispatchQuery):
            return await self.view(console, message)
        return await self.command(console, message)

    # -- the units layer ------------------------------------------------------------------------------

    async def unit_map(self, console: ConsoleSession) -> UnitMap | Error:
        j = console.jurisdiction
        if j.role is Role.COMMAND_CENTER:
            hosts, precinct = None, None
        elif j.role is Role.STATION:
            hosts, precinct = list(self.engine.placement.hosts_of_precinct.get(j.scope, ())), j.scope
        else:
            return Error("unit_map: the units are a station's or the command center's")
        if hosts == []:  # a precinct no host carries (not in the city)
            return UnitMap(self.clock(), [], 0, None)
        try:
            answers = await asyncio.to_thread(ask_every_host, self.engine, UnitsOnMap(precinct=precinct), hosts)
        except RedbandError as exc:
            return Error(f"unit_map: {exc}")
        except ray.exceptions.RayError as exc:
            log.info("console gateway: unit map for %s: %s", console.claims.operator, type(exc).__name__)
            return Error("unit_map: unavailable: a host is restarting; the map tries again")
        units = sorted((u for a in answers.values() for u in a.units), key=lambda u: u.age_s)
        truncated = sum(a.truncated for a in answers.values()) + max(0, len(units) - MAX_UNITS_ON_MAP)
        dots = [UnitDot(u.unit_id, u.kind, u.state, u.precinct or "", u.lat, u.lon, u.age_s, u.stale)
                for u in units[:MAX_UNITS_ON_MAP]]
        return UnitMap(self.clock(), dots, truncated, await self._patrol_figures(hosts))

    async def _patrol_figures(self, hosts: list[str] | None) -> PatrolFigures | None:
        key = None if hosts is None else tuple(sorted(hosts))
        taken_s, figures = self._figures.get(key, (-1e18, None))
        if time.monotonic() - taken_s < FIGURES_FOR_S:
            return figures
        try:
            stats = await asyncio.to_thread(self.engine.statistics)
        except Exception as exc:  # counters are a nicety: the map goes without them this time
            log.info("console gateway: no patrol figures: %s", exc)
            return None
        stats = [s for s in stats if key is None or s.host_id in key]
        by_state: dict[str, int] = {}
        effects: dict[str, int] = {}
        teams: dict[str, list[float]] = {}
        for s in stats:
            for name, n in s.units_by_state.items():
                by_state[name] = by_state.get(name, 0) + n
            for name, n in s.dispatch_effects.items():
                effects[name] = effects.get(name, 0) + n
            for team, (patrols, valid_s) in s.patrols_by_team.items():
                total = teams.setdefault(team, [0, 0.0])
                total[0] += patrols
                total[1] += valid_s
        top = sorted(teams.items(), key=lambda t: -t[1][1])[:TOP_TEAMS]
        figures = PatrolFigures(
            sum(s.patrols_active for s in stats), sum(s.patrols_ended for s in stats),
            round(sum(s.patrol_valid_s for s in stats) / 3600.0, 2),
            round(sum(s.patrol_distance_m for s in stats) / 1000.0, 2), by_state, effects,
            [TeamFigures(team, int(p), round(v / 3600.0, 2)) for team, (p, v) in top])
        self._figures[key] = (time.monotonic(), figures)
        return figures

    # -- an incident's dispatch ------------------------------------------------------------------------

    async def view(self, console: ConsoleSession, message: DispatchQuery) -> DispatchAnswer | Error:
        refusal = self._refusal(console, message.incident)
        if refusal is not None:
            return Error(f"dispatch: {refusal[0]}")
        try:
            info = await asyncio.to_thread(ask_incident_owner, self.engine, message.incident,
                                           DispatchView(message.incident))
        except RedbandError as exc:
            return Error(f"dispatch: {exc}")
        except ray.exceptions.RayError:
            return Error("dispatch: unavailable: the incident's host is restarting; try again")
        return self._answer(info)

    async def command(self, console: ConsoleSession, message) -> Result:
        action, j, operator = ACTIONS[type(message)], console.jurisdiction, console.claims.operator
        refusal = self._refusal(console, message.incident)
        if refusal is not None:
            await self.audit(operator, j.role.value, j.scope, action, message.incident, "refused", refusal[0])
            return Result(message.id, False, refusal[0], refusal[1])
        precinct = j.scope if j.role is Role.STATION else None
        if isinstance(message, OfferCommand):
            request, what = OfferUnit(message.incident, message.unit, precinct), f"unit {message.unit}"
        elif isinstance(message, CancelDispatchCommand):
            reason = message.reason or f"cancelled by {operator}"
            request, what = CancelDispatch(message.incident, reason), reason
        else:
            reason = message.reason or f"reassigned by {operator}"
            request = Reassign(message.incident, message.unit or None, reason, precinct)
            what = f"to {message.unit or 'the next candidate'}: {reason}"
        try:
            info = await asyncio.to_thread(ask_incident_owner, self.engine, message.incident, request)
        except RedbandError as exc:
            await self.audit(operator, j.role.value, j.scope, action, message.incident, "refused", str(exc))
            return Result(message.id, False, str(exc), type(exc).__name__)
        except ray.exceptions.RayError as exc:
            reason = "unavailable: the incident's host did not answer; the command may or may not be done"
            log.warning("console gateway: %s %s by %s: %s", action, message.incident, operator, type(exc).__name__)
            await self.audit(operator, j.role.value, j.scope, action, message.incident, "unavailable", reason)
            return Result(message.id, False, reason, UNAVAILABLE)
        await self.audit(operator, j.role.value, j.scope, action, message.incident, "ok", what)
        self.fanout.push(console, encode(self._answer(info)))  # the view after it, then the result
        return Result(message.id, True)

    def _refusal(self, console: ConsoleSession, incident_id: str) -> tuple[str, str] | None:
        """Why the operator may not see or dispatch this incident's units (reason, code), or None."""
        if console.jurisdiction.role not in (Role.STATION, Role.COMMAND_CENTER):
            return "dispatch is a station's or the command center's", NOT_AUTHORIZED
        record = self.fanout.incidents.get(incident_id)
        if record is None or not console.jurisdiction.sees(record):
            return f"incident: {incident_id!r} is not in your jurisdiction", OUT_OF_JURISDICTION
        return None

    def _answer(self, info) -> DispatchAnswer:
        devices = self.city.devices
        return DispatchAnswer(
            info.incident_id, info.state, info.unit_id or "", info.unit_state or "", info.deadline_s,
            [CandidateView(c.unit_id, None if c.distance_m is None else round(c.distance_m, 1))
             for c in info.candidates],
            list(info.declined),
            [CameraNear(camera, metres, devices[camera].label if camera in devices else "")
             for camera, metres in info.cameras],
            [DispatchLineView(line.t_s, line.effect, line.unit, line.note) for line in info.log])
