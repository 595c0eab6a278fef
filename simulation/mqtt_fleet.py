"""Many simulated devices over a few MQTT connections, as the simulator user.

The fleet publishes each device's messages on that device's own topics (so the engine sees exactly
what real devices would send), reads every ack on one more connection, and publishes each alarm
again with the same ``seq`` until its ack arrives, as a real panic button does. It runs its own
event loop (uvloop) in a thread, so the scenario driver, which is synchronous, just hands it messages.
Given a :class:`simulation.heartbeats.HeartbeatSchedule` (:meth:`Fleet.beat`), it also publishes the devices'
heartbeats as they fall due, from that same loop, until it stops. Given volunteer phones (and police units) to answer
for (:meth:`Fleet.answer_offers`), it reads their command topics and answers the engine's task offers
(:mod:`simulation.fleet_tasks`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiomqtt
import uvloop

from protocols.device import DeviceMessage, encode_device_message
from protocols.endpoint import NO_DELAY, MqttEndpoint
from protocols.replies import Ack, decode_ack
from protocols.topics import Channel, channel_for, device_topic, parse_device_topic, subscription

if TYPE_CHECKING:
    from simulation.fleet_tasks import TaskAnswers
    from simulation.fleet_wire import FleetWire
    from simulation.heartbeats import HeartbeatSchedule

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0
BEAT_TICK_S = 0.05
MAX_INFLIGHT = 100
ACK_WINDOW = 1000
"""The ack reader's receive maximum: QoS 1 acks the broker may have on their way to it at once."""
"""QoS 1 publishes a connection has awaiting their PUBACK (paho's default, 20, made a storm's alarms queue)."""
"""How often the heartbeat task looks for heartbeats due (the schedule's resolution)."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    device_id: str
    message: DeviceMessage
    json: bool = False


@dataclass(slots=True)
class _Unacked:
    topic: str
    payload: bytes
    sent_at: float
    tries: int = 1


class Fleet:
    def __init__(self, endpoint: MqttEndpoint, *, connections: int = 2, retry_s: float = 1.0,
                 max_unacked: int = 100_000, client_prefix: str = "redband-sim") -> None:
        self.endpoint = endpoint
        self.connections = connections
        self.retry_s = retry_s
        self.max_unacked = max_unacked
        self.prefix = client_prefix
        self.published = 0
        self.republished = 0
        self._acks: list[tuple[str, Ack, float]] = []
        self._acks_lock = threading.Lock()
        self._unacked: dict[tuple[str, int], _Unacked] = {}
        self._clients: list[FleetWire | None] = [None] * connections
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []
        self.tasks: TaskAnswers | None = None
        """The units answering task offers (:meth:`answer_offers`), if any."""
        self.sequencers: list = []
        """Numbering of the devices that send messages of their own beside the fleet's
        (:class:`simulation.fleet_tasks.Sequencer`): the fleet's later messages of those devices move up past them.
        Touched on the fleet's loop only."""
        self.beat_error: BaseException | None = None
        """Why the heartbeat task ended, if it did (the fleet's devices are silent from then on)."""
        self._thread = threading.Thread(target=self._main, name="mqtt-fleet", daemon=True)

    # -- from the driver's thread ------------------------------------------------------------------

    def start(self) -> "Fleet":
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            self.stop()
            raise ConnectionError(f"simulator could not connect to {self.endpoint!r} in {START_TIMEOUT_S:.0f} s")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10.0)

    def send(self, items: list[Outgoing]) -> None:
        """Publish these messages (in order per device); returns at once."""
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._send(items), self._loop).result(timeout=30.0)

    def beat(self, schedule: "HeartbeatSchedule", *, tick_s: float = BEAT_TICK_S) -> None:
        """Publish ``schedule``'s heartbeats as they fall due, from the fleet's loop, until the fleet stops."""
        assert self._loop is not None

        async def start() -> None:
            task = asyncio.create_task(self._beats(schedule, tick_s), name="fleet-heartbeats")
            task.add_done_callback(self._beats_ended)
            self._tasks.append(task)

        asyncio.run_coroutine_threadsafe(start(), self._loop).result(timeout=10.0)

    def answer_offers(self, phones, device_ids, *, timeout_s: float = 10.0) -> "TaskAnswers":
        """From now on the units ``device_ids`` answer the task offers sent to them, by ``phones`` (a
        :class:`simulation.patrol_phones.Phones`); returns once the fleet is subscribed to their commands."""
        from simulation.fleet_tasks import TaskAnswers

        assert self._loop is not None and self.tasks is None

        async def start() -> TaskAnswers:
            answers = TaskAnswers(self, phones, device_ids)
            self.sequencers.append(answers.sequencer)
            self._tasks += [asyncio.create_task(answers.read(), name="fleet-commands"),
                            asyncio.create_task(answers.answer(), name="fleet-answers")]
            await asyncio.wait_for(answers.subscribed.wait(), timeout_s)
            return answers

        self.tasks = asyncio.run_coroutine_threadsafe(start(), self._loop).result(timeout=timeout_s + 1.0)
        return self.tasks

    def run_beside(self, life, *, timeout_s: float = 10.0):
        """``life`` (:class:`simulation.demo_community.CommunityLife`: ``sequencer``, ``tasks()``, ``subscribed``) acts
        on the fleet's loop until the fleet stops, its tasks the fleet's; returns ``life`` once it is subscribed."""
        assert self._loop is not None

        async def start() -> None:
            self.sequencers.append(life.sequencer)
            self._tasks.extend(asyncio.create_task(coro, name=name) for name, coro in life.tasks())
            await asyncio.wait_for(life.subscribed.wait(), timeout_s)

        asyncio.run_coroutine_threadsafe(start(), self._loop).result(timeout=timeout_s + 1.0)
        return life

    def take_acks(self) -> list[tuple[str, Ack, float]]:
        """Acks received since the last call: (device id, ack, wall time of arrival)."""
        with self._acks_lock:
            out, self._acks = self._acks, []
        return out

    @property
    def unacked(self) -> int:
        return len(self._unacked)

    def __enter__(self) -> "Fleet":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the fleet's own loop ----------------------------------------------------------------------

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            connected = [asyncio.Event() for _ in range(self.connections + 1)]
            tasks = self._tasks
            tasks += [asyncio.create_task(self._publisher(i, connected[i])) for i in range(self.connections)]
            tasks += [asyncio.create_task(self._ack_reader(connected[-1])), asyncio.create_task(self._retry())]
            try:
                await asyncio.wait_for(asyncio.gather(*(c.wait() for c in connected)), START_TIMEOUT_S)
                self._ready.set()
                await self._stop.wait()
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            uvloop.run(main())

    def _client(self, identifier: str) -> aiomqtt.Client:
        e = self.endpoint
        client = aiomqtt.Client(e.host, e.port, username=e.username, password=e.password, identifier=identifier,
                                keepalive=30, timeout=10, socket_options=NO_DELAY,
                                max_queued_outgoing_messages=self.max_unacked, max_inflight_messages=MAX_INFLIGHT)
        client.pending_calls_threshold = self.max_unacked  # a storm's publishes at once are expected, not a warning
        return client

    async def _publisher(self, index: int, connected: asyncio.Event) -> None:
        """One publishing connection (:class:`simulation.fleet_wire.FleetWire`), opened again when lost."""
        from simulation.fleet_wire import FleetWire

        e, attempt = self.endpoint, 0
        while True:
            client = FleetWire(e.host, e.port, client_id=f"{self.prefix}-{index}", username=e.username,
                               password=e.password, max_held=self.max_unacked)
            try:
                await client.connect()
                self._clients[index] = client
                connected.set()
                attempt = 0
                await client.messages()  # subscribed to nothing: raises when the connection is lost
            except aiomqtt.MqttError as exc:
                log.info("simulator connection %d: %s", index, exc)
            finally:
                self._clients[index] = None
                await client.close()
            attempt += 1
            await asyncio.sleep(min(2.0, 0.1 * 1.5 ** min(10, attempt)))  # reconnect backoff

    async def _ack_reader(self, connected: asyncio.Event) -> None:
        """Every device's acks on one connection, read on the bridge's own receive path (``actors/bridge_wire.py``):
        on aiomqtt this one connection read a storm's 5,000 acks over a second or more, and their latency was the
        simulator's."""
        from actors.bridge_wire import WireClient, WireError

        e, attempt = self.endpoint, 0
        while True:
            client = WireClient(e.host, e.port, client_id=f"{self.prefix}-acks", username=e.username,
                                password=e.password, keepalive_s=30, session_expiry_s=0, receive_maximum=ACK_WINDOW,
                                timeout_s=10.0, max_queued=self.max_unacked)
            try:
                await client.connect()
                code = await client.subscribe(subscription(Channel.ACK), qos=1, retain_handling=2)
                if code >= 0x80:
                    raise WireError(f"the broker refused the ack subscription (reason code {code:#x})")
                connected.set()
                attempt = 0
                while True:
                    frames = await client.messages()
                    for topic, payload in zip(frames.topics, frames.payloads):
                        self._on_ack(topic, bytes(payload))
            except aiomqtt.MqttError as exc:
                log.info("simulator ack reader: %s", exc)
            finally:
                await client.close()
            attempt += 1
            await asyncio.sleep(min(2.0, 0.1 * 1.5 ** min(10, attempt)))

    def _on_ack(self, topic: str, payload: bytes) -> None:
        try:
            device_id = parse_device_topic(topic).device_id
            ack = decode_ack(payload)
        except Exception as exc:  # a broken ack is reported, not fatal
            log.warning("simulator: unreadable ack on %s: %s", topic, exc)
            return
        if ack.seq is not None:
            self._unacked.pop((device_id, ack.seq), None)
        with self._acks_lock:
            self._acks.append((device_id, ack, time.time()))

    def _connection_of(self, device_id: str) -> int:
        return zlib.crc32(device_id.encode()) % self.connections

    async def _send(self, items: list[Outgoing], *, answers: bool = False) -> None:
        """``answers``: the units' answers (or another device's own messages), already numbered
        (:class:`simulation.fleet_tasks.Sequencer`)."""
        sequencers = () if answers else self.sequencers
        for item in items:
            message = item.message
            for sequencer in sequencers:
                message = sequencer.outgoing(item.device_id, message)
            kind = message.event_kind
            channel = channel_for(kind)  # alarms and the urgent kinds (a person waits at a door): alarm topic, QoS 1
            topic = device_topic(item.device_id, channel)
            payload = encode_device_message(message, json=item.json)
            if kind.is_alarm:
                if len(self._unacked) >= self.max_unacked:
                    raise OverflowError(f"simulator: {self.max_unacked} alarms unacknowledged")
                self._unacked[(item.device_id, message.seq)] = _Unacked(topic, payload, time.monotonic())
            # written at once, as many devices would (through aiomqtt, awaiting each PUBACK, a storm's 5,000 alarms
            # took the simulator 1.4-1.8 s); each device's messages go out in order on its connection
            self._publish(item.device_id, topic, payload, qos=1 if channel is Channel.ALARM else 0)
            self.published += 1

    def _publish(self, device_id: str, topic: str, payload: bytes, *, qos: int) -> bool:
        client = self._clients[self._connection_of(device_id)]
        if client is None:
            return False  # an alarm is published again by the retry loop; an event is lost, as on a real network
        return client.send(topic, payload, qos=qos)

    async def _beats(self, schedule: "HeartbeatSchedule", tick_s: float) -> None:
        while True:
            due = schedule.due(time.monotonic(), wall_ms=int(time.time() * 1000))
            if due:
                await self._send(due)
            await asyncio.sleep(tick_s)  # the schedule's resolution

    def _beats_ended(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.beat_error = task.exception()
            log.error("simulator: the heartbeat task ended: %r", self.beat_error)

    async def _retry(self) -> None:
        while True:
            await asyncio.sleep(self.retry_s / 2)  # the retry period itself
            now = time.monotonic()
            for (device_id, _seq), pending in list(self._unacked.items()):
                if now - pending.sent_at >= self.retry_s:
                    pending.sent_at, pending.tries = now, pending.tries + 1
                    self.republished += 1
                    self._publish(device_id, pending.topic, pending.payload, qos=1)
