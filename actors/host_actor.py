"""The Ray shell around a :class:`engine.host.HostCore`. No business rule lives here: it decodes,
calls the core with the time, and carries out what the core leaves to be done (batches to other hosts).

In real-time mode one background task per host sleeps until the next deadline (or until a new message
may have moved it), fires what is due and sends the outbox, one batch per destination host. In virtual
mode a driver moves the host's clock with ``advance_to`` and carries the batches itself.

A host is a named actor (``host:<id>`` in the engine's namespace) that Ray restarts whenever its process dies
(``max_restarts=-1``): its own start rebuilds it from the journal and starts its deadline loop, which re-arms every
pending deadline and every supervised device. Peers find each other by name, never by a handle kept from birth.
If the deadline loop dies, or the journal can be neither written nor read, the process exits so that Ray starts
it again: a live host with a dead clock would hold its precinct's alarms and escalate none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import warnings

import ray

from actors import heap
from actors.directory import announce_start
from actors.engine_files import read_engine_files
from actors.host_metrics import HostMetrics, HostTimings
from actors.host_place import HostPlace
from actors.journal_open import journal_label, open_journal
from engine.clock import ManualClock, WallClock
from engine.errors import JournalFenced, JournalUnavailable, RedbandError
from engine.host import HostConfig, HostCore
from engine.journal import AuditFilter, AuditPage
from engine.patrol import nearest
from engine.policy import PolicySet
from engine.topology import City
from protocols.batch import (decode_host_batch, decode_ingest, decode_states, encode_changes, encode_host_batch,
                             encode_result)
from protocols.records import DeliveryNote, IncidentRecord, OperatorCommand

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 2.0
"""A peer (the command center's host) that does not take a batch in this time keeps it for the next round: a hung
peer must not hold this host's deadlines up for long."""
MAX_IDLE_SLEEP_S = 1.0
MAX_LONG_POLL_S = 5.0
OPEN_ATTEMPTS = 5
"""How often a starting host tries to open and read its journal (a second apart) before its process exits."""
EXIT_HOST_FAILED = 71
"""The process's exit status when its deadline loop died or its journal is unusable: Ray starts it again."""


def host_actor_name(host_id: str) -> str:
    return f"host:{host_id}"


@ray.remote
class HostActor:
    async def __init__(self, config: HostConfig, city: City | str, policies: PolicySet, journal_dir: str | None,
                       realtime: bool, start_s: float = 0.0, namespace: str | None = None) -> None:
        """``city``: this host's share of the city, or the path of the engine's files to take it (and the policies)
        from at every start (``actors/engine_files.py``)."""
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        if isinstance(city, str):
            whole, policies, placement = read_engine_files(city)
            city = placement.city_for_host(whole, config.host_id)
        self._clock = WallClock() if realtime else ManualClock(start_s)
        self._journal = journal_dir  # a directory or a PostgreSQL URL (actors/journal_open.py)
        self._journal_path = journal_label(journal_dir, config.host_id)
        self._timings = HostTimings()
        self._core = await self._open(config, city, policies)
        nearest.warm()  # the unit kernel compiled (or loaded from numba's cache) now, not by the first alarm
        heap.settle()  # what lives as long as the host, out of its full collections (stalls of 80-120 ms)
        self._realtime = realtime
        self._namespace = namespace
        self._peers: dict[str, ray.actor.ActorHandle] = {}
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()  # set after anything that may have changed an incident
        self._commanded = asyncio.Event()  # set after anything that may have queued a device command
        self._loop_task: asyncio.Task | None = None
        self._stopping = False
        self._send_failures = 0
        self._started_at = time.time()
        context = ray.get_runtime_context()
        self._node_id = context.get_node_id()
        with warnings.catch_warnings():  # Ray warns about its own use of a deprecated call inside this property
            warnings.simplefilter("ignore")
            self._restarted = bool(context.was_current_actor_reconstructed)
        if self._restarted:
            log.warning("host %s: restarted on node %s; rebuilt from its journal (%d open incidents, %d deadlines)",
                        config.host_id, self._node_id[:12], len(self._core.open_incidents()),
                        len(self._core.scheduler), extra={"host_id": config.host_id})
        announce_start(namespace, host_actor_name(config.host_id), {"node_id": self._node_id, "pid": os.getpid()})
        if realtime:  # every start, first or after a crash, runs the clock: nobody has to call in
            self._loop_task = asyncio.get_running_loop().create_task(self._run(), name=f"host-{config.host_id}")
            self._loop_task.add_done_callback(self._loop_ended)

    async def _open(self, config: HostConfig, city: City, policies: PolicySet) -> HostCore:
        """The core, rebuilt from the journal; a journal that cannot be opened or read is tried again a few times,
        then the process exits (Ray starts it again: the disk may be back by then)."""
        for attempt in range(1, OPEN_ATTEMPTS + 1):
            try:
                journal = open_journal(self._journal, config.host_id)
                return HostCore(config, city=city, policies=policies, journal=self._timings.timed(journal),
                                now_s=self._clock.now_s())
            except Exception:
                log.exception("host %s: opening the journal %s failed (attempt %d of %d)", config.host_id,
                              self._journal_path, attempt, OPEN_ATTEMPTS, extra={"host_id": config.host_id})
                await asyncio.sleep(1.0)  # the pause between attempts: a disk being remounted, a lock being freed
        _exit_process(f"host {config.host_id}: the journal {self._journal_path} cannot be opened")

    def _loop_ended(self, task: asyncio.Task) -> None:
        if self._stopping:
            return
        reason = "cancelled" if task.cancelled() else repr(task.exception())
        _exit_process(f"host {self._core.host_id}: the deadline loop ended ({reason})")

    async def connect(self, peers: dict | None = None) -> HostPlace:
        """Ready check (the engine waits for every host's): where this host runs. ``peers``, if given, are handles
        to use before the registry (the engine's namespace) is asked."""
        if peers:
            self._peers.update(peers)
        return await self.where()

    async def where(self) -> HostPlace:
        """Where this host runs and how it is: for ``redband status``."""
        return HostPlace(self._core.host_id, self._node_id, os.getpid(), self._restarted, self._started_at,
                         self._journal_path, self._core.statistics().journal_failures)

    def _peer(self, host_id: str):
        peer = self._peers.get(host_id)
        if peer is None and self._namespace is not None:
            try:
                peer = self._peers[host_id] = ray.get_actor(host_actor_name(host_id), namespace=self._namespace)
            except ValueError:  # not started (yet): the batch waits in the outbox
                return None
        return peer

    def _failed_step(self, exc: JournalUnavailable) -> None:
        """The core already went back to its journal; if it could not even read it, this process must go."""
        heap.release()  # the state it threw away, settled with the rest, must be collectable
        self._signal()
        if self._core.broken and not self._stopping:  # (stopping: the journal was closed on purpose)
            _exit_process(f"host {self._core.host_id}: {exc}; the journal cannot be read back")
        if isinstance(exc.__cause__, JournalFenced) and not self._stopping:  # opened again elsewhere: a zombie goes,
            _exit_process(f"host {self._core.host_id}: {exc}")  # and Ray's own copy takes the journal back if it is this

    async def fail_journal_writes(self, refuse: bool) -> None:
        """Fault injection (tests, drills): the journal refuses every write until called with False."""
        self._core.journal.refuse_writes(refuse)

    @contextlib.contextmanager
    def _step(self):
        """A call into the core: a refused journal write ends it (and this process, when the journal is gone too);
        either way the deadline loop and the long-pollers are woken."""
        try:
            with self._timings.step():
                yield
        except JournalUnavailable as exc:
            self._failed_step(exc)
            raise
        self._signal()

    def _signal(self) -> None:
        """Wake the deadline loop and whoever long-polls for changes or device commands."""
        self._wake.set()
        self._changed.set()
        if self._core.device_commands:
            self._commanded.set()

    async def ingest(self, payload: bytes) -> bytes:
        """The acks of a batch, after its journal write. A write that fails raises :class:`JournalUnavailable`
        (nothing of the batch was kept; the caller retries)."""
        with self._step():
            result = self._core.ingest(decode_ingest(payload), now_s=self._clock.now_s())
        return encode_result(result)

    async def device_states(self, payload: bytes) -> int:
        with self._step():
            changed = self._core.device_states(decode_states(payload), now_s=self._clock.now_s())
        return changed

    async def deliver(self, payload: bytes) -> None:
        with self._step():
            self._core.deliver(decode_host_batch(payload), now_s=self._clock.now_s())

    async def command(self, command: OperatorCommand) -> IncidentRecord:
        """The incident after the command, or the refusal itself: a ``RedbandError`` (``InvalidTransition``,
        ``NotAuthorized``, ``UnknownIncident``, ``JournalUnavailable``) raised here reaches the caller's
        ``ray.get`` as that type (``Engine.command`` unwraps it), with its message and fields."""
        with self._step():
            record = self._core.command(command, now_s=self._clock.now_s())
        return record

    async def deliveries(self, notes: list[DeliveryNote]) -> list:
        """Per delivery line: the incident after it, None (nothing new), or its refusal (``UnknownIncident``)."""
        with self._step():
            outcomes = self._core.deliveries(notes, now_s=self._clock.now_s())
        return outcomes

    async def deadline_lateness_s(self) -> list[float]:
        return list(self._core.deadline_lateness_s)

    async def record_audit(self, rows: list) -> None:
        try:
            self._core.record_audit(rows)
        except JournalUnavailable as exc:
            self._failed_step(exc)
            raise

    async def audit_rows(self, query: AuditFilter) -> AuditPage:
        return self._core.journal.audit_page(query)

    async def command_device(self, device_id: str, command: str, args: dict, actor: str, role: str = "",
                             scope: str = "", reason: str = "") -> None:
        with self._step():
            self._core.command_device(device_id, command, args, actor=actor, now_s=self._clock.now_s(), role=role,
                                      scope=scope, reason=reason)

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
        ``timeout_s``. One caller at a time (bridge ``b0``). Each is held until the bridge confirms it published it
        (:meth:`confirm_device_commands`), or handed out again."""
        if not self._core.device_commands:
            self._commanded.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._commanded.wait(), timeout=min(timeout_s, MAX_LONG_POLL_S))
        return self._core.take_device_commands(now_s=self._clock.now_s())

    async def confirm_device_commands(self, numbers: list[int]) -> None:
        self._core.confirm_device_commands(numbers)

    async def open_incidents(self) -> list:
        return self._core.open_incidents()

    async def incident(self, incident_id: str):
        return self._core.incident(incident_id)

    async def ask(self, request):
        """A desk request (``protocols/desk.py``); the engine's own error when refused."""
        with self._step():
            return self._core.ask(request, now_s=self._clock.now_s())

    async def queue_of(self, responder_id: str) -> list:
        responder = self._core.responders.get(responder_id)
        return list(responder.queue.values()) if responder else []

    async def statistics(self):
        return self._core.statistics()

    async def metrics(self) -> HostMetrics:  # for /metrics (actors/metrics.py): counters and timings
        return self._timings.report(self._core.statistics())

    async def now_s(self) -> float:
        return self._clock.now_s()

    async def set_clock(self, t_s: float) -> None:
        """Virtual time: a host restarted by Ray starts at its first start time; the driver moves it on."""
        if isinstance(self._clock, ManualClock):
            self._clock.set(max(t_s, self._clock.now_s()))

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
            heap.settle_if_due()
            try:
                core.advance(now_s=self._clock.now_s())
            except JournalUnavailable as exc:  # the deadlines are back in the heap (from the journal): next round
                self._failed_step(exc)
                await asyncio.sleep(MAX_IDLE_SLEEP_S)  # not a tight loop against a full disk
            except Exception:  # each deadline's own errors are retried by the core; this is anything else
                log.exception("host %s: deadline handling failed", core.host_id)
            if core.changes:
                self._changed.set()
            if core.device_commands:
                self._commanded.set()
            await self._send_outbox()

    async def _send_outbox(self) -> None:
        outbox = self._core.take_outbox(now_s=self._clock.now_s())
        for host, batch in outbox.items():
            peer = self._peer(host)
            if peer is None:
                log.error("host %s: no peer %s yet; %d messages kept for the next round", self._core.host_id, host,
                          len(batch.messages))
                self._core.requeue(host, batch.messages)
                continue
            try:
                await asyncio.wait_for(peer.deliver.remote(encode_host_batch(batch)), timeout=SEND_TIMEOUT_S)
            except Exception:
                self._send_failures += 1
                log.exception("host %s: batch to %s failed (%d messages), kept for the next round",
                              self._core.host_id, host, len(batch.messages))
                self._core.requeue(host, batch.messages)


def _exit_process(why: str):
    """End this actor's process so that Ray starts it again (``max_restarts``)."""
    log.critical("%s; exiting so that Ray restarts this host", why)
    logging.shutdown()
    os._exit(EXIT_HOST_FAILED)
