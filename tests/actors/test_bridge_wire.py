"""The bulk lane's own receive path (actors/bridge_wire.py, bridge_wire_lane.py) against a scripted broker on
loopback: persistent session and shared subscription asked for, QoS 1 acknowledged, a malformed frame drops the
connection with its reason and the lane comes back, and nothing read before it is lost."""

from __future__ import annotations

import asyncio
import contextlib
import time

from actors.bridge_options import BridgeOptions
from actors.mqtt_bridge import MqttBridge, run_until_stopped
from protocols import mqtt_frames as mf
from protocols.batch import Ingest, IngestResult
from protocols.device import encode_device_message, make_message
from protocols.endpoint import MqttEndpoint
from protocols.topics import Channel

DEADLINE_S = 10.0


class Sink:
    def __init__(self) -> None:
        self.taken: list[Ingest] = []

    async def ingest(self, items: list[Ingest]) -> IngestResult:
        self.taken += items
        return IngestResult(len(items), 0, 0, [])

    async def states(self, states) -> None:
        pass

    async def take_device_commands(self, wait_s: float = 0.0) -> list:
        await asyncio.sleep(wait_s)
        return []


def _heartbeats(device: str, seqs: range, *, qos: int) -> bytes:
    out = b""
    for seq in seqs:
        payload = encode_device_message(make_message("heartbeat", seq=seq, ts=1_700_000_000_000))
        topic = f"rb/v1/dev/{device}/evt".encode()
        body = len(topic).to_bytes(2, "big") + topic + (seq.to_bytes(2, "big") if qos else b"") + b"\x00" + payload
        out += bytes([0x30 | qos << 1]) + mf.length_bytes(len(body)) + body
    return out


async def answer_connection(connect: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Serve the bridge's answer connection (its client id ends in ``-answers``) if ``connect`` is its CONNECT: a
    CONNACK, then a PUBACK for each QoS 1 publish and a PINGRESP for each PINGREQ. False for a lane's connection."""
    if b"-answers" not in connect:
        return False
    writer.write(b"\x20\x03\x00\x00\x00")
    got, out, r = bytearray(), mf.Frames(), 0
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(65536):
            got += chunk
            r = mf.parse(got, r, len(got), out)
            writer.write(mf.pubacks(out.acks) if out.acks else b"")
            writer.write(b"\xd0\x00" * sum(1 for kind, _ in out.control if kind == 12))
            out.acks.clear()
            out.control.clear()
            out.take()
    return True


class ScriptedBroker:
    """Answers CONNECT and SUBSCRIBE; the first connection then sends ``first`` (ending in a bad frame), later ones
    ``later``. Records what each connection sent."""

    def __init__(self, first: bytes, later: bytes) -> None:
        self.scripts = [first, later]
        self.seen: list[bytearray] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connect = await reader.read(4096)  # CONNECT
        if await answer_connection(connect, reader, writer):
            return
        got = bytearray(connect)
        self.seen.append(got)
        script = self.scripts[min(len(self.seen) - 1, 1)]
        writer.write(b"\x20\x03\x00\x00\x00")
        for _ in range(2):  # evt and state
            while b"\x82" not in got[got.rfind(b"\x10", 0, 1):]:
                got += await reader.read(4096)
            pid = got[got.rindex(b"\x82") + 2:got.rindex(b"\x82") + 4]
            writer.write(b"\x90\x04" + bytes(pid) + b"\x00\x01")
            got[got.rindex(b"\x82")] = 0  # this one is answered
        writer.write(script)
        try:
            while chunk := await reader.read(4096):
                got += chunk
        except ConnectionError:
            pass


def test_a_malformed_frame_drops_the_connection_by_name_and_the_lane_returns_losing_nothing_it_read():
    async def main() -> tuple:
        broker = ScriptedBroker(
            first=_heartbeats("d1", range(1, 301), qos=0) + b"\x30\x0a\x00\x06rb/\xff\xfe/evt\x00",  # not UTF-8
            later=_heartbeats("d1", range(301, 401), qos=0) + _heartbeats("d2", range(1, 11), qos=1))
        server = await asyncio.start_server(broker.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        sink = Sink()
        bridge = MqttBridge(BridgeOptions(MqttEndpoint("127.0.0.1", port, "bridge", "pw"), lanes=("evt",),
                                          share_group="rb-test", poll_commands=False, backoff_cap_s=0.05,
                                          connect_timeout_s=2.0), sink)
        running = asyncio.create_task(run_until_stopped(bridge))
        deadline = time.monotonic() + DEADLINE_S
        while len(sink.taken) < 410 and time.monotonic() < deadline and not running.done():
            await asyncio.sleep(0.01)
        bridge.stop()
        await asyncio.wait_for(running, DEADLINE_S)
        server.close()
        return sink, bridge.stats[Channel.EVT], broker.seen

    sink, stats, seen = asyncio.run(main())
    assert sorted((i.device_id, i.message.seq) for i in sink.taken) == sorted(
        [("d1", s) for s in range(1, 401)] + [("d2", s) for s in range(1, 11)])
    assert stats.connects == 2 and "topic is not UTF-8" in stats.last_error
    first = bytes(seen[0])
    assert b"MQTT\x05" in first and first[first.index(b"MQTT\x05") + 5] & 0x02 == 0  # clean start off
    assert b"\x11\x00\x00\x0e\x10" in first  # session expiry 3600 s: a persistent session
    assert b"$share/rb-test/rb/v1/dev/+/evt" in first and b"$share/rb-test/rb/v1/dev/+/state" in first
    assert all(mf.pubacks([pid]) in seen[1] for pid in range(1, 11))  # each QoS 1 message acknowledged


def test_a_publish_awaiting_its_puback_fails_as_soon_as_the_connection_is_gone():
    from actors.bridge_wire import WireClient, WireError

    async def main() -> float:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(4096)  # CONNECT
            writer.write(b"\x20\x03\x00\x00\x00")
            await reader.read(4096)  # the QoS 1 PUBLISH: no PUBACK, the broker goes away
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        client = WireClient("127.0.0.1", server.sockets[0].getsockname()[1], client_id="c", username=None,
                            password=None, keepalive_s=0, session_expiry_s=0, receive_maximum=10, timeout_s=5.0,
                            max_queued=10)
        await client.connect()
        started = time.monotonic()
        try:
            await client.publish("rb/v1/dev/d1/ack", b"{}", qos=1, timeout=10.0)
        except WireError as exc:
            assert "no PUBACK" in str(exc) or "connection" in str(exc)
        else:
            raise AssertionError("the publish succeeded without a PUBACK")
        await client.close()
        server.close()
        return time.monotonic() - started

    assert asyncio.run(main()) < 5.0  # at once, not at the publish's 10 s timeout (5: a busy 2-core machine)


def test_a_refused_connect_says_the_connacks_reason_even_when_the_broker_closed_at_once():
    from actors.bridge_wire import WireClient, WireError

    async def main() -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(4096)  # CONNECT
            writer.write(b"\x20\x03\x00\x87\x00")  # not authorized, and gone
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        client = WireClient("127.0.0.1", server.sockets[0].getsockname()[1], client_id="c", username="u",
                            password="wrong", keepalive_s=0, session_expiry_s=0, receive_maximum=10, timeout_s=5.0,
                            max_queued=10)
        try:
            await client.connect()
        except WireError as exc:
            return str(exc)
        finally:
            await client.close()
            server.close()
        return "connected"

    assert asyncio.run(main()) == "the broker refused the connection: not authorized"
