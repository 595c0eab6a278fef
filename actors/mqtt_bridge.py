"""The MQTT bridge: devices on the broker ↔ the engine's hosts.

Two lanes, each its own MQTT connection, batcher and in-flight budget, so an alarm never waits
behind positions or heartbeats:

    alarm lane   $share/<group>/rb/v1/dev/+/alarm           QoS 1
    bulk lane    $share/<group>/rb/v1/dev/+/evt  and  /state  QoS 1 (devices may publish QoS 0)

The group and the client ids (``redband-<tag>-b0-alarm``) carry a tag derived from the bridge's password
(``protocols.topics.bridge_tag``): the broker's ACL lets only the bridge subscribe to that group, and a device
cannot guess the ids.

Each lane validates with ``protocols/``, closes a batch at ``batch_max`` events or ``batch_window_s``
after its first event, and hands it to the sink (the hosts). The answers go back on each device's
``ack`` topic in the encoding of the message they answer: an ack for every alarm (only after the host
wrote it to its journal) and for every event that touched an incident; a NAK with the reason for every
refusal. Plain telemetry that was accepted is not acked: at 10,000 positions a second the acks
would double the broker's load for nothing a device can act on.

Sessions are persistent (clean start off, a session expiry), so QoS 1 alarms published while the
bridge was away are delivered when it is back; every connect subscribes again; a lost connection is
retried after ``uniform(0, min(cap, 1.5 ** min(10, attempt)))`` seconds. Every queue is bounded.

No payload stops a lane: ``classify`` answers any bytes with a verdict. A lane that meets an error it does
not understand anyway lets it end the bridge (``run`` raises; the Ray actor's process then exits and Ray starts
it again), after writing the message's fingerprint to its dead-letter ledger (``actors/dead_letters.py``): a
message that has killed a lane twice is dead-lettered when it comes back, never handled again.

The alarm lane also probes its share group: every ``probe_interval_s`` it publishes an alarm for its own
pseudo-device (``redband-probe-b0``); whichever bridge lane takes it answers on ``rb/v1/bridge/b0/probe``.
A probe that nobody answers was taken by a member of the group that is not a running bridge — a device that
joined the group, or a bridge session left behind — and the lane says so (``probes_lost``, a warning).

A batch is split over the hosts that own its devices and each host answers for its own part. What a host did not
take (dead, restarting, overloaded, its journal failing) is NAKed to the device (``unavailable, retry: ...``) and,
for alarms and reports (``EventKind.must_be_taken``), kept in the lane's retry buffer and offered again, with
backoff, until a host takes it: the device's own retry is the second line, not the first. The buffer is bounded
(``retry_max``); telemetry is never kept (the next heartbeat supersedes it).

Device commands are confirmed to their host once published; one that a dying bridge never published is handed out
again by its host. A notice is published while its caller waits (``publish_notice``), so a notice that did not
reach the broker is an error for the caller, not a silent loss.

The bridge knows nothing of Ray: the sink does the routing (``actors/bridge_actor.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol

import aiomqtt
import orjson
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from actors.dead_letters import DeadLetters, default_state_dir, fingerprint

from protocols.batch import DeviceAck, Ingest, IngestResult, StateChange
from protocols.endpoint import NO_DELAY, MqttEndpoint
from protocols.device import message_digest
from protocols.inbound import EventIn, Refused, StateIn, classify
from protocols.replies import (
    RETRY_LATER,
    Ack,
    Notice,
    ack_of,
    encode_ack,
    encode_command,
    encode_notice,
    nak,
)
from protocols.topics import (
    PREFIX,
    Channel,
    bridge_client_id,
    bridge_share_group,
    device_topic,
    notice_topic,
    probe_answer_topic,
    probe_device_id,
    subscription,
)

log = logging.getLogger(__name__)

YIELD_EVERY = 256
MAX_PENDING_NAKS = 10_000


class Sink(Protocol):
    """Where the bridge sends what devices said, and where it finds what to say to them."""

    async def ingest(self, items: list[Ingest]) -> IngestResult: ...

    async def states(self, states: list[StateChange]) -> None: ...

    async def take_device_commands(self, wait_s: float = 0.0) -> list:
        """Pending device commands; with ``wait_s``, wait up to that long for the first."""
        ...

    async def dead_letter(self, row: "DeadLetter") -> None:
        """Journal a dead-lettered message where the command center sees it."""
        ...

    async def confirm_device_commands(self, commands: list) -> None:
        """These commands were published (their hosts stop holding them for redelivery)."""
        ...


@dataclass(frozen=True, slots=True)
class DeadLetter:
    at_s: float
    bridge_id: str
    lane: str
    topic: str
    device_id: str
    reason: str
    payload_head: str
    """The first bytes of the payload, hex, for whoever investigates."""


@dataclass(frozen=True, slots=True)
class BridgeOptions:
    endpoint: MqttEndpoint
    bridge_id: str = "b0"
    share_group: str | None = None
    """None: the group derived from the bridge's password (what ``redband mqtt-config`` grants it); "": no shared
    subscription at all (one bridge on a broker of its own)."""
    batch_max: int = 2000
    batch_window_s: float = 0.002
    alarm_batch_max: int = 256
    alarm_batch_window_s: float = 0.0
    """An alarm batch takes what is already queued and goes: no waiting for company."""
    max_in_flight_batches: int = 1
    """Bulk lane: one batch in flight, so batches grow with the load instead of Ray calls multiplying
    (measured: 9,800 events/s at 1 against 9,200 at 4, with less CPU; docs/benchmarks.md)."""
    alarm_in_flight_batches: int = 4
    max_queued_messages: int = 50_000
    session_expiry_s: int = 3600
    keepalive_s: int = 30
    connect_timeout_s: float = 10.0
    backoff_cap_s: float = 2.0
    """The bridge is a few connections to the engine's own broker, not a fleet of devices: no herd to spread,
    and every second it stays away after the broker is back is a second of alarms not raised. At 30 s, a 5 s
    broker outage kept the bulk lane away 4.6 s after the broker returned (``broker_restart.toml``)."""
    command_poll_s: float = 0.05
    """How often to look again for the bulk connection while it is down (commands wait with their hosts)."""
    command_wait_s: float = 0.5
    """How long one device-command long poll waits for the first command before looking at the connection."""
    poll_commands: bool = True
    ack_qos: int = 1
    lanes: tuple[str, ...] = ("alarm", "evt")
    """Which lanes this bridge process runs: the engine gives the alarm lane a process of its own, so an
    alarm never waits for the bulk lane's parsing (one event loop, one GIL)."""
    state_dir: str | None = None
    """Where each lane keeps its dead-letter ledger (the engine gives its journal directory); None: this node's
    temporary directory."""
    probe_interval_s: float = 2.0
    """How often the alarm lane probes its share group (0: never)."""
    probe_timeout_s: float = 5.0
    """A probe not answered in this time was taken by a foreign member of the group."""
    fault_marker: bytes = b""
    """Fault injection (tests, drills): a message whose payload holds these bytes raises inside the lane, as a bug
    would. Empty: off."""
    retry_max: int = 10_000
    """Alarms and reports a lane keeps for another try when their host did not take them; beyond, dropped (counted,
    the device's own retry is left)."""
    retry_first_s: float = 0.2
    retry_cap_s: float = 5.0
    reap_bridge_ids: tuple[str, ...] = ()
    """Bridge ids of an earlier, larger run whose persistent sessions must go before this one starts:
    Mosquitto hands a shared subscription's messages round-robin to offline sessions too, so a bridge that
    will not return would hold a share of the alarms until its session expired."""


@dataclass(slots=True)
class LaneStats:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    refused: int = 0
    acks_sent: int = 0
    connects: int = 0
    batches: int = 0
    dropped: int = 0
    connected: bool = False
    last_error: str = ""
    dead_lettered: int = 0
    probes_sent: int = 0
    probes_answered: int = 0
    probes_lost: int = 0
    not_taken: int = 0
    """Messages a host did not take (dead, restarting, overloaded, journal failing): NAKed ``unavailable``."""
    retried: int = 0
    """Kept alarms and reports offered to the hosts again."""
    retrying: int = 0
    """Kept alarms and reports waiting for their host now."""


@dataclass(slots=True)
class _Pending:
    """A batch on its way to the hosts: the events and, for each answer, the encoding to use."""

    items: list[Ingest] = field(default_factory=list)
    states: list[StateChange] = field(default_factory=list)
    json_of: dict[tuple[str, int], bool] = field(default_factory=dict)


def backoff_s(attempt: int, *, cap_s: float, rng: random.Random = random._inst) -> float:  # type: ignore[attr-defined]
    """Full jitter, capped: ``uniform(0, min(cap, 1.5 ** min(10, attempt)))``."""
    return rng.uniform(0.0, min(cap_s, 1.5 ** min(10, attempt)))


class MqttBridge:
    def __init__(self, options: BridgeOptions, sink: Sink, *, known_device=None) -> None:
        self.options = options
        self.sink = sink
        self.known_device = known_device
        self.stats = {Channel(lane): LaneStats() for lane in options.lanes}
        self.commands_sent = 0
        self.notices_sent = 0
        self.naks_dropped = 0
        self._nak_tasks: set[asyncio.Task] = set()
        self._clients: dict[Channel, aiomqtt.Client] = {}
        self._queues: dict[Channel, asyncio.Queue] = {}
        self._stopping = asyncio.Event()
        self._retry: dict[Channel, dict[tuple, tuple[Ingest, bool]]] = {lane: {} for lane in self.stats}
        """Per lane, the kept messages by (device, boot, seq, digest), oldest first: a device's re-sends of one alarm
        while its host is away are one entry, not one per re-send."""
        state_dir = Path(options.state_dir) if options.state_dir else default_state_dir()
        self._dead_letters = {lane: DeadLetters(state_dir / f"bridge-{options.bridge_id}-{lane.value}.json")
                              for lane in self.stats}
        self._probe_topic = device_topic(probe_device_id(options.bridge_id), Channel.ALARM)
        self._probe_ack_topic = probe_answer_topic(options.bridge_id)
        self._probes_out: dict[int, float] = {}  # probe number → sent at (monotonic)

    # -- life --------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run both lanes (and the command poller) until :meth:`stop`."""
        if self.options.reap_bridge_ids:
            await self._reap_sessions(self.options.reap_bridge_ids)
        async with asyncio.TaskGroup() as tasks:
            if Channel.ALARM in self.stats:
                topics = [subscription(Channel.ALARM, share_group=self._group)]
                probing = self.options.probe_interval_s > 0 and self._group is not None
                if probing:
                    topics.append(self._probe_ack_topic)
                tasks.create_task(self._lane(Channel.ALARM, topics), name="alarm-lane")
                tasks.create_task(self._retry_not_taken(Channel.ALARM), name="alarm-retry")
                if probing:
                    tasks.create_task(self._probe(), name="share-group-probe")
            if Channel.EVT in self.stats:
                tasks.create_task(self._lane(Channel.EVT, [subscription(Channel.EVT, share_group=self._group),
                                                            subscription(Channel.STATE, share_group=self._group)]),
                                  name="bulk-lane")
                tasks.create_task(self._retry_not_taken(Channel.EVT), name="bulk-retry")
                if self.options.poll_commands:  # commands and notices leave on the bulk connection
                    tasks.create_task(self._commands(), name="device-commands")
            tasks.create_task(self._stop_all_on_request())

    def stop(self) -> None:
        self._stopping.set()

    @property
    def connected(self) -> bool:
        return all(s.connected for s in self.stats.values())

    @property
    def _group(self) -> str | None:
        group = self.options.share_group
        if group is None:
            return bridge_share_group(self.options.endpoint.password or "")
        return group or None

    def _identifier(self, bridge_id: str, lane: Channel) -> str:
        return bridge_client_id(self.options.endpoint.password or "", bridge_id, lane.value)

    async def _reap_sessions(self, bridge_ids: tuple[str, ...]) -> None:
        """End the sessions of bridges that are gone: connect as each with clean start and no expiry."""
        o = self.options
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0
        for bridge_id in bridge_ids:
            for lane in (Channel.ALARM, Channel.EVT):
                identifier = self._identifier(bridge_id, lane)
                try:
                    async with aiomqtt.Client(o.endpoint.host, o.endpoint.port, username=o.endpoint.username,
                                              password=o.endpoint.password, identifier=identifier,
                                              protocol=aiomqtt.ProtocolVersion.V5, clean_start=True,
                                              properties=props, timeout=o.connect_timeout_s):
                        pass
                except aiomqtt.MqttError as exc:  # the lanes will meet the same broker trouble and report it
                    log.warning("bridge %s: could not end the session of %s: %s", o.bridge_id, identifier, exc)
                    return

    async def _stop_all_on_request(self) -> None:
        await self._stopping.wait()
        raise _Stopped

    # -- one lane ----------------------------------------------------------------------------------

    def _client(self, lane: Channel) -> aiomqtt.Client:
        o = self.options
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = o.session_expiry_s
        props.ReceiveMaximum = 1000
        queue_type = _recording_queue(self._queues, lane)
        return aiomqtt.Client(
            o.endpoint.host, o.endpoint.port, username=o.endpoint.username, password=o.endpoint.password,
            identifier=self._identifier(o.bridge_id, lane), protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False, properties=props, socket_options=NO_DELAY, keepalive=o.keepalive_s,
            timeout=o.connect_timeout_s,
            queue_type=queue_type, max_queued_incoming_messages=o.max_queued_messages, max_queued_outgoing_messages=o.max_queued_messages,
        )

    async def _lane(self, lane: Channel, topics: list[str]) -> None:
        stats = self.stats[lane]
        attempt = 0
        while not self._stopping.is_set():
            client = self._client(lane)
            try:
                async with client:
                    for topic in topics:
                        granted = await client.subscribe(topic, options=_subscribe_options(topic),
                                                         timeout=self.options.connect_timeout_s)
                        _check_granted(topic, granted)
                    self._clients[lane] = client
                    stats.connected = True
                    stats.connects += 1
                    attempt = 0
                    log.info("bridge %s: %s lane connected to %r", self.options.bridge_id, lane.value,
                             self.options.endpoint)
                    await self._pump(lane, client)
            except aiomqtt.MqttError as exc:
                stats.last_error = str(exc)
                log.warning("bridge %s: %s lane: %s", self.options.bridge_id, lane.value, exc)
            finally:
                stats.connected = False
                self._clients.pop(lane, None)
            if self._stopping.is_set():
                return
            attempt += 1
            delay = backoff_s(attempt, cap_s=self.options.backoff_cap_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)

    async def _pump(self, lane: Channel, client: aiomqtt.Client) -> None:
        """Read messages into batches; each closed batch goes to the hosts while the next one fills.
        Returns when the connection is lost, after the batches in flight are answered."""
        o = self.options
        batch_max = o.alarm_batch_max if lane is Channel.ALARM else o.batch_max
        budget = o.alarm_in_flight_batches if lane is Channel.ALARM else o.max_in_flight_batches
        in_flight = asyncio.Semaphore(budget)
        queue = self._queues[lane]
        messages = client.messages
        async with asyncio.TaskGroup() as sends:
            while True:
                pending = _Pending()
                try:
                    self._take(lane, await anext(messages), pending)
                    window_s = o.alarm_batch_window_s if lane is Channel.ALARM else o.batch_window_s
                    closes_at = time.monotonic() + window_s
                    while len(pending.items) + len(pending.states) < batch_max:
                        if queue.qsize():  # what is already here needs no waiting
                            self._take(lane, queue.get_nowait(), pending)
                            if len(pending.items) % YIELD_EVERY == 0:
                                await asyncio.sleep(0)  # let the socket readers and acks run in between
                            continue
                        left = closes_at - time.monotonic()
                        if left <= 0:
                            break
                        try:  # the queue itself: a timed-out get() never swallows a message
                            self._take(lane, await asyncio.wait_for(queue.get(), timeout=left), pending)
                        except TimeoutError:
                            break
                except aiomqtt.MqttError as exc:
                    log.warning("bridge %s: %s lane lost its connection: %s", o.bridge_id, lane.value, exc)
                    lost = True
                else:
                    lost = False
                if pending.items or pending.states:
                    await in_flight.acquire()
                    self.stats[lane].batches += 1
                    task = sends.create_task(self._send(lane, client, pending))
                    task.add_done_callback(lambda _t: in_flight.release())
                if lost:
                    return

    def _take(self, lane: Channel, message: aiomqtt.Message, pending: _Pending) -> None:
        stats = self.stats[lane]
        payload = message.payload if isinstance(message.payload, bytes) else bytes(message.payload or b"")
        topic = message.topic.value
        if lane is Channel.ALARM and (topic.startswith(_PROBE_TOPIC_PREFIX) or topic == self._probe_ack_topic):
            self._probe_seen(topic, payload)
            return
        stats.received += 1
        ledger = self._dead_letters[lane]
        if ledger and (entry := ledger.is_dead(fingerprint(topic, payload))) is not None:
            self._dead_letter(lane, topic, payload, entry.reason)
            return
        try:
            self._take_one(lane, topic, payload, pending, retained=bool(message.retain))
        except Exception as exc:
            # not understood: this lane ends (and with it the process, which Ray starts again); the ledger
            # remembers the message, so the second time it kills a lane is the last
            ledger.record_kill(fingerprint(topic, payload), topic, f"{type(exc).__name__}: {exc}")
            log.critical("bridge %s: %s lane stopped on a message on %s: %r", self.options.bridge_id, lane.value,
                         topic, exc)
            raise

    def _take_one(self, lane: Channel, topic: str, payload: bytes, pending: _Pending, *, retained: bool = False
                  ) -> None:
        stats = self.stats[lane]
        if self.options.fault_marker and self.options.fault_marker in payload:
            raise RuntimeError("fault injected: this payload carries the fault marker")
        inbound = classify(topic, payload, known_device=self.known_device)
        if isinstance(inbound, EventIn):
            key = (inbound.device_id, inbound.message.seq)
            pending.json_of[key] = inbound.json
            pending.items.append(Ingest(inbound.device_id, inbound.message, int(time.time() * 1000), inbound.json))
        elif isinstance(inbound, StateIn):
            if retained and inbound.change.online:
                return  # an old "online" kept by the broker is no sign of life now (a Will lost in a broker crash)
            pending.states.append(inbound.change)
        elif isinstance(inbound, Refused):
            stats.refused += 1
            log.info("bridge %s: refused %s: %s", self.options.bridge_id, topic, inbound.reason)
            if inbound.device_id:
                self._publish_later(lane, inbound.device_id, encode_ack(nak(inbound.seq, inbound.reason),
                                                                         json=inbound.json))

    def _dead_letter(self, lane: Channel, topic: str, payload: bytes, reason: str) -> None:
        """A message that killed a lane twice: refused to its device, reported for the journal, never handled."""
        stats = self.stats[lane]
        stats.dead_lettered += 1
        device_id = _device_of(topic)
        why = f"payload: dead-lettered, it stopped the {lane.value} lane twice ({reason[:120]})"
        log.error("bridge %s: %s lane dead-lettered a message on %s: %s", self.options.bridge_id, lane.value, topic,
                  reason)
        if device_id:
            self._publish_later(lane, device_id, encode_ack(nak(None, why), json=payload[:1] == b"{"))
        row = DeadLetter(time.time(), self.options.bridge_id, lane.value, topic, device_id, reason[:500],
                         payload[:64].hex())
        self._spawn(self.sink.dead_letter(row), what=f"dead letter of {topic}")

    def _spawn(self, coro, *, what: str) -> None:
        """A short task with an owner (this set) and a bound; past the bound the work is dropped and counted."""
        if len(self._nak_tasks) >= MAX_PENDING_NAKS:
            self.naks_dropped += 1
            coro.close()
            return

        async def guarded() -> None:
            try:
                await coro
            except Exception:  # reported, never silent: the lane goes on
                log.exception("bridge %s: %s failed", self.options.bridge_id, what)

        task = asyncio.get_running_loop().create_task(guarded())
        self._nak_tasks.add(task)
        task.add_done_callback(self._nak_tasks.discard)

    # -- the share group probe ---------------------------------------------------------------------

    async def _probe(self) -> None:
        """Send a probe every ``probe_interval_s`` while connected; count the ones nobody answered in time."""
        o = self.options
        number = 0
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=o.probe_interval_s)
            if self._stopping.is_set():  # not a publish on a connection that is closing
                return
            client = self._clients.get(Channel.ALARM)
            stats = self.stats[Channel.ALARM]
            if client is None:
                self._probes_out.clear()  # an outage is not a thief
                continue
            now = time.monotonic()
            for n, sent in list(self._probes_out.items()):
                if now - sent > o.probe_timeout_s:
                    del self._probes_out[n]
                    stats.probes_lost += 1
                    log.warning("bridge %s: share group probe %d was never answered: a member of the group %r that "
                                "is not a running redband bridge took it (a device that joined the group, or a "
                                "bridge session left behind); alarms are being dealt to it too",
                                o.bridge_id, n, self._group)
            number += 1
            payload = orjson.dumps({"probe": number, "bridge": o.bridge_id})
            if await self._publish(client, self._probe_topic, payload, qos=1):  # QoS 1, as alarms travel
                self._probes_out[number] = time.monotonic()
                stats.probes_sent += 1

    def _probe_seen(self, topic: str, payload: bytes) -> None:
        """A probe: answer another bridge's (or our own) on its answer topic; count the answers to our own."""
        if topic == self._probe_ack_topic:
            try:
                number = orjson.loads(payload)["probe"]
            except Exception:  # noqa: BLE001 - only bridges may publish here; a bad one is simply not an answer
                return
            if self._probes_out.pop(number, None) is not None:
                self.stats[Channel.ALARM].probes_answered += 1
            return
        try:
            bridge_id = orjson.loads(payload)["bridge"]
            answer_topic = probe_answer_topic(bridge_id)
        except Exception:  # noqa: BLE001 - not a probe of ours: nothing to answer
            return
        client = self._clients.get(Channel.ALARM)
        if client is not None:
            self._spawn(self._publish(client, answer_topic, payload, qos=1), what="probe answer")

    async def _send(self, lane: Channel, client: aiomqtt.Client, pending: _Pending, *, retry: bool = False) -> bool:
        """One batch to the hosts, and the answers to the devices; returns whether the hosts took all of it."""
        stats = self.stats[lane]
        if pending.states:  # on their own: a host that is down must not hold up the batch's events
            self._spawn(self.sink.states(pending.states), what=f"{len(pending.states)} device states")
        if not pending.items:
            return True
        split = getattr(self.sink, "ingest_parts", None)
        parts = split(pending.items) if split is not None else [self.sink.ingest(pending.items)]
        taken = True
        for answered in asyncio.as_completed(parts):  # each host's acks as soon as that host answers
            try:
                result = await answered
            except Exception as exc:
                result = IngestResult(0, 0, 0, [], list(pending.items), f"{type(exc).__name__}: {exc}"[:300])
            taken = await self._answer(lane, client, pending, result, retry=retry) and taken
        return taken

    async def _answer(self, lane: Channel, client: aiomqtt.Client, pending: _Pending, result: IngestResult, *,
                      retry: bool) -> bool:
        stats = self.stats[lane]
        stats.accepted += result.accepted
        stats.duplicates += result.duplicates
        stats.refused += result.refused
        await asyncio.gather(*(self._ack(client, ack, pending.json_of.get((ack.device_id, ack.seq), False))
                               for ack in result.acks))
        stats.acks_sent += len(result.acks)
        if result.not_taken:
            self._not_taken(lane, result, pending, retry=retry)
        return not result.not_taken

    def _not_taken(self, lane: Channel, result: IngestResult, pending: _Pending, *, retry: bool) -> None:
        """What no host took: the alarms and reports are kept for another try, and each device is told (once)."""
        stats = self.stats[lane]
        buffer = self._retry[lane]
        kept = 0
        for item in result.not_taken:
            as_json = pending.json_of.get((item.device_id, item.message.seq), False)
            if not retry:
                stats.not_taken += 1
                self._publish_later(lane, item.device_id, encode_ack(
                    Ack(ok=False, seq=item.message.seq, reason=f"{RETRY_LATER}: {result.not_taken_reason}"[:300],
                        boot=item.message.boot), json=as_json))
            key = (item.device_id, item.message.boot, item.message.seq, message_digest(item.message))
            if not item.message.event_kind.must_be_taken:
                stats.dropped += 1
            elif key in buffer:
                continue  # a re-send of one already kept
            elif len(buffer) >= self.options.retry_max:
                stats.dropped += 1
            else:
                buffer[key] = (item, as_json)
                kept += 1
        stats.retrying = len(buffer)
        if not retry:
            log.warning("bridge %s: %s lane: %d messages not taken (%d kept to try again): %s", self.options.bridge_id,
                        lane.value, len(result.not_taken), kept, result.not_taken_reason)

    async def _retry_not_taken(self, lane: Channel) -> None:
        """Offer the kept alarms and reports to the hosts again, with backoff while they are still not taken."""
        o = self.options
        batch_max = o.alarm_batch_max if lane is Channel.ALARM else o.batch_max
        delay_s = o.retry_first_s
        buffer = self._retry[lane]
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay_s)  # the retry backoff
            client = self._clients.get(lane)
            if not buffer or client is None:
                delay_s = o.retry_first_s
                continue
            keys = list(itertools.islice(buffer, batch_max))
            batch = [buffer.pop(key) for key in keys]
            pending = _Pending(items=[item for item, _ in batch],
                               json_of={(item.device_id, item.message.seq): as_json for item, as_json in batch})
            self.stats[lane].retried += len(batch)
            self.stats[lane].retrying = len(buffer)  # what failed again is put back (and counted) by _send
            taken = await self._send(lane, client, pending, retry=True)
            delay_s = o.retry_first_s if taken else min(o.retry_cap_s, delay_s * 2)

    async def _ack(self, client: aiomqtt.Client, ack: DeviceAck, as_json: bool) -> None:
        await self._publish(client, device_topic(ack.device_id, Channel.ACK),
                            encode_ack(ack_of(ack), json=as_json), qos=self.options.ack_qos)

    def _publish_later(self, lane: Channel, device_id: str, payload: bytes) -> None:
        """A NAK, sent without holding up the batch; at most ``MAX_PENDING_NAKS`` wait at once (a flood of
        garbage must not grow the bridge without bound: beyond that, NAKs are counted and dropped)."""
        client = self._clients.get(lane)
        if client is None:
            return
        if len(self._nak_tasks) >= MAX_PENDING_NAKS:
            self.naks_dropped += 1
            return
        task = asyncio.get_running_loop().create_task(
            self._publish(client, device_topic(device_id, Channel.ACK), payload, qos=self.options.ack_qos))
        self._nak_tasks.add(task)
        task.add_done_callback(self._nak_tasks.discard)

    async def _publish(self, client: aiomqtt.Client, topic: str, payload: bytes, *, qos: int,
                       retain: bool = False) -> bool:
        try:
            await client.publish(topic, payload, qos=qos, retain=retain, timeout=self.options.connect_timeout_s)
            return True
        except aiomqtt.MqttError as exc:  # the device publishes again and gets its answer then
            log.warning("bridge %s: publish to %s failed: %s", self.options.bridge_id, topic, exc)
            return False

    # -- engine → devices --------------------------------------------------------------------------

    async def _commands(self) -> None:
        """Carry the hosts' device commands to ``rb/v1/dev/{id}/cmd`` the moment they are queued (the hosts hold
        a long poll). Notices have a task of their own (:meth:`_notices_out`): they do not wait for a command."""
        while not self._stopping.is_set():
            client = self._clients.get(Channel.EVT)
            if client is None:  # commands stay with their hosts until there is a connection to send them on
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=self.options.command_poll_s)
                continue
            try:
                commands = await self.sink.take_device_commands(wait_s=self.options.command_wait_s)
            except Exception:
                log.exception("bridge %s: could not fetch device commands", self.options.bridge_id)
                with contextlib.suppress(TimeoutError):  # not in a tight loop
                    await asyncio.wait_for(self._stopping.wait(), timeout=self.options.command_poll_s)
                continue
            published = []
            for command in commands:
                payload = encode_command(command.command, dict(command.args), int(command.at_s * 1000),
                                         json=command.json)  # the device's own encoding, known to its host
                if await self._publish(client, device_topic(command.device_id, Channel.CMD), payload, qos=1):
                    self.commands_sent += 1
                    published.append(command)
            if published:  # the rest their hosts hand out again (unconfirmed ones too: a repeat, never a loss)
                self._spawn(self.sink.confirm_device_commands(published), what="confirming device commands")

    async def publish_notice(self, site_id: str, notice: Notice) -> None:
        """Publish a notice for a site's door screens, retained (a screen that connects later gets it); returns once
        the broker has it. While the bulk lane is away it waits for it: the caller bounds the wait."""
        topic = notice_topic(site_id)  # a bad id is refused before any waiting
        while True:
            client = self._clients.get(Channel.EVT)
            if client is not None and await self._publish(client, topic, encode_notice(notice), qos=1, retain=True):
                self.notices_sent += 1
                return
            if self._stopping.is_set():
                raise RuntimeError(f"bridge {self.options.bridge_id} is stopping: notice for {site_id} not published")
            await asyncio.sleep(self.options.command_poll_s)  # waiting for the bulk connection

    def statistics(self) -> dict:
        lanes = {lane.value: _as_dict(s) for lane, s in self.stats.items()}
        for lane, queue in self._queues.items():
            lanes[lane.value]["queue_overflowed"] = getattr(queue, "overflowed", 0)
            lanes[lane.value]["queued"] = queue.qsize()
        return {
            "bridge_id": self.options.bridge_id,
            "pid": os.getpid(),
            "cpu_s": round(time.process_time(), 3),
            "lanes": lanes,
            "commands_sent": self.commands_sent,
            "notices_sent": self.notices_sent,
            "naks_dropped": self.naks_dropped,
        }


def _as_dict(stats: LaneStats) -> dict:
    return {name: getattr(stats, name) for name in LaneStats.__slots__}


def _recording_queue(queues: dict, lane: Channel) -> type[asyncio.Queue]:
    """aiomqtt makes its incoming queue from a class we may choose: this one lets the lane see it, so a
    batch takes what is already waiting without one wake-up per message."""

    class LaneQueue(asyncio.Queue):
        def __init__(self, maxsize: int = 0) -> None:
            super().__init__(maxsize)
            self.overflowed = 0
            queues[lane] = self

        def put_nowait(self, item) -> None:
            try:
                super().put_nowait(item)
            except asyncio.QueueFull:  # aiomqtt discards the message; we count it
                self.overflowed += 1
                raise

    return LaneQueue


class _Stopped(Exception):
    pass


_PROBE_TOPIC_PREFIX: Final = f"{PREFIX}/dev/{probe_device_id('')}"


def _device_of(topic: str) -> str:
    parts = topic.split("/")
    return parts[3] if len(parts) == 5 and parts[2] == "dev" else ""


def _subscribe_options(topic: str) -> SubscribeOptions:
    """QoS 1; retained messages: a device's last ``state`` once, when the subscription is new (its Will, say, while
    the engine was away), and never on the alarm and event topics (a retained alarm is not a new alarm; Mosquitto
    2.0.11 hands retained messages to a shared subscription at every SUBSCRIBE, so at every reconnect)."""
    handling = (SubscribeOptions.RETAIN_SEND_IF_NEW_SUB if topic.endswith(f"/{Channel.STATE.value}")
                else SubscribeOptions.RETAIN_DO_NOT_SEND)
    return SubscribeOptions(qos=1, retainHandling=handling)


class SubscriptionRefused(aiomqtt.MqttError):
    """The broker did not grant a lane's subscription: the lane would wait for messages that never come."""


def _check_granted(topic: str, granted) -> None:
    for code in granted:
        value = getattr(code, "value", code)
        if value >= 0x80:
            name = getattr(code, "getName", lambda: str(value))()
            raise SubscriptionRefused(f"the broker refused the subscription {topic!r}: {name} ({value}); is the "
                                      "bridge user the one `redband mqtt-config` made for this broker?")


async def run_until_stopped(bridge: MqttBridge) -> None:
    try:
        await bridge.run()
    except* _Stopped:
        pass
