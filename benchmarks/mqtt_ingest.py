"""Device events per second end to end — publisher processes → Mosquitto → bridge → host actors —
against a bare subscriber that only counts the same messages in the same run, and the alarm lane's
latency (publish → incident raised, publish → ack) under that telemetry flood. Prints one JSON object.

    python -m benchmarks.mqtt_ingest [--rate 10000] [--seconds 20] [--publishers 2] [--bridges 1]
                                     [--alarms-per-s 20] [--subscriber-python PATH] [--quick]

``--subscriber-python`` runs the bare subscriber under another interpreter, e.g. a venv with the
aiomqtt 3 pre-release, to compare client libraries on the same flow.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import aiomqtt  # noqa: E402
import numpy as np  # noqa: E402
import uvloop  # noqa: E402

from actors.broker import Mosquitto, free_port  # noqa: E402
from actors.runtime import Engine, EngineOptions  # noqa: E402
from engine.citygen import CitySpec, generate_city  # noqa: E402
from actors.config_files import write_broker_files  # noqa: E402
from engine.mqtt_provision import BRIDGE_USER, SIMULATOR_USER, broker_files  # noqa: E402
from engine.policy import default_policies  # noqa: E402
from protocols.device import encode_device_message, make_message  # noqa: E402
from protocols.endpoint import NO_DELAY, MqttEndpoint  # noqa: E402
from protocols.replies import decode_ack  # noqa: E402
from protocols.topics import Channel, device_topic, subscription  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ALARM_OF = {"panic_box": "school.panic", "door": "door.forced", "camera": "camera.intrusion", "kiosk": "kiosk.sos"}


class AlarmProbe:
    """Publishes one alarm at a time at a steady pace, each from a device not used before, and times its ack."""

    def __init__(self, endpoint: MqttEndpoint, devices: list[tuple[str, str]], per_s: float) -> None:
        self.endpoint, self.devices, self.per_s = endpoint, devices, per_s
        self.published: dict[str, float] = {}  # incident id → publish wall time
        self.acked: dict[str, float] = {}
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: uvloop.run(self._main()), daemon=True)

    def start(self) -> "AlarmProbe":
        self._thread.start()
        if not self._ready.wait(30):
            raise ConnectionError("alarm probe could not connect")
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    async def _main(self) -> None:
        e = self.endpoint
        async with aiomqtt.Client(e.host, e.port, username=e.username, password=e.password,
                                  identifier="bench-probe-pub", socket_options=NO_DELAY) as pub, \
                aiomqtt.Client(e.host, e.port, username=e.username, password=e.password,
                               identifier="bench-probe-acks", socket_options=NO_DELAY) as acks:
            await acks.subscribe(subscription(Channel.ACK), qos=1)
            reader = asyncio.create_task(self._read(acks))
            self._ready.set()
            for device_id, kind in self.devices:
                if self._stop.is_set():
                    break
                message = make_message(ALARM_OF[kind], seq=1, ts=int(time.time() * 1000))
                self.published[f"{device_id}#1"] = time.time()
                await pub.publish(device_topic(device_id, Channel.ALARM), encode_device_message(message), qos=1)
                await asyncio.sleep(1.0 / self.per_s)  # the probe's pace
            deadline = time.time() + 10
            while len(self.acked) < len(self.published) and time.time() < deadline:
                await asyncio.sleep(0.05)  # the last acks, bounded
            reader.cancel()

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            ack = decode_ack(bytes(message.payload))
            if ack.ok and ack.incident:
                self.acked.setdefault(ack.incident, time.time())


def percentiles(values_ms: list[float]) -> dict:
    if not values_ms:
        return {"count": 0}
    a = np.array(values_ms)
    return {"count": len(values_ms), "p50_ms": round(float(np.percentile(a, 50)), 2),
            "p99_ms": round(float(np.percentile(a, 99)), 2), "max_ms": round(float(a.max()), 2)}


def run(args) -> dict:
    city = generate_city(CitySpec(precincts=2, communities=args.communities, schools=100, kiosk_halls=10,
                                  volunteers=args.communities * 10, seed=7))
    work = Path(tempfile.mkdtemp(prefix="redband-bench-"))
    port = free_port()
    files = broker_files(city, work / "broker", port=port, simulator=True)
    write_broker_files(files, work / "broker")
    password = {c.username: c.password for c in files.credentials}
    sim = MqttEndpoint("127.0.0.1", port, SIMULATOR_USER, password[SIMULATOR_USER])
    alarm_devices = [(d.id, d.kind.value) for d in city.devices.values() if d.kind.value in ALARM_OF]
    telemetry = [(d.id, d.kind.value) for d in city.devices.values()]
    alarms_needed = int(args.alarms_per_s * args.seconds)
    probe_devices, telemetry_devices = alarm_devices[:alarms_needed], telemetry
    probe_ids = {d for d, _ in probe_devices}
    telemetry_devices = [t for t in telemetry if t[0] not in probe_ids]  # a probe device's first seq is its alarm
    devices_file = work / "devices.json"
    devices_file.write_text(json.dumps(telemetry_devices))

    with Mosquitto(work / "broker" / "mosquitto.conf", port=port) as broker:
        engine = Engine(city, default_policies(), EngineOptions(
            precinct_hosts=args.hosts, realtime=True, journal_dir=str(work / "journal"),
            mqtt=MqttEndpoint("127.0.0.1", port, BRIDGE_USER, password[BRIDGE_USER]), bridges=args.bridges,
            bridge={"max_in_flight_batches": args.inflight, "batch_window_s": args.window_ms / 1000})).start()
        try:
            bare = subprocess.Popen([args.subscriber_python, str(ROOT / "benchmarks" / "bare_subscriber.py"),
                                     # the simulator user: the broker grants the bridge its share group only
                                     "--port", str(port), "--user", SIMULATOR_USER,
                                     f"--password={password[SIMULATOR_USER]}",  # a password may start with "-"
                                     "--seconds", str(args.seconds + 60)],
                                    stdout=subprocess.PIPE, text=True, cwd=ROOT)
            assert json.loads(bare.stdout.readline()).get("subscribed"), "bare subscriber did not subscribe"
            start_at = time.time() + 3.0 + args.rate * args.seconds / args.publishers / 150_000  # time to pre-encode
            publishers = [subprocess.Popen(
                [sys.executable, "-m", "benchmarks.mqtt_publisher", "--port", str(port), "--user", SIMULATOR_USER,
                 f"--password={password[SIMULATOR_USER]}", "--devices", str(devices_file), "--index", str(i),
                 "--of", str(args.publishers), "--rate", str(args.rate / args.publishers), "--seconds",
                 str(args.seconds), "--start-at", str(start_at)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
                for i in range(args.publishers)]
            base = sum(s.accepted for s in engine.statistics())
            while time.time() < start_at:
                time.sleep(0.05)  # waiting for the agreed start instant
            probe = AlarmProbe(sim, probe_devices, args.alarms_per_s).start()
            samples: list[tuple[float, int]] = []
            published_total = int(args.rate / args.publishers * args.seconds) * args.publishers
            deadline = start_at + args.seconds + 60
            idle_since = None
            while time.time() < deadline:
                accepted = sum(s.accepted for s in engine.statistics()) - base
                now = time.time()
                if samples and accepted == samples[-1][1]:
                    idle_since = idle_since or now
                    if accepted and now - idle_since > 3 and all(p.poll() is not None for p in publishers):
                        break
                else:
                    idle_since = None
                samples.append((now, accepted))
                time.sleep(0.1)  # sampling period of the throughput curve
            probe.stop()
            pub_results = [json.loads(p.communicate(timeout=60)[0].strip().splitlines()[-1]) for p in publishers]
            bare_result = json.loads(bare.communicate(timeout=120)[0].strip().splitlines()[-1])
            raised_ms, ack_ms = [], []
            for incident_id, t_pub in probe.published.items():
                record = engine.incident(incident_id)
                if record is not None:
                    raised_ms.append((record.raised_s - t_pub) * 1000)
                if incident_id in probe.acked:
                    ack_ms.append((probe.acked[incident_id] - t_pub) * 1000)
            bridge_stats = engine.bridge_statistics()
        finally:
            engine.stop()
        broker_log = broker.log_tail(5)

    final = samples[-1][1] if samples else 0
    moving = [(t, n) for t, n in samples if 0 < n < final]
    span = (moving[-1][0] - moving[0][0]) if len(moving) > 1 else 0.0
    engine_rate = (moving[-1][1] - moving[0][1]) / span if span > 0 else 0.0
    telemetry_accepted = final - len(raised_ms)
    published = sum(p["published"] for p in pub_results)
    return {
        "benchmark": "mqtt_ingest",
        "offered_events_per_s": args.rate,
        "seconds": args.seconds,
        "publishers": args.publishers,
        "bridges": args.bridges,
        "bridge_in_flight_batches": args.inflight,
        "batch_window_ms": args.window_ms,
        "hosts": len(engine.placement.hosts),
        "devices": len(city.devices),
        "published": published,
        "expected": published_total,
        "engine_accepted": telemetry_accepted,
        "lost": published - telemetry_accepted,
        "end_to_end_events_per_s": round(engine_rate),
        "bare_subscriber": bare_result,
        "bare_subscriber_events_per_s": round(bare_result["events_per_s"]),
        "ratio": round(engine_rate / bare_result["events_per_s"], 3) if bare_result["events_per_s"] else None,
        "alarm_publish_to_raised": percentiles(raised_ms),
        "alarm_publish_to_ack": percentiles(ack_ms),
        "alarms": {"published": len(probe.published), "acked": len(probe.acked)},
        "publisher_cpu_s_per_event_us": round(1e6 * sum(p["cpu_s"] for p in pub_results) / max(1, published), 2),
        "bridge_stats": bridge_stats,
        "client_lib": f"aiomqtt {aiomqtt.__version__}" if hasattr(aiomqtt, "__version__") else "aiomqtt",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "broker_log_tail": broker_log,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=10_000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--bridges", type=int, default=1)
    parser.add_argument("--hosts", type=int, default=2)
    parser.add_argument("--inflight", type=int, default=1, help="bulk-lane batches in flight per bridge")
    parser.add_argument("--window-ms", type=float, default=2.0, help="a batch closes this long after its first event")
    parser.add_argument("--communities", type=int, default=400)
    parser.add_argument("--alarms-per-s", type=float, default=20)
    parser.add_argument("--subscriber-python", default=sys.executable)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1,000 events/s for 3 s")
    args = parser.parse_args()
    if args.quick:
        args.rate, args.seconds, args.alarms_per_s, args.communities = 1000, 3, 5, 20
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()
