"""One inbound lane: its connection kept up, its messages read, checked and batched, each batch handed on.

Two lanes, each its own MQTT connection, batcher and in-flight budget, so an alarm never waits behind positions or
heartbeats:

    alarm lane   $share/<group>/rb/v1/dev/+/alarm           QoS 1
    bulk lane    $share/<group>/rb/v1/dev/+/evt  and  /state  QoS 1 (devices may publish QoS 0)

A lane validates with ``protocols/`` (``classify`` answers any bytes with a verdict, so no payload stops a lane),
closes a batch at ``batch_max`` events or ``batch_window_s`` after its first event, and hands it to its
:class:`~actors.bridge_delivery.Delivery` while the next one fills. A lane that meets an error it does not
understand anyway lets it end the bridge (``run`` raises; the Ray actor's process then exits and Ray starts it
again), after writing the message's fingerprint to its dead-letter ledger (``actors/dead_letters.py``): a message
that has killed a lane twice is dead-lettered when it comes back, never handled again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import aiomqtt

from actors.bridge_connection import backoff_s, lane_client, pause, subscribe
from actors.bridge_delivery import Delivery, Pending
from actors.bridge_options import BridgeOptions, DeadLetter, Sink
from actors.bridge_probe import ShareGroupProbe
from actors.alarm_admission import AlarmAdmission
from actors.bridge_publisher import Publisher
from actors.bridge_stats import LaneStats, count_nak
from actors.dead_letters import DeadLetters, fingerprint
from protocols.batch import Ingest
from protocols.inbound import EventIn, Refused, StateIn, classify
from protocols.replies import RETRY_LATER, encode_ack, nak
from protocols.topics import Channel

log = logging.getLogger("actors.mqtt_bridge")  # one logger for the whole bridge

YIELD_EVERY = 256
URGENT_PER_BATCH = 4
"""A device's visitor rings, answers and typed codes one alarm-lane batch takes (a person at a door sends one at a
time); more from the same device in the same batch are refused at once (a NAK naming ``kind``: send it again), so
a device with its own credentials flooding urgent kinds takes at most this much of each batch real alarms share."""


class InboundLane:
    def __init__(self, lane: Channel, topics: list[str], options: BridgeOptions, *, sink: Sink, stats: LaneStats,
                 publisher: Publisher, delivery: Delivery, dead_letters: DeadLetters,
                 queues: dict[Channel, asyncio.Queue], stopping: asyncio.Event,
                 probe: ShareGroupProbe | None = None, known_device: Callable[[str], bool] | None = None) -> None:
        self.lane = lane
        self.topics = topics
        self.options = options
        self.sink = sink
        self.stats = stats
        self.publisher = publisher
        self.delivery = delivery
        self.dead_letters = dead_letters
        self.queues = queues
        self.stopping = stopping
        self.probe = probe
        """The alarm lane's: probes and probe answers arrive among the alarms."""
        self.known_device = known_device
        self.admission = AlarmAdmission()
        """The alarm lane's: how many alarms it takes from each device (a device flooding its alarm topic gets its
        share, not the hosts' whole time)."""

    async def run(self) -> None:
        """Connect, subscribe and read until :meth:`MqttBridge.stop`; a lost connection is retried with backoff."""
        lane, stats, o = self.lane, self.stats, self.options
        attempt = 0
        while not self.stopping.is_set():
            client = lane_client(o, lane, self.queues)
            try:
                async with client:
                    await subscribe(client, self.topics, timeout_s=o.connect_timeout_s)
                    self.publisher.clients[lane] = client
                    stats.connected = True
                    stats.connects += 1
                    attempt = 0
                    log.info("bridge %s: %s lane connected to %r", o.bridge_id, lane.value, o.endpoint)
                    await self._pump(client)
            except aiomqtt.MqttError as exc:
                stats.last_error = str(exc)
                log.warning("bridge %s: %s lane: %s", o.bridge_id, lane.value, exc,
                            extra={"bridge_id": o.bridge_id, "lane": lane.value})
            finally:
                stats.connected = False
                self.publisher.clients.pop(lane, None)
            if self.stopping.is_set():
                return
            attempt += 1
            stats.backing_off = True
            await pause(self.stopping, backoff_s(attempt, cap_s=o.backoff_cap_s))
            stats.backing_off = False

    async def _pump(self, client: aiomqtt.Client) -> None:
        """Read messages into batches; each closed batch goes to the hosts while the next one fills.
        Returns when the connection is lost, after the batches in flight are answered."""
        o = self.options
        alarm = self.lane is Channel.ALARM
        batch_max = o.alarm_batch_max if alarm else o.batch_max
        window_s = o.alarm_batch_window_s if alarm else o.batch_window_s
        in_flight = asyncio.Semaphore(o.alarm_in_flight_batches if alarm else o.max_in_flight_batches)
        queue = self.queues[self.lane]
        messages = client.messages
        async with asyncio.TaskGroup() as sends:
            while True:
                pending = Pending()
                try:
                    self._take(await anext(messages), pending)
                    closes_at = time.monotonic() + window_s
                    while len(pending.items) + len(pending.states) < batch_max:
                        if queue.qsize():  # what is already here needs no waiting
                            self._take(queue.get_nowait(), pending)
                            if len(pending.items) % YIELD_EVERY == 0:
                                await asyncio.sleep(0)  # let the socket readers and acks run in between
                            continue
                        left = closes_at - time.monotonic()
                        if left <= 0:
                            break
                        try:  # the queue itself: a timed-out get() never swallows a message
                            self._take(await asyncio.wait_for(queue.get(), timeout=left), pending)
                        except TimeoutError:
                            break
                except aiomqtt.MqttError as exc:
                    log.warning("bridge %s: %s lane lost its connection: %s", o.bridge_id, self.lane.value, exc,
                                extra={"bridge_id": o.bridge_id, "lane": self.lane.value})
                    lost = True
                else:
                    lost = False
                if pending.items or pending.states:
                    await in_flight.acquire()
                    self.stats.batches += 1
                    task = sends.create_task(self.delivery.send(client, pending))
                    task.add_done_callback(lambda _t: in_flight.release())
                if lost:
                    return

    def _take(self, message: aiomqtt.Message, pending: Pending) -> None:
        payload = message.payload if isinstance(message.payload, bytes) else bytes(message.payload or b"")
        self.take_raw(message.topic.value, payload, bool(message.retain), pending)

    def take_raw(self, topic: str, payload: bytes, retained: bool, pending: Pending) -> None:
        """One message by its topic and payload (the bulk lane's own receive path reads no message objects)."""
        if self.probe is not None and self.probe.is_probe(topic):
            self.probe.seen(topic, payload)
            return
        self.stats.received += 1
        ledger = self.dead_letters
        if ledger and (entry := ledger.is_dead(fingerprint(topic, payload))) is not None:
            self._dead_letter(topic, payload, entry.reason)
            return
        try:
            self._take_one(topic, payload, pending, retained=retained)
        except Exception as exc:
            # not understood: this lane ends (and with it the process, which Ray starts again); the ledger
            # remembers the message, so the second time it kills a lane is the last
            ledger.record_kill(fingerprint(topic, payload), topic, f"{type(exc).__name__}: {exc}")
            log.critical("bridge %s: %s lane stopped on a message on %s: %r", self.options.bridge_id,
                         self.lane.value, topic, exc)
            raise

    def _take_one(self, topic: str, payload: bytes, pending: Pending, *, retained: bool = False) -> None:
        if self.options.fault_marker and self.options.fault_marker in payload:
            raise RuntimeError("fault injected: this payload carries the fault marker")
        inbound = classify(topic, payload, known_device=self.known_device)
        if isinstance(inbound, EventIn):
            kind = inbound.message.event_kind
            if self.lane is Channel.ALARM and kind.is_alarm and not self.admission.admit(inbound.device_id):
                self.stats.refused += 1  # a flood from one device (actors/alarm_admission.py): not for the hosts
                why = f"{RETRY_LATER}: {self.admission.refusal}"
                count_nak(self.stats, why)
                self.publisher.publish_later(self.lane, inbound.device_id,
                                             encode_ack(nak(inbound.message.seq, why), json=inbound.json))
                return
            if self.lane is Channel.ALARM and kind.is_urgent and not kind.is_alarm:
                taken = pending.urgent_of.get(inbound.device_id, 0)
                if taken >= URGENT_PER_BATCH:
                    self.stats.refused += 1
                    why = (f"kind: more than {URGENT_PER_BATCH} {kind.value} and other urgent messages from this "
                           f"device at once on the alarm lane: send it again")
                    count_nak(self.stats, why)
                    self.publisher.publish_later(self.lane, inbound.device_id,
                                                 encode_ack(nak(inbound.message.seq, why), json=inbound.json))
                    return
                pending.urgent_of[inbound.device_id] = taken + 1
            key = (inbound.device_id, inbound.message.seq)
            pending.json_of[key] = inbound.json
            pending.items.append(Ingest(inbound.device_id, inbound.message, int(time.time() * 1000), inbound.json))
        elif isinstance(inbound, StateIn):
            if retained and inbound.change.online:
                return  # an old "online" kept by the broker is no sign of life now (a Will lost in a broker crash)
            pending.states.append(inbound.change)
        elif isinstance(inbound, Refused):
            self.stats.refused += 1
            count_nak(self.stats, inbound.reason)
            log.info("bridge %s: refused %s: %s", self.options.bridge_id, topic, inbound.reason,
                     extra={"bridge_id": self.options.bridge_id, "device_id": inbound.device_id or device_of(topic)})
            if inbound.device_id:
                self.publisher.publish_later(self.lane, inbound.device_id,
                                             encode_ack(nak(inbound.seq, inbound.reason), json=inbound.json))

    def _dead_letter(self, topic: str, payload: bytes, reason: str) -> None:
        """A message that killed a lane twice: refused to its device, reported for the journal, never handled."""
        lane = self.lane
        self.stats.dead_lettered += 1
        device_id = device_of(topic)
        why = f"payload: dead-lettered, it stopped the {lane.value} lane twice ({reason[:120]})"
        count_nak(self.stats, why)
        log.error("bridge %s: %s lane dead-lettered a message on %s: %s", self.options.bridge_id, lane.value, topic,
                  reason, extra={"bridge_id": self.options.bridge_id, "lane": lane.value, "device_id": device_id})
        if device_id:
            self.publisher.publish_later(lane, device_id, encode_ack(nak(None, why), json=payload[:1] == b"{"))
        row = DeadLetter(time.time(), self.options.bridge_id, lane.value, topic, device_id, reason[:500],
                         payload[:64].hex())
        self.publisher.spawn(self.sink.dead_letter(row), what=f"dead letter of {topic}")


def device_of(topic: str) -> str:
    """The device id in ``rb/v1/dev/<id>/<channel>``; "" for any other topic."""
    parts = topic.split("/")
    return parts[3] if len(parts) == 5 and parts[2] == "dev" else ""
