"""One device on the broker, as a real one behaves: its own credentials, a Last Will (``offline``,
retained) on its state topic, ``online`` on connect, heartbeats, and alarms published at QoS 1 again
and again until the engine's ack for that ``seq`` comes back.

Also a program, so a test can freeze or kill a device process::

    python -m simulation.mqtt_device --url mqtt://ID:PASS@127.0.0.1:1883 --heartbeat 1 [--keepalive 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time

import aiomqtt

from protocols.device import encode_device_message, make_message
from protocols.endpoint import NO_DELAY, MqttEndpoint, parse_mqtt_url
from protocols.kinds import EventKind
from protocols.replies import RETRY_LATER, Ack, decode_ack
from protocols.topics import Channel, DeviceState, channel_for, device_topic

log = logging.getLogger(__name__)


class MqttDevice:
    def __init__(self, endpoint: MqttEndpoint, *, device_id: str | None = None, json: bool = True,
                 heartbeat_s: float | None = None, keepalive_s: int = 10, retry_s: float = 1.0) -> None:
        self.endpoint = endpoint
        self.device_id = device_id or endpoint.username or ""
        self.json = json
        self.heartbeat_s = heartbeat_s
        self.keepalive_s = keepalive_s
        self.retry_s = retry_s
        self.seq = int(time.time() * 1000)  # increasing across restarts of the same device
        self.boot = 0  # a device that tells its reboots sets this (docs/devices.md)
        self.acks: dict[int, Ack] = {}
        self.commands: list[bytes] = []
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._ack_arrived = asyncio.Condition()
        self._tasks: set[asyncio.Task] = set()
        self.heartbeats_on = True
        self.retry_later = 0
        """NAKs that said ``unavailable, retry``: the engine could not take the alarm now; it was sent again."""

    async def run(self) -> None:
        """Stay connected (reconnecting with backoff) until cancelled."""
        attempt = 0
        will = aiomqtt.Will(device_topic(self.device_id, Channel.STATE), DeviceState.OFFLINE.value, qos=1, retain=True)
        while True:
            try:
                async with aiomqtt.Client(self.endpoint.host, self.endpoint.port, username=self.endpoint.username,
                                          password=self.endpoint.password, identifier=self.device_id,
                                          will=will, keepalive=self.keepalive_s, timeout=10,
                                          socket_options=NO_DELAY) as client:
                    await client.subscribe(device_topic(self.device_id, Channel.ACK), qos=1)
                    await client.subscribe(device_topic(self.device_id, Channel.CMD), qos=1)
                    await client.publish(device_topic(self.device_id, Channel.STATE), DeviceState.ONLINE.value,
                                         qos=1, retain=True)
                    self._client = client
                    self.connected.set()
                    attempt = 0
                    async with asyncio.TaskGroup() as tasks:
                        if self.heartbeat_s:
                            tasks.create_task(self._heartbeats(client))
                        async for message in client.messages:
                            await self._receive(message)
            except* aiomqtt.MqttError as group:
                log.info("device %s: connection lost: %s", self.device_id, group.exceptions[0])
            finally:
                self._client = None
                self.connected.clear()
            attempt += 1
            await asyncio.sleep(min(2.0, 0.1 * 1.5 ** min(10, attempt)))  # reconnect backoff

    async def _receive(self, message: aiomqtt.Message) -> None:
        if message.topic.value.endswith("/ack"):
            ack = decode_ack(bytes(message.payload))
            async with self._ack_arrived:
                if ack.seq is not None:
                    self.acks[ack.seq] = ack
                self._ack_arrived.notify_all()
        else:
            self.commands.append(bytes(message.payload))

    async def _heartbeats(self, client: aiomqtt.Client) -> None:
        while True:
            if self.heartbeats_on:
                await self.publish(EventKind.HEARTBEAT, client=client)
            await asyncio.sleep(self.heartbeat_s)  # the device's own period, not a synchronisation

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    async def publish(self, kind: EventKind | str, data: dict | None = None, *, seq: int | None = None,
                      qos: int = 0, client: aiomqtt.Client | None = None, ts_ms: int | None = None) -> int:
        kind = EventKind(kind)
        seq = self.next_seq() if seq is None else seq
        ts_ms = int(time.time() * 1000) if ts_ms is None else ts_ms
        message = make_message(kind, seq=seq, ts=ts_ms, data=data, boot=self.boot)
        client = client or self._client
        if client is None:
            raise aiomqtt.MqttError("not connected")
        channel = channel_for(kind)  # alarms and the urgent kinds (door.visitor, ...) on the alarm topic, QoS 1
        await client.publish(device_topic(self.device_id, channel),
                             encode_device_message(message, json=self.json), qos=max(qos, channel is Channel.ALARM))
        return seq

    async def alarm(self, kind: EventKind | str, data: dict | None = None, *, seq: int | None = None,
                    ts_ms: int | None = None, timeout_s: float = 30.0) -> Ack:
        """Publish until acked, the very same message every time (same ``seq`` and ``ts``), as a panic button
        must: the engine takes a re-sent alarm as a duplicate only when it says exactly the same."""
        seq = self.next_seq() if seq is None else seq
        ts_ms = int(time.time() * 1000) if ts_ms is None else ts_ms
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.connected.is_set():
                with contextlib.suppress(aiomqtt.MqttError):
                    await self.publish(kind, data, seq=seq, qos=1, ts_ms=ts_ms)
            ack = await self.wait_ack(seq, min(self.retry_s, max(0.0, deadline - time.monotonic())))
            if ack is not None and not ack.ok and ack.reason.startswith(RETRY_LATER):
                self.retry_later += 1
                self.acks.pop(seq, None)  # "not now": the same message again after the retry period
                await asyncio.sleep(min(self.retry_s, max(0.0, deadline - time.monotonic())))  # the retry period
                continue
            if ack is not None:
                return ack
        raise TimeoutError(f"device {self.device_id}: no ack for seq {seq} in {timeout_s} s")

    async def wait_ack(self, seq: int, timeout_s: float) -> Ack | None:
        async with self._ack_arrived:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ack_arrived.wait_for(lambda: seq in self.acks), timeout=timeout_s)
        return self.acks.get(seq)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulation.mqtt_device")
    parser.add_argument("--url", required=True, help="mqtt://DEVICE_ID:PASSWORD@HOST:PORT")
    parser.add_argument("--heartbeat", type=float, default=30.0)
    parser.add_argument("--keepalive", type=int, default=10)
    parser.add_argument("--msgpack", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    device = MqttDevice(parse_mqtt_url(args.url), json=not args.msgpack, heartbeat_s=args.heartbeat,
                        keepalive_s=args.keepalive)

    async def run() -> None:
        task = asyncio.create_task(device.run())
        await device.connected.wait()
        print(f"device {device.device_id} online", flush=True)
        await task

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
