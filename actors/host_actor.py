"""The Ray shell around a :class:`engine.host.HostCore`. No business rule lives here: it decodes,
calls the core with the time, and carries out what the core leaves to be done (batches to other hosts).

In real-time mode one background task per host sleeps until the next deadline (or until a new message
may have moved it), fires what is due and sends the outbox, one batch per destination host. In virtual
mode a driver moves the host's clock with ``advance_to`` and carries the batches itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import ray

from actors.journal_sqlite import SqliteJournal
from engine.clock import ManualClock, WallClock
from engine.errors import RedbandError
from engine.host import HostConfig, HostCore
from engine.journal import MemoryJournal
from engine.policy import PolicySet
from engine.topology import City
from protocols.batch import (
    decode_host_batch,
    decode_ingest,
    decode_states,
    encode_changes,
    encode_host_batch,
    encode_result,
)
from protocols.records import OperatorCommand

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 10.0
MAX_IDLE_SLEEP_S = 1.0
MAX_LONG_POLL_S = 5.0


@ray.remote
class HostActor:
    def __init__(self, config: HostConfig, city: City, policies: PolicySet, journal_dir: str | None,
                 realtime: bool, start_s: float = 0.0) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        self._clock = WallClock() if realtime else ManualClock(start_s)
        journal = SqliteJournal(Path(journal_dir) / f"{config.host_id}.sqlite") if journal_dir else MemoryJournal()
        self._core = HostCore(config, city=city, policies=policies, journal=journal, now_s=self._clock.now_s())
        self._realtime = realtime
        self._peers: dict[str, ray.actor.ActorHandle] = {}
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()  # set after anything that may have changed an incident
        self._commanded = asyncio.Event()  # set after anything that may have queued a device command
        self._loop_task: asyncio.Task | None = None
        self._stopping = False
        self._send_failures = 0

    async def connect(self, peers: dict) -> None:
        self._peers = dict(peers)
        if self._realtime and self._loop_task is None:
            self._loop_task = asyncio.get_running_loop().create_task(self._run(), name=f"host-{self._core.host_id}")

    def _signal(self) -> None:
        """Wake the deadline loop and whoever long-polls for changes or device commands."""
        self._wake.set()
        self._changed.set()
        if self._core.device_commands:
            self._commanded.set()

    async def ingest(self, payload: bytes) -> bytes:
        result = self._core.ingest(decode_ingest(payload), now_s=self._clock.now_s())
        self._signal()
        return encode_result(result)

    async def device_states(self, payload: bytes) -> int:
        changed = self._core.device_states(decode_states(payload), now_s=self._clock.now_s())
        self._signal()
        return changed

    async def deliver(self, payload: bytes) -> None:
        self._core.deliver(decode_host_batch(payload), now_s=self._clock.now_s())
        self._signal()

    async def command(self, command: OperatorCommand) -> dict:
        try:
            record = self._core.command(command, now_s=self._clock.now_s())
        except RedbandError as exc:
            return {"ok": False, "error": str(exc), "error_type": type(exc).__name__, "record": None}
        self._signal()
        return {"ok": True, "error": "", "error_type": "", "record": record}

    async def deadline_lateness_s(self) -> list[float]:
        return list(self._core.deadline_lateness_s)

    async def record_audit(self, rows: list) -> None:
        self._core.record_audit(rows)

    async def audit_rows(self, limit: int) -> list:
        return self._core.journal.audit_rows(limit=limit)

    async def command_device(self, device_id: str, command: str, args: dict, actor: str) -> None:
        self._core.command_device(device_id, command, args, actor=actor, now_s=self._clock.now_s())
        self._signal()

    async def advance_to(self, t_s: float) -> dict[str, bytes]:
        """Virtual time: move the clock to ``t_s`` firing each due deadline at its own time; return the
        batches for other hosts (the driver carries them)."""
        if isinstance(self._clock, ManualClock):
            self._clock.set(max(t_s, self._clock.now_s()))
        self._core.advance(now_s=self._clock.now_s())
        now = self._clock.now_s()
        return {host: encode_host_batch(batch) for host, batch in self._core.take_outbox(now_s=now).items()}

    async def next_deadline_s(self) -> float | None:
        return self._core.next_deadline_s()

    async def take_changes(self) -> bytes:
        changes = self._core.take_changes()
        return encode_changes([(c.record, c.new_from) for c in changes])

    async def wait_changes(self, timeout_s: float) -> bytes:
        """The console gateway's long poll: the changes as soon as there are any, or none after ``timeout_s``.
        One caller at a time (the gateway keeps one outstanding per host)."""
        if not self._core.changes:
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(timeout_s, MAX_LONG_POLL_S))
        return await self.take_changes()

    async def take_device_commands(self) -> list:
        return self._core.take_device_commands()

    async def wait_device_commands(self, timeout_s: float) -> list:
        """The bridge's long poll: device commands (sirens, visitor calls) as soon as there are any, or none after
        ``timeout_s``. One caller at a time (bridge ``b0``)."""
        if not self._core.device_commands:
            self._commanded.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._commanded.wait(), timeout=min(timeout_s, MAX_LONG_POLL_S))
        return self._core.take_device_commands()

    async def open_incidents(self) -> list:
        return self._core.open_incidents()

    async def incident(self, incident_id: str):
        return self._core.incident(incident_id)

    async def queue_of(self, responder_id: str) -> list:
        responder = self._core.responders.get(responder_id)
        return list(responder.queue.values()) if responder else []

    async def statistics(self):
        return self._core.statistics()

    async def now_s(self) -> float:
        return self._clock.now_s()

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        self._changed.set()
        self._commanded.set()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        self._core.journal.close()

    async def _run(self) -> None:
        core = self._core
        while not self._stopping:
            now = self._clock.now_s()
            due = core.next_deadline_s()
            sleep_s = MAX_IDLE_SLEEP_S if due is None else min(MAX_IDLE_SLEEP_S, max(0.0, due - now))
            if sleep_s > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=sleep_s)
            self._wake.clear()
            try:
                core.advance(now_s=self._clock.now_s())
            except Exception:  # one failing deadline must not stop the host's clock
                log.exception("host %s: deadline handling failed", core.host_id)
            if core.changes:
                self._changed.set()
            if core.device_commands:
                self._commanded.set()
            await self._send_outbox()

    async def _send_outbox(self) -> None:
        outbox = self._core.take_outbox(now_s=self._clock.now_s())
        for host, batch in outbox.items():
            peer = self._peers.get(host)
            if peer is None:
                log.error("host %s: no peer %s; %d messages kept in the journal only", self._core.host_id, host,
                          len(batch.messages))
                continue
            try:
                await asyncio.wait_for(peer.deliver.remote(encode_host_batch(batch)), timeout=SEND_TIMEOUT_S)
            except Exception:
                self._send_failures += 1
                log.exception("host %s: batch to %s failed (%d messages), kept for the next round",
                              self._core.host_id, host, len(batch.messages))
                self._core.requeue(host, batch.messages)
