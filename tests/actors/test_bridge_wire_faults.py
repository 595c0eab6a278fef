"""The bridge's own receive path (actors/bridge_wire.py, bridge_wire_lane.py) against a broker that fails: one that
stops answering (keepalive), one that closes in the middle of a frame, one whose CONNACK, SUBACK or PUBACK is
malformed, and a lane whose hosts are slow, with reading paused meanwhile, on a healthy broker (no false keepalive
loss). A scripted broker on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from actors.bridge_options import BridgeOptions
from actors.mqtt_bridge import MqttBridge, run_until_stopped
from protocols import mqtt_frames as mf
from protocols.endpoint import MqttEndpoint
from protocols.topics import Channel
from tests.actors.test_bridge_wire import Sink, _heartbeats, answer_connection

DEADLINE_S = 15.0


class Broker:
    """Answers CONNECT and both SUBSCRIBEs, sends its connection's script, then PINGRESPs (unless ``silent``);
    records what each connection sent."""

    def __init__(self, scripts: list[bytes], *, silent: bool = False, close_after_script: bool = False,
                 rest: tuple[bytes, ...] = ()) -> None:
        self.scripts, self.silent, self.close_after_script = scripts, silent, close_after_script
        self.rest = rest
        """Sent on the first connection one after the other, each once the last QoS 1 message before was
        acknowledged."""
        self.seen: list[bytearray] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got = bytearray()
        self.seen.append(got)
        script = self.scripts[min(len(self.seen), len(self.scripts)) - 1]
        out = mf.Frames()
        r = 0

        async def read() -> bool:
            nonlocal r
            chunk = await reader.read(65536)
            got.extend(chunk)
            r = mf.parse(got, r, len(got), out)
            return bool(chunk)

        while not any(kind == 1 for kind, _ in out.control):  # CONNECT
            await read()
        if b"-answers" in got:  # the bridge's answer connection, not a lane's
            self.seen.remove(got)
            await answer_connection(bytes(got), reader, writer)
            return
        writer.write(b"\x20\x03\x00\x00\x00")
        subscribed = 0
        while subscribed < 2:
            for kind, body in out.control[:]:
                if kind == 8:  # SUBSCRIBE
                    writer.write(b"\x90\x04" + body[:2] + b"\x00\x01")
                    subscribed += 1
            out.control.clear()
            if subscribed < 2:
                await read()
        for part in (script, *(self.rest if len(self.seen) == 1 else ())):
            writer.write(part)
            if self.close_after_script or self.rest:  # once its complete frames were acknowledged (or not, in 5 s)
                last = mf.Frames()
                mf.parse(part, 0, len(part), last)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(5):
                        while mf.pubacks(last.acks[-1:]) not in got:
                            await read()
        if self.close_after_script:
            writer.close()
            return
        try:
            while await read():
                pings = sum(1 for kind, _ in out.control if kind == 12)
                out.control.clear()
                if pings and not self.silent:
                    writer.write(b"\xd0\x00" * pings)
        except ConnectionError:
            pass


def _qos1(first: int, last: int) -> bytes:
    """QoS 1 heartbeats of d1 with seq and packet id ``first``..``last``."""
    return _heartbeats("d1", range(first, last + 1), qos=1)


async def _run(broker: Broker, sink: Sink, options: dict, until) -> tuple:
    server = await asyncio.start_server(broker.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    options = {"lanes": ("evt",), **options}
    bridge = MqttBridge(BridgeOptions(MqttEndpoint("127.0.0.1", port, "bridge", "pw"), share_group="rb-test",
                                      poll_commands=False, backoff_cap_s=0.05, connect_timeout_s=2.0, **options),
                        sink)
    running = asyncio.create_task(run_until_stopped(bridge))
    stats = bridge.stats[Channel(options["lanes"][0])]
    started = time.monotonic()
    while not until(sink, stats, bridge) and time.monotonic() - started < DEADLINE_S and not running.done():
        await asyncio.sleep(0.01)  # polling the sink and the lane's counters, bounded by the deadline
    took = time.monotonic() - started
    bridge.stop()
    await asyncio.wait_for(running, DEADLINE_S)
    server.close()
    return stats, took


def test_a_broker_that_stops_answering_is_left_within_twice_the_keepalive_and_connected_to_again():
    broker = Broker([_qos1(1, 5)], silent=True)
    sink = Sink()
    stats, took = asyncio.run(_run(broker, sink, {"keepalive_s": 1}, lambda s, st, _b: st.connects >= 2))
    assert stats.connects >= 2 and "keepalive" in stats.last_error, stats.last_error
    assert took < 2 * 1 + 3.0, took  # detected within 2 keepalives (plus the reconnect, on a busy machine)
    assert {i.message.seq for i in sink.taken} == {1, 2, 3, 4, 5}


def test_a_broker_closing_mid_frame_gets_no_puback_for_it_and_every_message_is_taken_once_resent():
    whole = _qos1(1, 50)
    cut = _qos1(51, 51)
    broker = Broker([whole + cut[:len(cut) // 2], _qos1(51, 60)], close_after_script=True)
    sink = Sink()
    stats, _ = asyncio.run(_run(broker, sink, {}, lambda s, st, _b: len(s.taken) >= 60))
    assert sorted(i.message.seq for i in sink.taken) == list(range(1, 61))
    first = bytes(broker.seen[0])
    assert all(mf.pubacks([pid]) in first for pid in range(1, 51)) and mf.pubacks([51]) not in first
    assert stats.connects >= 2 and "closed by the broker" in stats.last_error


class SlowSink(Sink):
    """Hosts that take ``slow_s`` over their first batch (a journal stalled), then answer at once."""

    def __init__(self, slow_s: float) -> None:
        super().__init__()
        self.slow_s = slow_s

    async def ingest(self, items):
        if self.slow_s:
            slow, self.slow_s = self.slow_s, 0.0
            await asyncio.sleep(slow)  # the stall being simulated, not a synchronisation
        return await super().ingest(items)


def test_slow_hosts_with_reading_paused_do_not_pass_for_a_dead_broker():
    # 11-30 arrive while 1-10 are with the hosts and are taken into the lane's next batches; 31-300 arrive while the
    # lane waits for the hosts: its read-ahead fills and reading pauses
    broker = Broker([_qos1(1, 10)], rest=(_qos1(11, 30), _qos1(31, 300)))
    sink = SlowSink(3.0)  # three keepalives: the lane's reading is paused (its read-ahead full) all that time
    stats, _ = asyncio.run(_run(broker, sink, {"keepalive_s": 1, "max_queued_messages": 20, "batch_max": 10},
                                lambda s, st, _b: len(s.taken) >= 300))
    assert sorted(i.message.seq for i in sink.taken) == list(range(1, 301))
    assert stats.connects == 1 and stats.last_error == "", stats.last_error


@pytest.mark.parametrize("reply, what", [
    (b"\x20\x01\x00", "CONNACK: 1 bytes"),
    (b"\x20\x03\x00\x00\x00\x90\x02\x00\x01", "SUBACK: 2 bytes"),
    (b"\x20\x03\x00\x00\x00\x40\x01\x00", "PUBACK: 1 bytes"),
], ids=["connack", "suback", "puback"])
def test_a_malformed_answer_to_the_handshake_is_a_lost_connection_retried_not_a_dead_bridge(reply, what):
    """Before: a short CONNACK or SUBACK raised out of the bridge (every lane of its process ended)."""
    connections = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connect = await reader.read(4096)  # CONNECT
        if await answer_connection(connect, reader, writer):
            return
        connections.append(connect)
        writer.write(reply)
        with contextlib.suppress(ConnectionError):
            while await reader.read(4096):
                pass

    async def main() -> tuple:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        bridge = MqttBridge(BridgeOptions(MqttEndpoint("127.0.0.1", server.sockets[0].getsockname()[1]),
                                          lanes=("evt",), share_group="rb-test", poll_commands=False,
                                          backoff_cap_s=0.05, connect_timeout_s=2.0), Sink())
        running = asyncio.create_task(run_until_stopped(bridge))
        started = time.monotonic()
        while len(connections) < 3 and time.monotonic() - started < DEADLINE_S and not running.done():
            await asyncio.sleep(0.01)  # polling the broker's count, bounded by the deadline
        alive = not running.done()
        bridge.stop()
        await asyncio.wait_for(running, DEADLINE_S)
        server.close()
        return alive, bridge.stats[Channel.EVT]

    alive, stats = asyncio.run(main())
    assert alive and len(connections) >= 3
    assert stats.last_error.startswith(f"the broker sent a malformed frame: {what}"), stats.last_error


def _padded(first: int, last: int, size: int) -> bytes:
    """QoS 1 heartbeats of d2 of ``size`` bytes each (a field the schema ignores), packet ids from 10001."""
    out = []
    for seq in range(first, last + 1):
        head = b'{"seq":%d,"ts":1700000000000,"kind":"heartbeat","data":{"pad":"' % seq
        payload = head + b"x" * (size - len(head) - 3) + b'"}}'
        topic = b"rb/v1/dev/d2/evt"
        body = len(topic).to_bytes(2, "big") + topic + (10_000 + seq).to_bytes(2, "big") + b"\x00" + payload
        out.append(b"\x32" + mf.length_bytes(len(body)) + body)
    return b"".join(out)


def test_the_read_ahead_is_bounded_in_bytes_too_while_the_hosts_are_slow(monkeypatch):
    """Big messages while the hosts stall: the lane reads ahead at most its bytes bound (plus one read), not
    ``max_queued_messages`` of them (50,000 by default: 800 MB of the broker's largest, 16 KiB, which the bridge
    refuses only once it reads them out of its read-ahead). Nothing is lost."""
    import actors.bridge_wire as wire

    monkeypatch.setattr(wire, "MAX_QUEUED_BYTES", 1 << 20)
    big = _padded(1, 2048, 4000)  # 8 MB of the largest payloads the bridge takes
    broker = Broker([_qos1(1, 10)], rest=(_qos1(11, 30), big))
    sink = SlowSink(1.0)
    peak = 0

    def until(s, stats, bridge) -> bool:
        nonlocal peak
        ahead = bridge._queues.get(Channel.EVT)  # the lane's read-ahead (actors/bridge_wire_lane._ReadAhead)
        proto = ahead.client.protocol if ahead is not None and ahead.client is not None else None
        if proto is not None:
            peak = max(peak, sum(len(p) for p in proto.frames.payloads))
        return len(s.taken) >= 30 + 2048

    stats, _ = asyncio.run(_run(broker, sink, {"max_queued_messages": 50_000}, until))
    assert len(sink.taken) == 30 + 2048 and stats.connects == 1, stats.last_error
    assert 0 < peak <= (1 << 20) + wire.BUFFER, peak


def _alarms(device: str, first: int, last: int, kind: str) -> bytes:
    out = []
    for seq in range(first, last + 1):
        payload = b'{"seq":%d,"ts":1700000000000,"kind":"%s"}' % (seq, kind.encode())
        topic = f"rb/v1/dev/{device}/alarm".encode()
        body = len(topic).to_bytes(2, "big") + topic + b"\x00" + payload
        out.append(b"\x30" + mf.length_bytes(len(body)) + body)
    return b"".join(out)


def test_a_device_flooding_its_alarm_topic_gets_its_share_and_another_devices_alarm_is_taken():
    """A device with valid credentials publishing thousands of alarms: the hosts get at most its burst; the rest is
    NAKed "unavailable, retry" at once; another device's alarm behind the flood reaches the hosts. Before, all of
    the flood went to the hosts first (with the real engine, 200,000 of them held a panic alarm over 90 s)."""
    broker = Broker([_alarms("d1", 1, 2000, "door.forced") + _alarms("d2", 1, 1, "school.panic")])
    sink = Sink()
    stats, _ = asyncio.run(_run(broker, sink, {"lanes": ("alarm",)},
                                lambda s, st, _b: any(i.device_id == "d2" for i in s.taken) and st.refused > 1900))
    flood = [i for i in sink.taken if i.device_id == "d1"]
    assert [i.message.seq for i in sink.taken if i.device_id == "d2"] == [1]
    assert 0 < len(flood) <= 60, len(flood)  # its burst (50), and what refilled meanwhile
    assert stats.naks.get("unavailable", 0) + len(flood) == 2000, stats.naks
