"""Publishing on the bridge's live connections, and the short tasks that must not hold up a batch.

The lanes record their client here while connected (``clients``); everything the bridge says to devices goes
through :meth:`Publisher.publish`, which turns a failed publish into ``False`` and a warning (the device publishes
again and gets its answer then). NAKs, probe answers and calls to the sink that nobody waits for run as tasks owned
by this object, at most ``MAX_PENDING_NAKS`` at once: a flood of garbage must not grow the bridge without bound, so
beyond that the work is dropped and counted (``naks_dropped``).
"""

from __future__ import annotations

import asyncio
import logging

import aiomqtt

from actors.bridge_options import BridgeOptions
from protocols.batch import DeviceAck
from protocols.replies import ack_of, encode_ack
from protocols.topics import Channel, device_topic

log = logging.getLogger("actors.mqtt_bridge")  # one logger for the whole bridge

MAX_PENDING_NAKS = 10_000


class Publisher:
    def __init__(self, options: BridgeOptions) -> None:
        self.options = options
        self.clients: dict[Channel, aiomqtt.Client] = {}
        """Each lane's client while it is connected (and subscribed)."""
        self.naks_dropped = 0
        self._tasks: set[asyncio.Task] = set()

    async def publish(self, client: aiomqtt.Client, topic: str, payload: bytes, *, qos: int,
                      retain: bool = False) -> bool:
        try:
            await client.publish(topic, payload, qos=qos, retain=retain, timeout=self.options.connect_timeout_s)
            return True
        except aiomqtt.MqttError as exc:  # the device publishes again and gets its answer then
            log.warning("bridge %s: publish to %s failed: %s", self.options.bridge_id, topic, exc)
            return False

    async def ack(self, client: aiomqtt.Client, ack: DeviceAck, as_json: bool) -> None:
        """A host's answer to its device, on the device's ``ack`` topic, in the encoding the device spoke."""
        await self.publish(client, device_topic(ack.device_id, Channel.ACK),
                           encode_ack(ack_of(ack), json=as_json), qos=self.options.ack_qos)

    def publish_later(self, lane: Channel, device_id: str, payload: bytes) -> None:
        """A NAK, sent on ``lane``'s connection without holding up the batch (nothing if the lane is away)."""
        client = self.clients.get(lane)
        if client is None:
            return
        if len(self._tasks) >= MAX_PENDING_NAKS:
            self.naks_dropped += 1
            return
        self._own(asyncio.get_running_loop().create_task(
            self.publish(client, device_topic(device_id, Channel.ACK), payload, qos=self.options.ack_qos)))

    def spawn(self, coro, *, what: str) -> None:
        """A short task with an owner (this object) and a bound; an error in it is logged, never silent."""
        if len(self._tasks) >= MAX_PENDING_NAKS:
            self.naks_dropped += 1
            coro.close()
            return

        async def guarded() -> None:
            try:
                await coro
            except Exception:  # reported, never silent: the lane goes on
                log.exception("bridge %s: %s failed", self.options.bridge_id, what)

        self._own(asyncio.get_running_loop().create_task(guarded()))

    def _own(self, task: asyncio.Task) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
