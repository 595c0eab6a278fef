"""An operator's requests on a console session: incident commands and the audit trail.

A command is authorised here by jurisdiction (the incident must be one the operator sees, acted on for the
operator's own responder) before the owner host authorises it against the notified entities. The engine answers
typed: the incident after the command, or its error, whose type becomes the result's ``code``. Refusals are
audited (the host audits what reaches it; the gateway what it refuses itself)."""

from __future__ import annotations

import asyncio
import logging
from functools import partial

import ray

from actors.engine_desk import recommend_units
from actors.gateway_engine import EngineApi
from actors.gateway_fanout import ConsoleSession, Fanout
from actors.gateway_http import Audit, where_from
from engine.errors import RedbandError
from engine.operators import Role
from engine.topology import City
from protocols.console import AuditQuery, AuditRows, AuditRowView, Command, Error, Result
from protocols.console_units import UnitChoice, UnitPassed, UnitsAnswer, UnitsQuery
from protocols.records import OperatorCommand

log = logging.getLogger(__name__)

OUT_OF_JURISDICTION = "OutOfJurisdiction"
UNAVAILABLE = "Unavailable"
NOT_AUTHORIZED = "NotAuthorized"


class Commands:
    def __init__(self, engine: EngineApi, city: City, fanout: Fanout, audit: Audit) -> None:
        self.engine, self.city, self.fanout, self.audit = engine, city, fanout, audit

    async def command(self, console: ConsoleSession, message: Command) -> Result:
        operator, jurisdiction = console.claims.operator, console.jurisdiction
        record = self.fanout.incidents.get(message.incident)
        if record is None or not jurisdiction.sees(record):
            reason = f"incident {message.incident!r} is not in your jurisdiction"
            await self.audit(operator, jurisdiction.role.value, jurisdiction.scope, message.action.value,
                             message.incident, "refused", reason)
            return Result(message.id, False, reason, OUT_OF_JURISDICTION)
        if (reason := jurisdiction.refuses(message.action)) is not None:  # a grid worker: acknowledge... only
            await self.audit(operator, jurisdiction.role.value, jurisdiction.scope, message.action.value,
                             message.incident, "refused", reason)
            return Result(message.id, False, reason, NOT_AUTHORIZED)
        command = OperatorCommand(message.action, message.incident, operator, jurisdiction.level,
                                  jurisdiction.responder_for(self.city, record), unit=message.unit,
                                  disposition=message.disposition, note=message.note, to_level=message.to_level,
                                  priority=message.priority)
        try:
            updated = await asyncio.to_thread(self.engine.command, command)  # the host audits ok and refused
        except RedbandError as exc:
            return Result(message.id, False, str(exc), type(exc).__name__)
        except (ray.exceptions.ActorUnavailableError, ray.exceptions.ActorDiedError) as exc:
            reason = "unavailable: the incident's host is restarting; nothing was done, try again"
            return await self._unavailable(console, message, reason, exc)
        except ray.exceptions.GetTimeoutError as exc:
            reason = "unavailable: the incident's host did not answer in time; the command may or may not be done"
            return await self._unavailable(console, message, reason, exc)
        self.fanout.apply(updated)
        self.fanout.send_changes()
        return Result(message.id, True)

    async def _unavailable(self, console: ConsoleSession, message: Command, reason: str, exc: Exception) -> Result:
        operator = console.claims.operator
        log.warning("console gateway: %s %s by %s: %s (%s)", message.action.value, message.incident, operator,
                    reason, str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)
        await self.audit(operator, console.jurisdiction.role.value, console.jurisdiction.scope, message.action.value,
                         message.incident, "unavailable", reason)
        return Result(message.id, False, reason, UNAVAILABLE)

    async def audit_rows(self, console: ConsoleSession, message: AuditQuery) -> AuditRows | Error:
        """A page of the trail for the command center; anyone else's request is refused and audited."""
        j = console.jurisdiction
        if j.role is not Role.COMMAND_CENTER:
            reason = "audit: the command center's only"
            await self.audit(console.claims.operator, j.role.value, j.scope, "audit", "audit trail", "refused",
                             f"{reason} (from {where_from(console.connection)})")
            return Error(reason)
        page = await asyncio.to_thread(partial(
            self.engine.audit_page, message.limit, before=message.before, actor=message.actor, action=message.action,
            outcome=message.outcome, since_s=message.since_s, until_s=message.until_s))
        return AuditRows([AuditRowView(r.id, r.t_s, r.actor, r.role, r.scope, r.action, r.target, r.outcome, r.reason)
                          for r in page.rows], page.more)

    async def units(self, console: ConsoleSession, message: UnitsQuery) -> UnitsAnswer | Error:
        """The dispatch recommendation for an incident the operator sees (asked of its owner host)."""
        record = self.fanout.incidents.get(message.incident)
        if record is None or not console.jurisdiction.sees(record):
            return Error(f"units: incident {message.incident!r} is not in your jurisdiction")
        try:
            found = await asyncio.to_thread(recommend_units, self.engine, message.incident, message.k)
        except RedbandError as exc:
            return Error(f"units: {exc}")
        return UnitsAnswer(message.incident, [UnitChoice(c.unit_id, c.kind.value, round(c.distance_m, 1))
                                              for c in found.chosen],
                           [UnitPassed(p.unit_id, p.kind.value, p.state.value, p.reason.value,
                                       None if p.distance_m is None else round(p.distance_m, 1)) for p in found.passed],
                           {reason.value: n for reason, n in found.counts.items()})
