"""A remote door open from the console (``protocols/console_community.OpenDoor``): checked here against the
operator's jurisdiction and the reason (``engine/remote_open.py``; a refusal is audited as action ``open_door`` and
answered with its ``OpenDoorRefusal`` code), then asked of the door's host, which audits it (``device.command`` with
the operator, role, scope and reason) and sends the door ``open_door`` {by, reason}. An operator's opens are paced
(``engine/remote_open.OpenPace``: past the limit refused ``TooMany``, audited as a refusal, so bounded too)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from functools import partial

import ray

from actors.gateway_fanout import ConsoleSession
from actors.gateway_http import Audit
from engine.errors import RedbandError
from engine.remote_open import OpenPace, remote_open_refusal
from engine.topology import City
from protocols.community import OPEN_DOOR
from protocols.console import Result
from protocols.console_community import OpenDoor

log = logging.getLogger(__name__)
ACTION = "open_door"
UNAVAILABLE = "Unavailable"


class GatewayDoors:
    def __init__(self, engine, city: City, audit: Audit, clock: Callable[[], float] = time.monotonic) -> None:
        self.engine, self.city, self.audit, self.clock = engine, city, audit, clock
        self.pace = OpenPace()

    async def open_door(self, console: ConsoleSession, message: OpenDoor) -> Result:
        operator, j = console.claims.operator, console.jurisdiction
        refusal = (remote_open_refusal(self.city, j, message.door, message.reason)
                   or self.pace.refusal(operator, self.clock()))
        if refusal is not None:
            code, why = refusal
            await self.audit(operator, j.role.value, j.scope, ACTION, message.door[:128], "refused", why)
            return Result(message.id, False, why, code.value)
        reason = message.reason.strip()
        self.pace.taken(operator, self.clock())  # asked of the host, whatever it answers
        try:
            await asyncio.to_thread(partial(self.engine.command_device, message.door, OPEN_DOOR,
                                            {"by": operator, "reason": reason}, actor=operator, role=j.role.value,
                                            scope=j.scope, reason=reason))
        except RedbandError as exc:  # the host's own refusal (UnknownDevice...), audited there or here
            await self.audit(operator, j.role.value, j.scope, ACTION, message.door, "refused", str(exc))
            return Result(message.id, False, str(exc), type(exc).__name__)
        except (ray.exceptions.ActorUnavailableError, ray.exceptions.ActorDiedError,
                ray.exceptions.GetTimeoutError) as exc:
            why = "unavailable: the door's host did not answer; the door may or may not be opened"
            log.warning("console gateway: open_door %s by %s: %s", message.door, operator, type(exc).__name__)
            await self.audit(operator, j.role.value, j.scope, ACTION, message.door, "unavailable", why)
            return Result(message.id, False, why, UNAVAILABLE)
        return Result(message.id, True)
