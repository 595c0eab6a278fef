"""An operator's requests on a console session: incident commands and the audit trail.

A command is authorised here by jurisdiction (the incident must be one the operator sees, acted on for the
operator's own responder) before the owner host authorises it against the notified entities. The engine answers
typed: the incident after the command, or its error, whose type becomes the result's ``code``. Refusals are
audited (the host audits what reaches it; the gateway what it refuses itself)."""

from __future__ import annotations

import asyncio
import logging

import ray

from actors.gateway_engine import EngineApi
from actors.gateway_fanout import ConsoleSession, Fanout
from actors.gateway_http import Audit
from engine.errors import RedbandError
from engine.operators import Role
from engine.topology import City
from protocols.console import AuditQuery, AuditRows, AuditRowView, Command, Error, Result
from protocols.records import OperatorCommand

log = logging.getLogger(__name__)

OUT_OF_JURISDICTION = "OutOfJurisdiction"
UNAVAILABLE = "Unavailable"


class Commands:
    def __init__(self, engine: EngineApi, city: City, fanout: Fanout, audit: Audit) -> None:
        self.engine, self.city, self.fanout, self.audit = engine, city, fanout, audit

    async def command(self, console: ConsoleSession, message: Command) -> Result:
        operator, jurisdiction = console.claims.operator, console.jurisdiction
        record = self.fanout.incidents.get(message.incident)
        if record is None or not jurisdiction.sees(record):
            reason = f"incident {message.incident!r} is not in your jurisdiction"
            await self.audit(operator, message.action.value, message.incident, "refused", jurisdiction.scope, reason)
            return Result(message.id, False, reason, OUT_OF_JURISDICTION)
        command = OperatorCommand(message.action, message.incident, operator, jurisdiction.level,
                                  jurisdiction.responder(self.city), unit=message.unit,
                                  disposition=message.disposition, note=message.note)
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
        await self.audit(operator, message.action.value, message.incident, "unavailable",
                         console.jurisdiction.scope, reason)
        return Result(message.id, False, reason, UNAVAILABLE)

    async def audit_rows(self, console: ConsoleSession, message: AuditQuery) -> AuditRows | Error:
        if console.jurisdiction.role is not Role.COMMAND_CENTER:
            return Error("audit: the command center's only")
        rows = await asyncio.to_thread(self.engine.audit_rows, message.limit)
        return AuditRows([AuditRowView(0, r.t_s, r.actor, "", r.where, r.action, r.subject, r.outcome, r.detail)
                          for r in rows])  # interim: the audit columns are being reworked (issue 13)
