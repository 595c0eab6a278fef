"""A lane (the bulk lane, and the alarm lane with its own batch bounds and in-flight budget) on the bridge's own
receive path (``actors/bridge_wire.py``): the same lane as
:class:`~actors.bridge_lane.InboundLane` (checks, batches, dead letters, delivery), fed from a ``BufferedProtocol``
instead of aiomqtt's per-message objects and queue.

A batch is whatever the connection read while the batch before it was with the hosts (at most ``batch_max`` events,
the rest going in the next batches), after waiting ``batch_window_s`` for company when it is small. The connection
reads at most ``max_queued_messages`` ahead of the lane, then leaves the rest with the broker.

Everything the bridge says on a lane's behalf (acks, NAKs, commands, notices, probes) goes out on the lane's answer
connection (:func:`answer_client`), a second connection of its own that subscribes to nothing, so its socket is always
read. On the lane's own connection the broker's PUBACKs of those publishes would queue behind the messages the lane
has not read yet: when a flood fills the read-ahead, reading pauses, the batches in flight wait for PUBACKs that are
never read, the lane takes nothing, and reading stays paused until each publish's timeout (measured: a device flooding
its alarm topic, another device's alarm not acked within 40 s). The two connect, and are lost, together.
"""

from __future__ import annotations

import asyncio
import logging

import aiomqtt

from actors.bridge_connection import backoff_s, check_granted, client_identifier, pause, subscribe_options
from actors.bridge_delivery import Pending
from actors.bridge_lane import YIELD_EVERY, InboundLane
from actors.bridge_wire import WireClient
from protocols import mqtt_frames as mf
from protocols.topics import Channel

log = logging.getLogger("actors.mqtt_bridge")  # one logger for the whole bridge

RECEIVE_MAXIMUM = 1000


class _ReadAhead:
    """What ``bridge_statistics`` reads of a lane's incoming queue: the messages read and not yet taken."""

    def __init__(self) -> None:
        self.client: WireClient | None = None
        self.overflowed = 0
        """Always 0: the connection stops reading instead of dropping (the broker's queue is the one that sheds)."""

    def qsize(self) -> int:
        proto = self.client.protocol if self.client is not None else None
        return len(proto.frames) if proto is not None else 0


def answer_client(o, lane: Channel, lane_client: WireClient) -> WireClient:
    """``lane``'s answer connection: the bridge's credentials, its own client id, no session kept (it subscribes to
    nothing); losing it drops ``lane_client`` too (the lane reconnects both, with its backoff)."""
    answers = WireClient(
        o.endpoint.host, o.endpoint.port, client_id=f"{client_identifier(o, o.bridge_id, lane)}-answers",
        username=o.endpoint.username, password=o.endpoint.password, keepalive_s=o.keepalive_s, session_expiry_s=0,
        receive_maximum=RECEIVE_MAXIMUM, timeout_s=o.connect_timeout_s, max_queued=o.max_queued_messages)

    def lost(why) -> None:
        if lane_client.protocol is not None:
            lane_client.protocol.drop(f"its answer connection is gone ({why})")

    answers.on_lost = lost
    return answers


class WireLane(InboundLane):
    async def run(self) -> None:
        """Connect, subscribe and read until :meth:`MqttBridge.stop`; a lost connection is retried with backoff."""
        lane, stats, o = self.lane, self.stats, self.options
        ahead = self.queues[lane] = _ReadAhead()
        attempt = 0
        while not self.stopping.is_set():
            client = ahead.client = WireClient(
                o.endpoint.host, o.endpoint.port, client_id=client_identifier(o, o.bridge_id, lane),
                username=o.endpoint.username, password=o.endpoint.password, keepalive_s=o.keepalive_s,
                session_expiry_s=o.session_expiry_s, receive_maximum=RECEIVE_MAXIMUM, timeout_s=o.connect_timeout_s,
                max_queued=o.max_queued_messages)
            answers = answer_client(o, lane, client)
            try:
                await client.connect()
                await answers.connect()
                for topic in self.topics:
                    code = await client.subscribe(topic, qos=1,
                                                  retain_handling=subscribe_options(topic).retainHandling)
                    check_granted(topic, [code])
                self.publisher.clients[lane] = answers
                stats.connected = True
                stats.connects += 1
                attempt = 0
                log.info("bridge %s: %s lane connected to %r (own receive path)", o.bridge_id, lane.value,
                         o.endpoint)
                await self._pump_wire(client, answers)
            except aiomqtt.MqttError as exc:
                stats.last_error = str(exc)
                log.warning("bridge %s: %s lane: %s", o.bridge_id, lane.value, exc)
            finally:
                stats.connected = False
                self.publisher.clients.pop(lane, None)
                answers.on_lost = None
                await client.close()
                await answers.close()
            if self.stopping.is_set():
                return
            attempt += 1
            stats.backing_off = True
            await pause(self.stopping, backoff_s(attempt, cap_s=o.backoff_cap_s))
            stats.backing_off = False

    async def _pump_wire(self, client: WireClient, answers: WireClient) -> None:
        """Read messages into batches; each closed batch goes to the hosts while the next one fills, its answers
        going out on ``answers``. Returns when the connection is lost, after what it read was batched and the batches
        in flight were answered."""
        o = self.options
        alarm = self.lane is Channel.ALARM
        batch_max = o.alarm_batch_max if alarm else o.batch_max
        window_s = o.alarm_batch_window_s if alarm else o.batch_window_s
        in_flight = asyncio.Semaphore(o.alarm_in_flight_batches if alarm else o.max_in_flight_batches)
        take = self.take_raw
        async with asyncio.TaskGroup() as sends:
            while True:
                try:
                    frames = await client.messages()
                    if len(frames) < batch_max and window_s > 0:
                        await asyncio.sleep(window_s)  # a small batch waits this long for company
                        if client.protocol.frames.topics:
                            more = client.protocol.take()
                            frames.topics += more.topics
                            frames.payloads += more.payloads
                            frames.flags += more.flags
                    lost = None
                except aiomqtt.MqttError as exc:
                    frames, lost = None, exc
                if frames is not None:
                    topics, payloads, flags = frames.topics, frames.payloads, frames.flags
                    for start in range(0, len(topics), batch_max):
                        pending = Pending()
                        for k in range(start, min(start + batch_max, len(topics))):
                            take(topics[k], payloads[k], flags[k] & mf.RETAIN == mf.RETAIN, pending)
                            if k % YIELD_EVERY == YIELD_EVERY - 1:
                                await asyncio.sleep(0)  # let the acks and the other tasks run in between
                        if pending.items or pending.states:
                            await in_flight.acquire()
                            self.stats.batches += 1
                            task = sends.create_task(self.delivery.send(answers, pending))
                            task.add_done_callback(lambda _t: in_flight.release())
                if lost is not None:
                    self.stats.last_error = str(lost)
                    log.warning("bridge %s: %s lane lost its connection: %s", o.bridge_id, self.lane.value, lost)
                    return
