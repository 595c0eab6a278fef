"""Which MQTT receive path for the bridge's bulk lane: each candidate subscriber alone on a real Mosquitto, fed N
QoS 0 PUBLISHes (hand-encoded, ``simulation/mqtt_wire.py``) as fast as the broker takes them, counting them.

    flock /tmp/redband-heavy.lock .venv/bin/python -m benchmarks.subscriber_candidates [--count 200000]

Prints one JSON object: per candidate its CPU µs per event (the subscriber process's CPU time from subscribed to
the last message ÷ messages) and events/s (messages ÷ first to last message), received of published, and the load
average. Every candidate subscribes ``$share/bench/rb/v1/dev/+/evt`` over MQTT v5 at QoS 1 as the bridge does
(the messages arrive at QoS 0), with no session kept after it (Mosquitto deals a shared subscription's messages to
offline sessions too). Candidates whose library is not installed (gmqtt, mqtt5: ``pip install -e
'.[bench]'``) are reported as skipped. ``+classify`` candidates also run the bridge's ``classify`` on each message
(what the lane does next, before any Ray call).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CANDIDATES = ("aiomqtt", "aiomqtt-tuned", "paho", "gmqtt", "mqtt5", "wire", "aiomqtt-tuned+classify",
              "wire+classify")
TOPIC = "$share/bench/rb/v1/dev/+/evt"
IDLE_S = 3.0


# -- the subscriber process ---------------------------------------------------------------------------------------

class Count:
    def __init__(self, total: int, classify: bool) -> None:
        self.total, self.n, self.first, self.last, self.cpu0 = total, 0, 0.0, 0.0, 0.0
        self.done = threading.Event()
        if classify:
            from protocols.inbound import classify as check
            self.check = check
        else:
            self.check = None

    def start(self) -> None:
        self.cpu0 = time.process_time()
        print(json.dumps({"subscribed": True}), flush=True)

    def tick(self, k: int = 1) -> None:
        now = time.time()
        if not self.n:
            self.first = now
        self.n += k
        self.last = now
        if self.n >= self.total:
            self.done.set()

    def one(self, topic: str, payload: bytes) -> None:
        if self.check is not None:
            self.check(topic, payload)
        self.tick()


async def idle_or_done(count: Count) -> None:
    seen, still = -1, time.monotonic()
    while not count.done.is_set():
        await asyncio.sleep(0.05)
        if count.n != seen:
            seen, still = count.n, time.monotonic()
        elif count.n and time.monotonic() - still > IDLE_S:
            return


async def run_aiomqtt(args, count: Count, tuned: bool) -> None:
    import aiomqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    from paho.mqtt.subscribeoptions import SubscribeOptions
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0
    async with aiomqtt.Client("127.0.0.1", args.port, identifier="bench-aiomqtt", protocol=aiomqtt.ProtocolVersion.V5,
                              clean_start=True, properties=props,
                              max_queued_incoming_messages=200_000 if tuned else 50_000) as client:
        await client.subscribe(TOPIC, options=SubscribeOptions(qos=1))
        count.start()
        queue = client._queue  # the tuned way, as the bridge does: take what is already queued without waiting

        async def consume() -> None:
            async for message in client.messages:
                count.one(message.topic.value, message.payload)
                if tuned:
                    while queue.qsize():
                        m = queue.get_nowait()
                        count.one(m.topic.value, m.payload)

        consumer = asyncio.create_task(consume())
        await idle_or_done(count)
        consumer.cancel()


def run_paho(args, count: Count) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.subscribeoptions import SubscribeOptions
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-paho", protocol=mqtt.MQTTv5)
    client.on_message = lambda c, u, m: count.one(m.topic, m.payload)
    client.on_subscribe = lambda *a: count.start()
    client.connect("127.0.0.1", args.port, clean_start=True)
    client.subscribe(TOPIC, options=SubscribeOptions(qos=1))
    client.loop_start()
    asyncio.run(idle_or_done(count))
    client.loop_stop()


async def run_gmqtt(args, count: Count) -> None:
    import gmqtt
    client = gmqtt.Client("bench-gmqtt", clean_session=True, session_expiry_interval=0)

    def on_message(c, topic, payload, qos, properties):
        count.one(topic, payload)
        return 0

    client.on_message = on_message
    await client.connect("127.0.0.1", args.port)
    client.subscribe(gmqtt.Subscription(TOPIC, qos=1))
    await asyncio.sleep(0.5)  # gmqtt's subscribe does not wait for its SUBACK
    count.start()
    await idle_or_done(count)


async def run_mqtt5(args, count: Count) -> None:
    import mqtt5
    loop = asyncio.get_running_loop()
    subacked = asyncio.Event()

    class Proto(asyncio.Protocol):
        buf = bytearray()

        def data_received(self, data: bytes) -> None:
            self.buf += data
            view, at = memoryview(self.buf), 0
            while True:
                try:
                    packet, n = mqtt5.read(view[at:])
                except IndexError:
                    break
                at += n
                if isinstance(packet, mqtt5.PublishPacket):
                    count.one(packet.topic, packet.payload)
                elif isinstance(packet, mqtt5.SubAckPacket):
                    subacked.set()
            view.release()
            del self.buf[:at]

    transport, _ = await loop.create_connection(Proto, "127.0.0.1", args.port)
    transport.write(mqtt5.ConnectPacket("bench-mqtt5", clean_start=True).write())
    transport.write(mqtt5.SubscribePacket(1, [mqtt5.TopicFilter(TOPIC, max_qos=mqtt5.QoS.AT_LEAST_ONCE)]).write())
    await asyncio.wait_for(subacked.wait(), 10)
    count.start()
    await idle_or_done(count)


async def run_wire(args, count: Count) -> None:
    from actors.bridge_wire import WireClient
    client = WireClient("127.0.0.1", args.port, client_id="bench-wire", username=None, password=None, keepalive_s=30,
                        session_expiry_s=0, receive_maximum=1000, timeout_s=10, max_queued=50_000)
    await client.connect()
    await client.subscribe(TOPIC, qos=1, retain_handling=2)
    count.start()
    reader = asyncio.create_task(idle_or_done(count))
    while not count.done.is_set() and not reader.done():
        frames = await asyncio.wait_for(client.messages(), IDLE_S + 1)
        for topic, payload in zip(frames.topics, frames.payloads):  # as the other candidates: a call per message
            count.one(topic, payload)
    await client.close()


def subscriber(args) -> None:
    name = args.run
    count = Count(args.count, classify=name.endswith("+classify"))
    base = name.removesuffix("+classify")
    if base in ("aiomqtt-tuned", "wire", "gmqtt", "mqtt5"):
        import uvloop
        uvloop.install()
    if base == "paho":
        run_paho(args, count)
    else:
        coro = {"aiomqtt": lambda: run_aiomqtt(args, count, False),
                "aiomqtt-tuned": lambda: run_aiomqtt(args, count, True),
                "gmqtt": lambda: run_gmqtt(args, count), "mqtt5": lambda: run_mqtt5(args, count),
                "wire": lambda: run_wire(args, count)}[base]
        try:
            asyncio.run(coro())
        except TimeoutError:
            pass
    cpu = time.process_time() - count.cpu0
    print(json.dumps({"count": count.n, "cpu_s": round(cpu, 3), "seconds": round(count.last - count.first, 3)}),
          flush=True)
    os._exit(0)  # a client library's threads must not hold the process


# -- the driver ---------------------------------------------------------------------------------------------------

def packets(count: int, devices: int) -> list[bytes]:
    from protocols.device import encode_device_message, make_message
    from simulation.mqtt_wire import publish_packet
    return [publish_packet(f"rb/v1/dev/D{k % devices:05d}/evt", encode_device_message(
        make_message("heartbeat", seq=k // devices + 1, ts=1_700_000_000_000 + k))) for k in range(count)]


async def publish_all(port: int, data: list[bytes]) -> float:
    from simulation.mqtt_wire import open_connection
    _, writer = await open_connection("127.0.0.1", port, "bench-load", username=None, password=None)
    started = time.time()
    for k in range(0, len(data), 2000):
        writer.write(b"".join(data[k:k + 2000]))
        await writer.drain()
    writer.close()
    return time.time() - started


def measure(name: str, port: int, data: list[bytes]) -> dict:
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.subscriber_candidates", "--run", name,
                             "--port", str(port), "--count", str(len(data))], stdout=subprocess.PIPE, text=True)
    first = proc.stdout.readline()
    if not first.startswith('{"subscribed"'):
        proc.kill()
        return {"skipped": f"did not subscribe: {first.strip()[:200] or 'its library is not installed?'}"}
    write_s = asyncio.run(publish_all(port, data))
    out = json.loads(proc.stdout.readline() or "{}")
    proc.wait(30)
    n = out.get("count", 0)
    return {"received": n, "published": len(data), "us_per_event": round(out["cpu_s"] / n * 1e6, 2) if n else None,
            "events_per_s": round(n / out["seconds"]) if out.get("seconds") else None, "cpu_s": out.get("cpu_s"),
            "write_s": round(write_s, 2)}


def importable(name: str) -> bool:
    module = {"gmqtt": "gmqtt", "mqtt5": "mqtt5"}.get(name)
    if module is None:
        return True
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", choices=CANDIDATES)
    parser.add_argument("--port", type=int)
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--only", nargs="*", default=list(CANDIDATES))
    args = parser.parse_args()
    if args.run:
        return subscriber(args)
    from actors.broker import Mosquitto, free_port
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="redband-candidates-"))
    conf = work / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"
                    "max_inflight_messages 1000\nset_tcp_nodelay true\npersistence false\n")
    data = packets(args.count, args.devices)
    results = {"count": args.count, "load_avg_before": os.getloadavg()[0], "candidates": {}}
    with Mosquitto(conf, port=port) as broker:
        for name in args.only:
            base = name.removesuffix("+classify")
            results["candidates"][name] = (measure(name, port, data) if importable(base)
                                           else {"skipped": "not installed (pip install -e '.[bench]')"})
            print(name, results["candidates"][name], file=sys.stderr, flush=True)
        results["broker_log"] = broker.log_tail(3)
    results["load_avg_after"] = os.getloadavg()[0]
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
