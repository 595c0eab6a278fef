"""The gateway's delivery receipts: which notified responders' consoles showed an incident, and which did not.

Consoles confirm what they showed (``receipt``) and what an operator opened (``seen``); ``engine.delivery_watch``
decides which delivery lines that makes, and which notifications went unconfirmed (no live console of the
responder, or none confirmed within the policies' ``console.confirm_within_s``). This module sends those lines to
the incident's owner host (``Engine.delivery``), which journals them and, for ``not_delivered``, escalates at once
where the policy says so. Bounded: at most ``MAX_QUEUED`` lines wait to be sent; a line that cannot be sent after
``ATTEMPTS`` tries is logged and dropped (the escalation deadline still runs on the host: nothing is lost but the
early escalation).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from actors.gateway_engine import EngineApi
from actors.gateway_fanout import ConsoleSession, Fanout
from engine.delivery_watch import DeliveryWatch
from engine.errors import HostUnavailable, RedbandError
from protocols.console import Receipt, Seen
from protocols.records import DeliveryNote

log = logging.getLogger(__name__)

MAX_QUEUED = 10_000
ATTEMPTS = 3
TICK_S = 0.25
BATCH = 1_000
"""Delivery lines sent in one call (one Ray call per owner host)."""


class Deliveries:
    def __init__(self, engine: EngineApi, fanout: Fanout, clock: Callable[[], float], *, confirm_s: float,
                 enabled: bool = True) -> None:
        self.engine, self.fanout, self.clock = engine, fanout, clock
        self.enabled = enabled
        self.watch = DeliveryWatch(confirm_s=confirm_s)
        self._queue: deque[tuple[DeliveryNote, int]] = deque()
        self.sent = 0
        self.dropped = 0

    def live(self, responder: str) -> bool:
        """Whether some console of ``responder`` is connected and keeping up."""
        return any(c.responder == responder and not c.dropped for c in self.fanout.consoles)

    def on_change(self, record) -> None:
        if self.enabled:
            self._add(self.watch.on_change(record, now_s=self.clock(), live=self.live))

    def on_receipt(self, console: ConsoleSession, message: Receipt) -> None:
        if not self.enabled:
            return
        for incident_id, _version in message.incidents:
            record = self.fanout.incidents.get(incident_id)
            if record is not None and console.jurisdiction.sees(record):
                self._add(self.watch.on_receipt(record, responder=console.responder,
                                                operator=console.claims.operator))

    def on_seen(self, console: ConsoleSession, message: Seen) -> None:
        record = self.fanout.incidents.get(message.incident)
        if self.enabled and record is not None and console.jurisdiction.sees(record):
            self._add(self.watch.on_seen(record, responder=console.responder, operator=console.claims.operator))

    def _add(self, notes: list[DeliveryNote]) -> None:
        for note in notes:
            if len(self._queue) >= MAX_QUEUED:
                self.dropped += 1
                log.error("console gateway: delivery line dropped, %d queued: %s", MAX_QUEUED, note)
                continue
            self._queue.append((note, 0))

    async def run(self) -> None:
        """Every tick: the overdue confirmations, then the queued lines to their hosts (one call per host for up to
        ``BATCH`` lines: a storm's thousands are not a Ray call and a journal write each)."""
        while True:
            try:
                if self.enabled:
                    self._add(self.watch.due(self.clock()))
                todo = [self._queue.popleft() for _ in range(len(self._queue))]  # a retry waits for the next tick
                for start in range(0, len(todo), BATCH):
                    await self._send(todo[start:start + BATCH])
                if todo:
                    self.fanout.send_changes()
            except Exception:  # noqa: BLE001 - one bad turn must not end the watch
                log.exception("console gateway: delivery watch turn failed")
            await asyncio.sleep(TICK_S)  # the watch's period

    async def _send(self, lines: list[tuple[DeliveryNote, int]]) -> None:
        try:
            outcomes = await asyncio.to_thread(self.engine.deliveries, [note for note, _ in lines])
        except Exception as exc:  # noqa: BLE001 - the engine unreachable: every line tried again next tick
            outcomes = [exc] * len(lines)
        for (note, tries), outcome in zip(lines, outcomes):
            if isinstance(outcome, HostUnavailable) or (isinstance(outcome, Exception)
                                                        and not isinstance(outcome, RedbandError)):
                if tries + 1 < ATTEMPTS:  # a host down or restarting (Ray's errors): try again next tick
                    self._queue.append((note, tries + 1))
                else:
                    self.dropped += 1
                    log.warning("console gateway: delivery line not written (%s): %s", type(outcome).__name__, note)
            elif isinstance(outcome, RedbandError):  # the incident is gone or ended meanwhile: nothing to write
                log.info("console gateway: delivery line refused: %s", outcome)
            else:
                self.sent += 1
                if outcome is not None:
                    self.fanout.apply(outcome)
