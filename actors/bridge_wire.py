"""The bulk lane's own MQTT v5 connection: asyncio's ``BufferedProtocol`` reading PUBLISH frames straight from its
buffer into a batch (``protocols/mqtt_frames.py``), with no object per message but its topic and payload.

aiomqtt (on paho) costs about 35 µs of CPU per message before the bridge has looked at it; this costs a few
(``benchmarks/subscriber_candidates.py``, ``docs/benchmarks.md``). What it keeps of a general client: a persistent
session (CONNECT with clean start off and a session expiry), SUBSCRIBE of the shared subscription with its retain
handling (a refused filter raises :class:`~actors.bridge_connection.SubscriptionRefused`), PINGREQ keepalive (no
answer within the keepalive: the connection is dropped), PUBACK of each QoS 1 message as it is read (as aiomqtt
does), and QoS 0 and 1 publishes for the answers (a QoS 1 one returns when its PUBACK came).

Bounded: the batch being read holds at most ``max_queued`` messages and ``MAX_QUEUED_BYTES``; beyond, the socket is
not read (the broker keeps, and past its own queue limit drops, QoS 0 telemetry: counted by it, never by growing us).
A frame that breaks MQTT (malformed, over ``MAX_PACKET``, a topic that is not UTF-8) drops the connection with the
reason (:class:`WireError`, an ``aiomqtt.MqttError``, so the lane retries it as any lost connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

import aiomqtt

from protocols import mqtt_frames as mf

BUFFER = 4 * mf.MAX_PACKET
MAX_QUEUED_BYTES = 32 * 1024 * 1024
"""Read ahead of the lane at most this much (besides ``max_queued`` messages): 50,000 messages of the broker's
16 KiB each would be 800 MB in the bridge's process while its hosts are slow."""
MAX_INFLIGHT = 128
"""QoS 1 publishes awaiting their PUBACK at once; more wait their turn. The broker's receive maximum (200,
``engine/mqtt_provision.py``) must not be exceeded: Mosquitto left the excess unanswered, and an alarm storm's acks
(thousands at once) then waited their whole timeout."""


class WireError(aiomqtt.MqttError):
    """The connection is gone or was dropped: the reason says why."""


class LaneProtocol(asyncio.BufferedProtocol):
    def __init__(self, max_queued: int, on_control=None, on_lost=None) -> None:
        self.max_queued = max_queued
        self.on_control = on_control
        self.on_lost = on_lost
        """Called once the connection is gone: the publishes awaiting a PUBACK fail at once, not at their timeout."""
        """Called as control packets are read (PUBACKs of our publishes must not wait for the lane to read)."""
        self.frames = mf.Frames()
        self.queued_bytes = 0
        """The bytes of the frames read since the lane last took them."""
        self.readable = asyncio.Event()
        """Set when there are messages to take, a control packet, or the connection ended."""
        self.closed: WireError | None = None
        self.received_at = time.monotonic()
        self.paused = False
        self.pausable = False
        """Set once the lane reads its messages: before (CONNACK, SUBACK) a session's queued messages must not stop
        the reading of the answers."""
        self._buf = bytearray(BUFFER)
        self._view = memoryview(self._buf)
        self._r = self._w = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def get_buffer(self, sizehint: int):
        if len(self._buf) - self._w < mf.MAX_PACKET:  # room for a whole frame: move what is left to the front
            left = self._w - self._r
            self._buf[:left] = self._buf[self._r:self._w]
            self._r, self._w = 0, left
        return self._view[self._w:]

    def buffer_updated(self, nbytes: int) -> None:
        self._w += nbytes
        self.received_at = time.monotonic()
        frames = self.frames
        try:
            r = mf.parse(self._buf, self._r, self._w, frames)
            self.queued_bytes += r - self._r
            self._r = r
        except mf.FrameError as exc:
            self.drop(f"the broker sent a malformed frame: {exc}")
            return
        if self._r == self._w:
            self._r = self._w = 0
        if frames.acks:
            self.transport.write(mf.pubacks(frames.acks))
            frames.acks.clear()
        if frames.control and self.on_control is not None:
            try:
                self.on_control()
            except mf.FrameError as exc:  # a malformed PUBACK
                self.drop(f"the broker sent a malformed frame: {exc}")
                return
        if frames.topics or frames.control:
            self.readable.set()
        full = len(frames.topics) >= self.max_queued or self.queued_bytes >= MAX_QUEUED_BYTES
        if full and self.pausable and not self.paused:
            self.paused = True  # bounded: the broker holds the rest until the lane takes these
            self.transport.pause_reading()

    def take(self) -> mf.Frames:
        """The messages read so far; reading resumes if it was paused for room."""
        batch = self.frames.take()
        self.queued_bytes = 0
        if self.paused and self.transport is not None and not self.closed:
            self.paused = False
            self.received_at = time.monotonic()  # silence while not read says nothing of the broker
            self.transport.resume_reading()
        if not self.frames.control and self.closed is None:
            self.readable.clear()
        return batch

    def drop(self, reason: str) -> None:
        if self.closed is None:
            self.closed = WireError(reason)
            if self.on_lost is not None:
                self.on_lost(self.closed)
        self.readable.set()
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc) -> None:
        if self.closed is None:
            self.closed = WireError(f"connection lost: {exc or 'closed by the broker'}")
            if self.on_lost is not None:
                self.on_lost(self.closed)
        self.readable.set()


class WireClient:
    """One lane's connection; :meth:`connect` returns once connected and subscribed."""

    def __init__(self, host: str, port: int, *, client_id: str, username: str | None, password: str | None,
                 keepalive_s: int, session_expiry_s: int, receive_maximum: int, timeout_s: float,
                 max_queued: int) -> None:
        self.host, self.port, self.client_id = host, port, client_id
        self.username, self.password = username, password
        self.keepalive_s, self.session_expiry_s, self.receive_maximum = keepalive_s, session_expiry_s, receive_maximum
        self.timeout_s = timeout_s
        self.max_queued = max_queued
        self.protocol: LaneProtocol | None = None
        self.session_present = False
        self._next_id = 0
        self._waiting: dict[int, asyncio.Future] = {}
        self._inflight = asyncio.Semaphore(MAX_INFLIGHT)
        self._pinger: asyncio.Task | None = None
        self.on_lost = None
        """Called (with the :class:`WireError`) once the connection is gone, after the publishes awaiting a PUBACK
        failed: a lane's answer connection drops the lane with it, and both are connected again."""

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, self.protocol = await asyncio.wait_for(loop.create_connection(
                lambda: LaneProtocol(self.max_queued, self.handle_control, self._lost), self.host, self.port),
                self.timeout_s)
        except (OSError, TimeoutError) as exc:
            raise WireError(f"could not connect to {self.host}:{self.port}: {exc or type(exc).__name__}") from None
        self.protocol.transport.write(mf.connect(
            self.client_id, username=self.username, password=self.password, keepalive_s=self.keepalive_s,
            clean_start=False, session_expiry_s=self.session_expiry_s, receive_maximum=self.receive_maximum))
        self.session_present, code = self._read(mf.connack, await self._control(mf.CONNACK, "CONNACK"))
        if code >= 0x80:  # the broker may have closed the connection already: the CONNACK's reason is the one
            refused = WireError(f"the broker refused the connection: {mf.reason_name(code)}")
            self.protocol.drop(str(refused))
            raise refused
        if self.keepalive_s:
            self._pinger = asyncio.create_task(self._keepalive())

    async def subscribe(self, topic_filter: str, *, qos: int, retain_handling: int) -> int:
        """Subscribe one filter; returns the granted code (0x80 or more: refused)."""
        self.protocol.transport.write(mf.subscribe(self._packet_id(), topic_filter, qos=qos,
                                                   retain_handling=retain_handling))
        _, codes = self._read(mf.suback, await self._control(mf.SUBACK, "SUBACK"))
        return codes[0] if codes else 0x80

    def _read(self, parse, body: bytes):
        """``parse(body)``; a malformed packet drops the connection (a lost connection, retried), as in a PUBLISH."""
        try:
            return parse(body)
        except mf.FrameError as exc:
            self.protocol.drop(f"the broker sent a malformed frame: {exc}")
            raise self.protocol.closed from None

    async def _control(self, kind: int, name: str) -> bytes:
        """Wait for the next control packet during connect / subscribe (nothing else is read before SUBACK but
        retained or session messages, which wait in the batch)."""
        proto = self.protocol
        deadline = time.monotonic() + self.timeout_s
        while True:
            for k, (t, body) in enumerate(proto.frames.control):
                if t == kind:
                    del proto.frames.control[k]
                    return body
            if proto.closed:
                raise proto.closed
            left = deadline - time.monotonic()
            if left <= 0:
                proto.drop(f"no {name} within {self.timeout_s} s")
                raise proto.closed
            proto.readable.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proto.readable.wait(), left)

    def handle_control(self) -> None:
        """Answer what came besides PUBLISHes: PUBACKs of our publishes, PINGRESP, a DISCONNECT from the broker;
        CONNACK and SUBACK stay for :meth:`_control`."""
        proto = self.protocol
        control, proto.frames.control = proto.frames.control, []
        for kind, body in control:
            if kind in (mf.CONNACK, mf.SUBACK):
                proto.frames.control.append((kind, body))
            elif kind == mf.PUBACK:
                pid, code = mf.puback(body)
                future = self._waiting.pop(pid, None)
                if future is not None and not future.done():
                    future.set_result(code)
            elif kind == mf.DISCONNECT:
                code = body[0] if body else 0
                proto.drop(f"the broker disconnected the lane: {mf.reason_name(code) if code else 'normal'}")

    async def messages(self) -> mf.Frames:
        """The next messages (waiting for the first); raises :class:`WireError` once the connection is gone."""
        proto = self.protocol
        proto.pausable = True
        while True:
            if proto.frames.topics:
                return proto.take()
            if proto.closed:
                raise proto.closed
            proto.readable.clear()
            await proto.readable.wait()

    async def publish(self, topic: str, payload: bytes, *, qos: int = 0, retain: bool = False,
                      timeout: float | None = None) -> None:
        """As aiomqtt's: QoS 1 returns when the broker's PUBACK came (raises if it did not in ``timeout``)."""
        proto = self.protocol
        if proto is None or proto.closed:
            raise proto.closed if proto is not None else WireError("not connected")
        if not qos:
            proto.transport.write(mf.publish(topic, payload, retain=retain))
            return
        try:
            async with asyncio.timeout(timeout or self.timeout_s):
                async with self._inflight:  # within the broker's receive maximum
                    if proto.closed:
                        raise proto.closed
                    pid = self._packet_id()
                    future = self._waiting[pid] = asyncio.get_running_loop().create_future()
                    try:
                        proto.transport.write(mf.publish(topic, payload, qos=1, packet_id=pid, retain=retain))
                        code = await future
                    finally:
                        self._waiting.pop(pid, None)
        except TimeoutError:
            raise WireError(f"no PUBACK for a publish to {topic} within {timeout or self.timeout_s} s") from None
        if code >= 0x80:
            raise WireError(f"the broker refused a publish to {topic}: {mf.reason_name(code)}")

    def _packet_id(self) -> int:
        self._next_id = self._next_id % 65535 + 1
        return self._next_id

    async def _keepalive(self) -> None:
        proto = self.protocol
        every = self.keepalive_s / 2
        while proto.closed is None:
            await asyncio.sleep(every)
            if not proto.paused and time.monotonic() - proto.received_at > 1.5 * self.keepalive_s:
                proto.drop(f"nothing from the broker in {1.5 * self.keepalive_s:.0f} s (keepalive)")
                return
            if proto.closed is None:
                proto.transport.write(mf.PINGREQ_FRAME)

    def _lost(self, why: WireError) -> None:
        self._fail_waiting(why)
        if self.on_lost is not None:
            self.on_lost(why)

    def _fail_waiting(self, why: WireError) -> None:
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(WireError(f"no PUBACK: {why}"))

    async def close(self) -> None:
        if self._pinger is not None:
            self._pinger.cancel()
        self._fail_waiting(WireError("the connection closed"))
        proto = self.protocol
        if proto is not None and proto.transport is not None and not proto.transport.is_closing():
            proto.transport.write(mf.disconnect())
            proto.transport.close()
